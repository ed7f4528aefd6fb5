//! The indexer: a tokio task in `tusk serve` that drains `search_outbox`
//! into the search engine, in batches.
//!
//! One batch: claim due rows (one DB call), rebuild the documents of the
//! tickets they name from the database (one DB call, a few queries), apply
//! them to the engine (one engine call: upserts and deletions together),
//! then delete the rows (one DB call). Several rows for one ticket yield one
//! document; the operation recorded in a row does not matter, since the
//! document always reflects the database when the batch runs (a ticket that
//! is gone or merged is removed from the index).
//!
//! **Nothing lost.** A row is deleted only after the engine accepted the
//! batch. When the engine (or the database) fails, the batch's rows go back
//! to the queue, due after `backoff_initial · 2^(attempts−1)` (at most
//! `backoff_max`, minus up to 20 % jitter), with `last_error` set; they are
//! never given up, so the outbox grows while the engine is down and drains
//! when it is back. Errors are logged and the worker carries on.
//!
//! **No duplicates, no stale overwrite.** Documents are keyed by ticket id,
//! so replaying a row is harmless. A claim leases its rows (`locked_until`,
//! whose exact value is the claim's token: only the claimer may delete
//! them). It skips rows of tickets another claim holds, so two workers (two
//! `tusk serve` on PostgreSQL and Meilisearch) never index one ticket at the
//! same time, and a later change is always written after an earlier one. On
//! PostgreSQL, claims are serialised by a transaction-scoped advisory lock
//! and take rows `FOR UPDATE SKIP LOCKED`; on SQLite, by `BEGIN IMMEDIATE`.
//! A lease that expires (a crashed worker) makes its rows due again.
//!
//! Row kinds: `entity_type` `ticket` (the domain writes these); also
//! `institution`, `instance` and `contact`, which stand for every ticket of
//! that record (for renames); unknown kinds are logged and dropped.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tokio::sync::watch;

use super::{IndexBatch, Search, document};
use crate::config::Config;
use crate::db::models::SearchOutboxRow;
use crate::db::schema::{search_outbox, tickets};
use crate::db::{AnyConnection, ContactId, Db, InstanceId, InstitutionId, TicketId, now, truncate_micros};
use crate::error::AppResult;

/// Longest `last_error` kept.
const MAX_ERROR_CHARS: usize = 2000;
/// Key of the advisory lock serialising claims on PostgreSQL ("tusksrch").
const CLAIM_LOCK_KEY: i64 = 0x7475_736b_7372_6368;

/// How the indexer runs.
#[derive(Debug, Clone)]
pub struct IndexerSettings {
    /// Outbox rows claimed at once.
    pub batch_size: i64,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Plan tier of tickets with neither instance nor institution.
    pub default_plan: String,
}

impl IndexerSettings {
    /// From `[search.worker]` and `support.default_plan`.
    pub fn from_config(config: &Config) -> IndexerSettings {
        let w = &config.search.worker;
        IndexerSettings {
            batch_size: i64::from(w.batch_size),
            poll_interval: Duration::from_millis(w.poll_interval_ms),
            lease: Duration::from_secs(w.lease_secs),
            backoff_initial: Duration::from_millis(w.backoff_initial_ms),
            backoff_max: Duration::from_secs(w.backoff_max_secs),
            default_plan: config.support.default_plan.clone(),
        }
    }

    /// Delay before the next try after `attempts` tries (≥ 1), with `jitter`
    /// in `[0, 1)` taking off up to a fifth.
    pub fn backoff(&self, attempts: i32, jitter: f64) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
        let full = self.backoff_initial.saturating_mul(1u32 << exponent).min(self.backoff_max);
        full.mul_f64(1.0 - 0.2 * jitter.clamp(0.0, 1.0))
    }
}

/// What one or more batches did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Outbox rows claimed.
    pub claimed: usize,
    /// Documents written.
    pub indexed: usize,
    /// Documents removed (tickets gone or merged).
    pub removed: usize,
    /// Rows put back for a later try.
    pub deferred: usize,
}

impl BatchReport {
    fn add(&mut self, other: BatchReport) {
        self.claimed += other.claimed;
        self.indexed += other.indexed;
        self.removed += other.removed;
        self.deferred += other.deferred;
    }
}

// ---------------------------------------------------------------------------
// The outbox as a queue.

/// Claims up to `limit` due rows, skipping tickets another claim holds, and
/// leases them until `lease_until` (the claim's token), counting the try.
pub fn claim(
    conn: &mut AnyConnection,
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> AppResult<Vec<SearchOutboxRow>> {
    fn pick(
        conn: &mut AnyConnection,
        limit: i64,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
    ) -> Result<Vec<SearchOutboxRow>, diesel::result::Error> {
        let held: Vec<(String, i64)> = search_outbox::table
            .filter(search_outbox::locked_until.ge(now))
            .select((search_outbox::entity_type, search_outbox::entity_id))
            .distinct()
            .load(conn)?;
        let due = search_outbox::next_attempt_at
            .le(now)
            .and(search_outbox::locked_until.is_null().or(search_outbox::locked_until.lt(now)));
        // Over-fetch so that rows of held tickets do not starve the batch.
        let candidates: Vec<(i64, String, i64)> = match conn {
            AnyConnection::Postgresql(pg) => search_outbox::table
                .filter(due)
                .order((search_outbox::next_attempt_at.asc(), search_outbox::id.asc()))
                .limit(limit.saturating_mul(2).saturating_add(held.len() as i64))
                .select((search_outbox::id, search_outbox::entity_type, search_outbox::entity_id))
                .for_update()
                .skip_locked()
                .load(pg)?,
            AnyConnection::Sqlite(lite) => search_outbox::table
                .filter(due)
                .order((search_outbox::next_attempt_at.asc(), search_outbox::id.asc()))
                .limit(limit.saturating_mul(2).saturating_add(held.len() as i64))
                .select((search_outbox::id, search_outbox::entity_type, search_outbox::entity_id))
                .load(lite)?,
        };
        let ids: Vec<i64> = candidates
            .into_iter()
            .filter(|(_, kind, entity)| !held.iter().any(|(k, e)| k == kind && e == entity))
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|(id, _, _)| id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(search_outbox::table.filter(search_outbox::id.eq_any(&ids)).filter(due))
            .set((
                search_outbox::locked_until.eq(Some(lease_until)),
                search_outbox::attempts.eq(search_outbox::attempts + 1),
            ))
            .execute(conn)?;
        search_outbox::table
            .filter(search_outbox::id.eq_any(&ids))
            .filter(search_outbox::locked_until.eq(Some(lease_until)))
            .order(search_outbox::id.asc())
            .select(SearchOutboxRow::as_select())
            .load(conn)
    }
    let rows = match conn {
        AnyConnection::Postgresql(_) => conn.transaction(|conn| {
            conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK_KEY})"))?;
            pick(conn, limit, now, lease_until)
        })?,
        AnyConnection::Sqlite(_) => crate::db::write_transaction(conn, |conn| pick(conn, limit, now, lease_until))?,
    };
    Ok(rows)
}

/// Deletes rows this claim (`lease`) still holds: their change is indexed.
pub fn complete(conn: &mut AnyConnection, ids: &[i64], lease: NaiveDateTime) -> AppResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(
        search_outbox::table.filter(search_outbox::id.eq_any(ids)).filter(search_outbox::locked_until.eq(Some(lease))),
    )
    .execute(conn)?)
}

/// Puts rows this claim holds back in the queue, due at `next_attempt_at`.
pub fn defer(
    conn: &mut AnyConnection,
    ids: &[i64],
    lease: NaiveDateTime,
    error: &str,
    next_attempt_at: NaiveDateTime,
) -> AppResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    Ok(diesel::update(
        search_outbox::table.filter(search_outbox::id.eq_any(ids)).filter(search_outbox::locked_until.eq(Some(lease))),
    )
    .set((
        search_outbox::locked_until.eq(None::<NaiveDateTime>),
        search_outbox::next_attempt_at.eq(next_attempt_at),
        search_outbox::last_error.eq(Some(error)),
    ))
    .execute(conn)?)
}

/// The tickets a set of rows stands for, and the rows of unknown kinds.
fn tickets_of(conn: &mut AnyConnection, rows: &[SearchOutboxRow]) -> AppResult<(Vec<TicketId>, Vec<i64>)> {
    let mut ids = BTreeSet::new();
    let mut unknown = Vec::new();
    for row in rows {
        match row.entity_type.as_str() {
            "ticket" => {
                ids.insert(TicketId(row.entity_id));
            }
            "institution" => ids.extend(
                tickets::table
                    .filter(tickets::institution_id.eq(InstitutionId(row.entity_id)))
                    .select(tickets::id)
                    .load::<TicketId>(conn)?,
            ),
            "instance" => ids.extend(
                tickets::table
                    .filter(tickets::instance_id.eq(InstanceId(row.entity_id)))
                    .select(tickets::id)
                    .load::<TicketId>(conn)?,
            ),
            "contact" => ids.extend(
                tickets::table
                    .filter(tickets::requester_id.eq(ContactId(row.entity_id)))
                    .select(tickets::id)
                    .load::<TicketId>(conn)?,
            ),
            other => {
                tracing::warn!(outbox_id = row.id, entity_type = other, "search outbox: unknown entity type, dropped");
                unknown.push(row.id);
            }
        }
    }
    Ok((ids.into_iter().collect(), unknown))
}

// ---------------------------------------------------------------------------
// The worker.

/// The indexer. Cheap to clone.
#[derive(Clone)]
pub struct Indexer {
    db: Db,
    engine: Arc<dyn Search>,
    settings: Arc<IndexerSettings>,
    prepared: Arc<AtomicBool>,
}

/// A running indexer; [`IndexerHandle::shutdown`] stops it.
pub struct IndexerHandle {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl IndexerHandle {
    /// Lets the current batch finish, then stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.join.await {
            tracing::warn!(error = %e, "search indexer task ended abnormally");
        }
    }
}

impl Indexer {
    pub fn new(db: Db, engine: Arc<dyn Search>, settings: IndexerSettings) -> Indexer {
        Indexer { db, engine, settings: Arc::new(settings), prepared: Arc::new(AtomicBool::new(false)) }
    }

    pub fn settings(&self) -> &IndexerSettings {
        &self.settings
    }

    /// Runs batches until told to stop: at once while batches come back full,
    /// else every `poll_interval`.
    pub fn spawn(self) -> IndexerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let join = tokio::spawn(async move {
            tracing::info!(engine = self.engine.kind(), "search indexer started");
            loop {
                if *stopped.borrow() {
                    break;
                }
                let worker = self.clone();
                let full = match tokio::spawn(async move { worker.run_once().await }).await {
                    Ok(Ok(report)) => report.claimed as i64 >= self.settings.batch_size && report.deferred == 0,
                    Ok(Err(e)) => {
                        tracing::warn!(error = ?e, "search indexer: batch failed");
                        false
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "search indexer: batch panicked");
                        false
                    }
                };
                if !full {
                    tokio::select! {
                        _ = stopped.changed() => {}
                        _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    }
                }
            }
            tracing::info!("search indexer stopped");
        });
        IndexerHandle { stop, join }
    }

    /// Runs batches until none is due; returns the totals. Rows waiting for
    /// a later retry are left alone. Tests and benchmarks use it.
    pub async fn run_until_idle(&self) -> AppResult<BatchReport> {
        let mut total = BatchReport::default();
        loop {
            let report = self.run_once().await?;
            total.add(report);
            if report.claimed == 0 || report.deferred > 0 {
                return Ok(total);
            }
        }
    }

    /// Claims, rebuilds, applies and records one batch.
    pub async fn run_once(&self) -> AppResult<BatchReport> {
        if !self.prepared.load(Ordering::Acquire) {
            self.engine.prepare().await?;
            self.prepared.store(true, Ordering::Release);
        }
        let settings = self.settings.clone();
        let lease = chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::minutes(1));
        // A lease value unique to this claim: the token that lets only this
        // claim complete or defer its rows.
        let token = truncate_micros(now() + lease + chrono::Duration::microseconds(rand::random_range(0..1_000_000)));
        let rows = self.db.run(move |conn| claim(conn, settings.batch_size, now(), token)).await?;
        if rows.is_empty() {
            return Ok(BatchReport::default());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(1);
        let default_plan = self.settings.default_plan.clone();
        let loaded = self
            .db
            .run(move |conn| {
                let (tickets, unknown) = tickets_of(conn, &rows)?;
                complete(conn, &unknown, token)?;
                Ok((document::load(conn, &tickets, &default_plan)?, unknown))
            })
            .await;
        let outcome = match loaded {
            Ok((loaded, unknown)) => {
                let indexed = loaded.docs.len();
                let removed = loaded.gone.len();
                let batch = IndexBatch { upserts: loaded.docs, deletes: loaded.gone };
                self.engine.apply(batch).await.map(|()| (indexed, removed, unknown))
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok((indexed, removed, unknown)) => {
                let done: Vec<i64> = ids.iter().copied().filter(|id| !unknown.contains(id)).collect();
                self.db.run(move |conn| complete(conn, &done, token)).await?;
                Ok(BatchReport { claimed: ids.len(), indexed, removed, deferred: 0 })
            }
            Err(e) => {
                let reason = match e.cause() {
                    Some(cause) => format!("{}: {cause:#}", e.message()),
                    None => e.message().to_string(),
                };
                let delay = self.settings.backoff(attempts, rand::random::<f64>());
                tracing::warn!(rows = ids.len(), attempts, %reason, retry_in_ms = delay.as_millis() as u64, "search index update deferred");
                let next = now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(5));
                let deferred = self.db.run(move |conn| defer(conn, &ids, token, &reason, next)).await?;
                Ok(BatchReport { claimed: deferred, indexed: 0, removed: 0, deferred })
            }
        }
    }
}

/// Rows waiting in the outbox and the most tries any of them has had.
pub fn backlog(conn: &mut AnyConnection) -> AppResult<(i64, i32)> {
    let rows: i64 = search_outbox::table.count().get_result(conn)?;
    let attempts: Option<i32> = search_outbox::table.select(diesel::dsl::max(search_outbox::attempts)).first(conn)?;
    Ok((rows, attempts.unwrap_or(0)))
}

/// Makes every row due now (tests; an operator after fixing the engine).
pub fn retry_now(conn: &mut AnyConnection) -> AppResult<usize> {
    Ok(diesel::update(search_outbox::table.filter(search_outbox::locked_until.is_null()))
        .set(search_outbox::next_attempt_at.eq(now()))
        .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = IndexerSettings {
            batch_size: 10,
            poll_interval: Duration::from_millis(100),
            lease: Duration::from_secs(60),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            default_plan: "single".into(),
        };
        assert_eq!(s.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(s.backoff(4, 0.0), Duration::from_secs(8));
        assert_eq!(s.backoff(40, 0.0), Duration::from_secs(300));
        assert_eq!(s.backoff(2, 1.0), Duration::from_millis(1600));
    }
}
