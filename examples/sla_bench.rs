//! Times the SLA evaluator on a seeded database:
//! `cargo run --release --example sla_bench -- URL [TICKETS]`, e.g.
//! `sqlite:///tmp/sla.db 100000`. Migrates, seeds TICKETS tickets with
//! `tusk::seed::run` when the database has none (the seed writes each
//! ticket's SLA row as of the seeding), then times: a first pass over the
//! tickets changed since their clocks were computed or reaching a check
//! instant (rows, segments, due notices), a steady-state pass at the same
//! instant (what `tusk serve` does every 30 s when nothing changed), and the
//! "due soon / breached" queue query.
//!
//! About 6 % of seeded tickets are open. To evaluate as many open tickets as
//! were seeded, reopen them all between runs (and, on PostgreSQL, refresh
//! the planner statistics, as autovacuum would):
//!
//! ```sql
//! UPDATE tickets SET status = 'open', solved_at = NULL, closed_at = NULL,
//!     updated_at = CURRENT_TIMESTAMP WHERE status IN ('solved', 'closed');
//! VACUUM ANALYZE; -- PostgreSQL
//! ```
//! The next run's first pass then recomputes every clock.

use std::time::Instant;

use diesel::prelude::*;
use tusk::sla::evaluator::{self, EvaluatorOptions};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or_else(|| anyhow::anyhow!("usage: sla_bench URL [TICKETS]"))?;
    let tickets: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let db = tusk::db::Db::connect(&url, &tusk::db::DbOptions::default())?;
    db.migrate()?;
    let config = tusk::config::Config::defaults()?;
    let plans = tusk::domain::Plans::from_config(&config);
    let mut conn = db.get()?;
    let existing: i64 = tusk::db::schema::tickets::table.count().get_result(&mut *conn)?;
    if existing == 0 {
        let options = tusk::seed::SeedOptions { tickets, rng_seed: 42, progress: true };
        tusk::seed::run(&db, &plans, &options)?;
    }
    let open: i64 = tusk::db::schema::tickets::table
        .filter(tusk::db::schema::tickets::status.ne_all(["solved", "closed"]))
        .count()
        .get_result(&mut *conn)?;
    let policies = tusk::sla::policy::SlaPolicies::from_config(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = EvaluatorOptions { batch: 1_000_000, ..EvaluatorOptions::from_config(&config) };
    let now = chrono::Utc::now();
    let started = Instant::now();
    let first = evaluator::evaluate(&mut conn, &policies, &options, now)?;
    let first_secs = started.elapsed().as_secs_f64();
    println!(
        "first pass: {} tickets ({open} open) in {first_secs:.2} s = {:.0} tickets/s; {} warnings, {} breaches",
        first.refreshed,
        first.refreshed as f64 / first_secs,
        first.warnings,
        first.breaches
    );
    let started = Instant::now();
    let steady = evaluator::evaluate(&mut conn, &policies, &options, now)?;
    println!(
        "steady pass over {open} open tickets: {} refreshed in {:.1} ms",
        steady.refreshed,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let started = Instant::now();
    let due = evaluator::due_soon(&mut conn, now, chrono::Duration::hours(4), 100)?;
    println!("due-soon queue (100 of them): {} rows in {:.1} ms", due.len(), started.elapsed().as_secs_f64() * 1000.0);
    Ok(())
}
