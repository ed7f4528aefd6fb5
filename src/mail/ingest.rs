//! `tusk ingest PATH...`: streams messages out of .eml files, directories,
//! mbox files and Maildirs through the inbound pipeline.
//!
//! Three stages keep memory bounded by a few messages and both cores busy:
//! one reader thread splits the sources, worker threads store and parse
//! (`Intake::prepare`), and the calling thread writes receipts and decides
//! (`Intake::commit`) strictly in source order, so that a reply that
//! follows its original in a mailbox threads onto it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};

use diesel::connection::SimpleConnection;
use indicatif::{ProgressBar, ProgressStyle};

use super::inbound::{self, SourceMessage};
use super::intake::{IngestSummary, Intake, Prepared};
use crate::domain::intake::IntakeSource;
use crate::error::{AppError, AppResult};

/// Options of an ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub progress: bool,
    /// Parallel store-and-parse workers (at least 1).
    pub workers: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            progress: false,
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4),
        }
    }
}

/// A source message that could not be read (bad file), reported by origin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unreadable {
    pub origin: String,
    pub reason: String,
}

/// What an ingest run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    pub summary: IngestSummary,
    pub unreadable: Vec<Unreadable>,
    /// The receipt ids of every message, in source order.
    pub inbound_ids: Vec<i64>,
}

fn total_bytes(paths: &[PathBuf]) -> u64 {
    fn walk(p: &Path) -> u64 {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() => m.len(),
            Ok(m) if m.is_dir() => {
                std::fs::read_dir(p).map(|rd| rd.flatten().map(|e| walk(&e.path())).sum()).unwrap_or(0)
            }
            _ => 0,
        }
    }
    paths.iter().map(|p| walk(p)).sum()
}

enum Item {
    Message { seq: u64, origin: String, raw: Vec<u8> },
    Unreadable { seq: u64, origin: String, reason: String },
}

enum Done {
    Prepared { seq: u64, origin: String, size: usize, prepared: Box<AppResult<Prepared>> },
    Unreadable { seq: u64, origin: String, reason: String },
}

impl Done {
    fn seq(&self) -> u64 {
        match self {
            Done::Prepared { seq, .. } | Done::Unreadable { seq, .. } => *seq,
        }
    }
}

/// Ingests every message under `paths`.
pub fn run(intake: &Intake, paths: &[PathBuf], options: &IngestOptions) -> AppResult<IngestReport> {
    for p in paths {
        if !p.exists() {
            return Err(AppError::invalid(format!("{}: no such file or directory", p.display())));
        }
    }
    let bar = if options.progress {
        let bar = ProgressBar::new(total_bytes(paths));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let workers = options.workers.max(1);
    let (item_tx, item_rx) = sync_channel::<Item>(workers * 8);
    let item_rx = std::sync::Arc::new(std::sync::Mutex::new(item_rx));
    let (done_tx, done_rx) = sync_channel::<Done>(workers * 8);
    let mut report = IngestReport::default();

    std::thread::scope(|scope| {
        let paths = paths.to_vec();
        scope.spawn(move || read_sources(&paths, &item_tx));
        for _ in 0..workers {
            let rx = item_rx.clone();
            let tx = done_tx.clone();
            let intake = intake.clone();
            scope.spawn(move || {
                loop {
                    let next = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(item) = next else { return };
                    let done = match item {
                        Item::Message { seq, origin, raw } => Done::Prepared {
                            seq,
                            origin,
                            size: raw.len(),
                            prepared: Box::new(intake.prepare_with(&raw, false)),
                        },
                        Item::Unreadable { seq, origin, reason } => Done::Unreadable { seq, origin, reason },
                    };
                    if tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        // Only the workers hold the receiving and sending ends now, so that
        // an early stop of any stage ends the others instead of blocking them.
        drop(item_rx);
        drop(done_tx);
        commit_in_order(intake, done_rx, &bar, &mut report)
    })?;
    bar.finish_and_clear();
    Ok(report)
}

/// Sends every source message, numbered in source order.
fn read_sources(paths: &[PathBuf], tx: &std::sync::mpsc::SyncSender<Item>) {
    let mut seq = 0u64;
    for path in paths {
        let iter = match inbound::messages(path) {
            Ok(iter) => iter,
            Err(e) => {
                let _ = tx.send(Item::Unreadable { seq, origin: path.display().to_string(), reason: e.to_string() });
                seq += 1;
                continue;
            }
        };
        for next in iter {
            let item = match next {
                Ok(SourceMessage { origin, raw }) => Item::Message { seq, origin, raw },
                Err(e) => Item::Unreadable { seq, origin: path.display().to_string(), reason: e.to_string() },
            };
            seq += 1;
            if tx.send(item).is_err() {
                return;
            }
        }
    }
}

/// Messages committed per database transaction (each in its own savepoint).
const BATCH: usize = 1000;
/// A batch is committed early once it holds this many bytes of blobs for the
/// database, so that memory stays bounded whatever the messages' sizes.
const BATCH_INLINE_BYTES: usize = 32 * 1024 * 1024;

/// Commits prepared messages in source order (workers may finish out of
/// order), in batches: the file blobs of a batch, if any, are flushed with
/// one `syncfs`, then the batch (with the blobs kept in the database) is
/// committed in one transaction in which every message
/// has its own savepoint, so one message's failure undoes only that message.
fn commit_in_order(intake: &Intake, rx: Receiver<Done>, bar: &ProgressBar, report: &mut IngestReport) -> AppResult<()> {
    let mut conn = intake_conn(intake)?;
    let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
    let mut batch: Vec<Done> = Vec::with_capacity(BATCH);
    let mut next = 0u64;
    let mut batch_bytes = 0usize;
    for done in rx {
        waiting.insert(done.seq(), done);
        while let Some(done) = waiting.remove(&next) {
            next += 1;
            if let Done::Prepared { prepared, .. } = &done
                && let Ok(p) = prepared.as_ref()
            {
                batch_bytes += p.inline_bytes();
            }
            batch.push(done);
            if batch.len() >= BATCH || batch_bytes >= BATCH_INLINE_BYTES {
                commit_batch(intake, &mut conn, std::mem::take(&mut batch), bar, report)?;
                batch_bytes = 0;
            }
        }
    }
    commit_batch(intake, &mut conn, batch, bar, report)
}

fn commit_batch(
    intake: &Intake,
    conn: &mut crate::db::AnyConnection,
    batch: Vec<Done>,
    bar: &ProgressBar,
    report: &mut IngestReport,
) -> AppResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let wrote_files = batch.iter().any(|d| match d {
        Done::Prepared { prepared, .. } => prepared.as_ref().as_ref().is_ok_and(|p| p.wrote_files),
        Done::Unreadable { .. } => false,
    });
    if wrote_files {
        intake
            .blobs()
            .sync_filesystem()
            .map_err(|e| AppError::unavailable("cannot flush stored messages to disk", e))?;
    }
    let mut results = Vec::with_capacity(batch.len());
    crate::db::write_transaction(conn, |conn| {
        for done in batch {
            match done {
                Done::Unreadable { origin, reason, .. } => results.push(Err(Unreadable { origin, reason })),
                Done::Prepared { origin, size, prepared, .. } => {
                    let result = intake.commit(conn, (*prepared)?, IntakeSource::Ingest, Some(&origin))?;
                    results.push(Ok((result, size)));
                }
            }
        }
        Ok::<_, AppError>(())
    })?;
    for r in results {
        match r {
            Err(u) => {
                report.summary.unreadable += 1;
                report.unreadable.push(u);
            }
            Ok((result, size)) => {
                report.summary.count(result.outcome);
                report.inbound_ids.push(result.inbound_id);
                bar.inc(size as u64);
            }
        }
    }
    bar.set_message(format!("{} messages", report.summary.total()));
    Ok(())
}

/// The committing connection. On SQLite it reads the database file with
/// plain reads rather than through the memory map the pool's connections
/// use: an import touches index pages all over a growing file, and mapped
/// pages count as the process's memory (a 1 GB mailbox took the resident
/// size past 300 MB that way); the map comes back when the import ends.
///
/// On PostgreSQL it plans every execution for its parameters
/// (`plan_cache_mode = force_custom_plan`) until the import ends: a generic
/// plan made while a table was small is kept until the next ANALYZE, which
/// a bulk import outruns (with generic plans, threading replies scanned
/// every stored message, 4,660 times in one 10,000-message import).
fn intake_conn(intake: &Intake) -> AppResult<ImportConn> {
    let mut conn = intake.db().get()?;
    match &mut *conn {
        crate::db::AnyConnection::Sqlite(c) => c.batch_execute("PRAGMA mmap_size = 0")?,
        crate::db::AnyConnection::Postgresql(c) => c.batch_execute("SET plan_cache_mode = force_custom_plan")?,
    }
    Ok(ImportConn(conn))
}

struct ImportConn(crate::db::PooledConn);

impl std::ops::Deref for ImportConn {
    type Target = crate::db::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for ImportConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for ImportConn {
    fn drop(&mut self) {
        let restored = match &mut *self.0 {
            crate::db::AnyConnection::Sqlite(c) => {
                c.batch_execute(&format!("PRAGMA mmap_size = {}", crate::db::SQLITE_MMAP_BYTES))
            }
            crate::db::AnyConnection::Postgresql(c) => c.batch_execute("RESET plan_cache_mode"),
        };
        if let Err(e) = restored {
            tracing::warn!(error = %e, "could not restore the settings of a pooled connection after an import");
        }
    }
}
