//! Embedded search benchmark: indexing throughput, query latency
//! percentiles, index size on disk.
//!
//! ```text
//! cargo bench --bench search                      # 10,000 tickets, 50,000 messages
//! TUSK_BENCH_TICKETS=100000 TUSK_BENCH_MESSAGES=500000 cargo bench --bench search
//! ```
//! 1. Seeds a fresh SQLite database with `tusk seed`'s generator
//!    (`TUSK_BENCH_TICKETS` tickets), then copies existing messages onto
//!    their tickets until there are `TUSK_BENCH_MESSAGES` messages (the
//!    generator writes about 3.5 per ticket).
//! 2. Indexing: `tusk search reindex`'s code path (read tickets in chunks,
//!    build documents, write a new tantivy index, publish); messages/s.
//! 3. Queries: a mix of words, two-word queries, typos, prefixes, filters,
//!    the customer scope and recency sort, each run `TUSK_BENCH_ROUNDS`
//!    times (default 100) after one warm-up round; p50/p95/p99 per kind and
//!    overall, with hits and totals checked non-empty.
//!
//! `TUSK_BENCH_DIR` keeps the data in that directory (reused when it already
//! holds a seeded database: only the index is rebuilt).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tusk::db::{ContactId, Db, DbOptions, Priority, TicketStatus};
use tusk::search::embedded::{Embedded, EmbeddedOptions};
use tusk::search::{Filters, Scope, Search, SearchRequest, SortOrder};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn count(conn: &mut tusk::db::AnyConnection, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(conn).map(|r| r.n).unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> anyhow::Result<()> {
    let tickets = env_u64("TUSK_BENCH_TICKETS", 10_000);
    let messages = env_u64("TUSK_BENCH_MESSAGES", tickets * 5);
    let rounds = env_u64("TUSK_BENCH_ROUNDS", 100);
    let (_tmp, dir): (Option<tempfile::TempDir>, PathBuf) = match std::env::var("TUSK_BENCH_DIR") {
        Ok(d) => (None, PathBuf::from(d)),
        Err(_) => {
            let t = tempfile::tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let db = Db::connect(&url, &DbOptions { sqlite_synchronous_full: false, ..DbOptions::default() })?;
    db.migrate()?;

    // 1. Data.
    let existing = count(&mut *db.get()?, "tickets");
    if existing == 0 {
        let started = Instant::now();
        let config = tusk::Config::defaults()?;
        let plans = tusk::domain::Plans::from_config(&config);
        tusk::seed::run(&db, &plans, &tusk::seed::SeedOptions { tickets, rng_seed: 42, progress: false })?;
        let mut conn = db.get()?;
        loop {
            let have = count(&mut conn, "messages");
            let missing = i64::try_from(messages).unwrap_or(0) - have;
            if missing <= 0 {
                break;
            }
            conn.batch_execute(&format!(
                "INSERT INTO messages (ticket_id, kind, author_contact_id, author_agent_id, body_text, message_id, created_at) \
                 SELECT ticket_id, kind, author_contact_id, author_agent_id, body_text, message_id || '.copy' || id, created_at \
                 FROM messages ORDER BY id LIMIT {}",
                missing.min(have)
            ))?;
        }
        println!(
            "data: seeded {} tickets, {} messages in {:.1} s",
            count(&mut conn, "tickets"),
            count(&mut conn, "messages"),
            started.elapsed().as_secs_f64()
        );
    } else {
        println!(
            "data: reusing {existing} tickets, {} messages in {}",
            count(&mut *db.get()?, "messages"),
            dir.display()
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let engine = Arc::new(
        Embedded::open(&dir.join("search"), EmbeddedOptions::default()).map_err(|e| anyhow::anyhow!("{e:?}"))?,
    );

    // 2. Indexing.
    let report = rt
        .block_on(tusk::search::reindex::run(&db, engine.as_ref(), "single", false))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!(
        "indexing: {} tickets, {} messages in {:.2} s = {:.0} messages/s ({:.0} tickets/s)",
        report.tickets,
        report.messages,
        report.elapsed.as_secs_f64(),
        report.messages_per_sec(),
        report.tickets as f64 / report.elapsed.as_secs_f64().max(0.001)
    );
    let docs = rt.block_on(engine.count()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!(
        "index size on disk: {:.1} MiB for {docs} documents ({})",
        engine.size_on_disk() as f64 / (1024.0 * 1024.0),
        engine.root().display()
    );

    // 3. Queries.
    let (customer, institution): (i64, Option<i64>) = {
        use tusk::db::schema::tickets;
        let mut conn = db.get()?;
        tickets::table
            .select((tickets::requester_id, tickets::institution_id))
            .order(tickets::id.asc())
            .first::<(ContactId, Option<tusk::db::InstitutionId>)>(&mut *conn)
            .map(|(c, i)| (c.0, i.map(|i| i.0)))?
    };
    let q = |text: &str| SearchRequest::agent(text);
    let mut recent = q("");
    recent.sort = SortOrder::Recent;
    let mut recent_text = q("federation");
    recent_text.sort = SortOrder::Recent;
    let filtered = SearchRequest {
        filters: Filters {
            statuses: vec![TicketStatus::Open, TicketStatus::Pending, TicketStatus::New],
            priorities: vec![Priority::High, Priority::Urgent],
            ..Filters::default()
        },
        ..q("certificate")
    };
    let mut deep = q("posts");
    deep.page = 20;
    let customer_scope = SearchRequest {
        scope: Scope::Customer {
            contact_id: ContactId(customer),
            institution_id: institution.map(tusk::db::InstitutionId),
        },
        ..q("federation")
    };
    let queries: Vec<(&str, SearchRequest)> = vec![
        ("one word", q("federation ")),
        ("one rare word", q("signatures ")),
        ("two words", q("push queue ")),
        ("three words", q("remote follows pending")),
        ("typo", q("federatoin ")),
        ("typo + word", q("sidekik queue ")),
        ("prefix", q("certif")),
        ("short prefix", q("fe")),
        ("words + filters", filtered),
        ("recency, no text", recent),
        ("recency + word", recent_text),
        ("page 20", deep),
        ("customer scope", customer_scope),
        ("institution name", q("greywater college")),
    ];
    let mut all = Vec::new();
    println!("query latency ({rounds} runs each, after a warm-up run):");
    println!("  {:<18} {:>9} {:>9} {:>9} {:>9}  {:>8}", "query", "p50", "p95", "p99", "max", "total");
    for (name, request) in &queries {
        let warm = rt.block_on(engine.search(request.clone())).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut times = Vec::with_capacity(rounds as usize);
        for _ in 0..rounds {
            let started = Instant::now();
            let r = rt.block_on(engine.search(request.clone())).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            times.push(started.elapsed());
            assert_eq!(r.total, warm.total);
        }
        times.sort();
        println!(
            "  {:<18} {:>9} {:>9} {:>9} {:>9}  {:>8}",
            name,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap_or(&Duration::ZERO)),
            warm.total
        );
        all.extend(times);
    }
    all.sort();
    println!(
        "  {:<18} {:>9} {:>9} {:>9} {:>9}  ({} queries)",
        "ALL",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.95)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap_or(&Duration::ZERO)),
        all.len()
    );
    Ok(())
}
