//! `tusk search reindex`: rebuilds the whole index from the database while
//! Tusk keeps serving (and indexing) with the old one.
//!
//! 1. Note the start time `T0`.
//! 2. Build a complete new index next to the serving one
//!    ([`super::Search::begin_rebuild`]): the embedded engine writes a fresh
//!    directory with its own writer (tantivy allows one writer per
//!    directory, and the serving indexer holds the old one's); Meilisearch
//!    fills a fresh index `<index>_rebuild_<id>`. Tickets are read in id
//!    order, a chunk at a time, so memory stays flat.
//! 3. Publish it atomically: the embedded engine replaces its `CURRENT`
//!    pointer (the serving process moves to the new directory before its
//!    next indexer batch); Meilisearch swaps the two indexes in one task and
//!    deletes the old one.
//! 4. Replay: every ticket with an event since `T0 − 1 min` is queued for
//!    indexing again (`search_outbox` rows). A change committed while
//!    step 2 ran may have reached only the old index (or been read by the
//!    build before it was committed); the serving indexer now writes it to
//!    the new one. Every ticket change writes an event in its transaction,
//!    and the minute of margin covers transactions in flight at `T0`.

use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::{Search, document};
use crate::db::schema::events;
use crate::db::{Db, SearchOp, TicketId, now};
use crate::error::AppResult;

/// Tickets read and indexed per round.
pub const CHUNK: i64 = 1000;
/// Margin before the start for replayed changes.
const REPLAY_MARGIN_SECS: i64 = 60;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReindexReport {
    pub tickets: u64,
    pub messages: u64,
    /// Tickets changed during the rebuild, queued again.
    pub replayed: u64,
    pub elapsed: Duration,
}

impl ReindexReport {
    pub fn messages_per_sec(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// Rebuilds `engine`'s index from `db`.
pub async fn run(db: &Db, engine: &dyn Search, default_plan: &str, progress: bool) -> AppResult<ReindexReport> {
    let started = Instant::now();
    let since = now() - chrono::Duration::seconds(REPLAY_MARGIN_SECS);
    // Also by id: imports of history write events with past times.
    let last_event: i64 = db
        .run(|conn| Ok(events::table.select(diesel::dsl::max(events::id)).first::<Option<i64>>(conn)?.unwrap_or(0)))
        .await?;
    engine.prepare().await?;
    let total = db.run(document::live_count).await?;
    let bar = progress_bar(u64::try_from(total).unwrap_or(0), progress);
    let mut rebuild = engine.begin_rebuild().await?;
    let mut report = ReindexReport::default();
    let mut after = 0i64;
    // Read the next chunk while the engine takes the current one.
    let mut next = Some(read_chunk(db, after, default_plan.to_string()));
    while let Some(pending) = next.take() {
        let (ids, loaded) =
            pending.await.map_err(|e| crate::AppError::internal(anyhow::anyhow!("reading tickets failed: {e}")))??;
        let Some(last) = ids.last() else { break };
        after = last.0;
        next = Some(read_chunk(db, after, default_plan.to_string()));
        report.tickets += loaded.docs.len() as u64;
        report.messages += loaded.messages;
        bar.inc(ids.len() as u64);
        rebuild.add(loaded.docs).await?;
    }
    bar.set_message("publishing");
    rebuild.publish().await?;
    report.replayed = db
        .run(move |conn| {
            let changed: Vec<Option<TicketId>> = events::table
                .filter(events::created_at.ge(since).or(events::id.gt(last_event)))
                .filter(events::ticket_id.is_not_null())
                .select(events::ticket_id)
                .distinct()
                .load(conn)?;
            let at = now();
            crate::db::write_transaction(conn, |conn| {
                for id in changed.iter().flatten() {
                    crate::domain::outbox::enqueue_ticket_index(conn, *id, SearchOp::Upsert, at)?;
                }
                Ok::<_, crate::AppError>(changed.len() as u64)
            })
        })
        .await?;
    bar.finish_and_clear();
    report.elapsed = started.elapsed();
    Ok(report)
}

type Chunk = (Vec<TicketId>, document::Loaded);

fn read_chunk(db: &Db, after: i64, default_plan: String) -> tokio::task::JoinHandle<AppResult<Chunk>> {
    let db = db.clone();
    tokio::spawn(async move {
        db.run(move |conn| {
            let ids = document::live_ids_after(conn, after, CHUNK)?;
            let loaded = document::load(conn, &ids, &default_plan)?;
            Ok((ids, loaded))
        })
        .await
    })
}

fn progress_bar(total: u64, progress: bool) -> indicatif::ProgressBar {
    if !progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} tickets ({per_sec}, {eta} left) {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
}
