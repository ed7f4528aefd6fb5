//! Times `tusk::seed::run` on a database, for the figures in the seed
//! documentation: `cargo run --release --example seed_bench -- URL [TICKETS] [RNG_SEED]`,
//! e.g. `sqlite:///tmp/seed.db 1000000`. Migrates the database first.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or_else(|| anyhow::anyhow!("usage: seed_bench URL [TICKETS] [RNG_SEED]"))?;
    let tickets: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    let rng_seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(42);
    let db = tusk::db::Db::connect(&url, &tusk::db::DbOptions::default())?;
    db.migrate()?;
    let plans = tusk::domain::Plans::new(vec!["managed".into(), "single".into()], "single");
    let options = tusk::seed::SeedOptions { tickets, rng_seed, progress: true };
    let started = Instant::now();
    let report = tusk::seed::run(&db, &plans, &options)?;
    let secs = started.elapsed().as_secs_f64();
    println!("{}", serde_json::to_string(&report)?);
    println!(
        "{} tickets, {} messages in {secs:.1} s: {:.0} tickets/s, {:.0} messages/s",
        report.tickets,
        report.messages,
        report.tickets as f64 / secs,
        report.messages as f64 / secs
    );
    Ok(())
}
