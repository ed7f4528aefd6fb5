//! The mail outbox as a work queue: claiming due rows with a lease,
//! recording each row's result, and the depth by state for `/metrics`.
//!
//! States: `queued` → (claimed) `sending` → `sent` | `queued` again (retry
//! later) | `failed`. A claim sets `locked_by` (the worker) and
//! `locked_until` (the lease) and counts the try in `attempts`.
//!
//! **Delivery is at-least-once.** A worker that dies after the relay accepted
//! a message but before `sent` was written leaves the row `sending`; once its
//! lease has expired the row is due again and is sent once more, with the
//! same `Message-ID` (fixed in the row when it was queued), so the
//! recipient's client shows one message. A row is never sent by two workers
//! at once: on PostgreSQL the claim locks the rows it takes
//! (`FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint rows); on
//! SQLite the claim is one `UPDATE … RETURNING` and the database has a single
//! writer.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::MailOutboxRow;
use crate::db::schema::mail_outbox;
use crate::db::{AnyConnection, MailState};
use crate::error::AppResult;

/// Longest `last_error` kept (server answers can be long).
const MAX_ERROR_CHARS: usize = 2000;

/// Claims up to `limit` due rows for `worker`: queued rows whose
/// `next_attempt_at` has come, and `sending` rows whose lease expired. The
/// rows come back as `sending`, leased until `lease_until`, with `attempts`
/// counting this try, oldest due first.
pub fn claim_due(
    conn: &mut AnyConnection,
    worker: &str,
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> AppResult<Vec<MailOutboxRow>> {
    let due = mail_outbox::state
        .eq(MailState::Queued)
        .and(mail_outbox::next_attempt_at.le(now))
        .or(mail_outbox::state.eq(MailState::Sending).and(mail_outbox::locked_until.lt(now)));
    let claim = (
        mail_outbox::state.eq(MailState::Sending),
        mail_outbox::locked_by.eq(Some(worker)),
        mail_outbox::locked_until.eq(Some(lease_until)),
        mail_outbox::attempts.eq(mail_outbox::attempts + 1),
        mail_outbox::updated_at.eq(now),
    );
    let mut rows: Vec<MailOutboxRow> = match conn {
        // Lock the due rows, skipping those another worker holds, and mark
        // them ours in the same transaction.
        AnyConnection::Postgresql(pg) => pg.transaction(|pg| {
            let ids: Vec<i64> = mail_outbox::table
                .filter(due)
                .order((mail_outbox::next_attempt_at.asc(), mail_outbox::id.asc()))
                .limit(limit)
                .select(mail_outbox::id)
                .for_update()
                .skip_locked()
                .load(pg)?;
            if ids.is_empty() {
                return Ok::<_, diesel::result::Error>(Vec::new());
            }
            diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(&ids)))
                .set(claim)
                .returning(MailOutboxRow::as_returning())
                .get_results(pg)
        })?,
        // SQLite has a single writer: an immediate transaction takes the
        // write lock before reading, and the `UPDATE … RETURNING` repeats the
        // `due` condition, so a row another worker claimed is never taken.
        AnyConnection::Sqlite(lite) => lite.immediate_transaction(|lite| {
            let ids: Vec<i64> = mail_outbox::table
                .filter(due)
                .order((mail_outbox::next_attempt_at.asc(), mail_outbox::id.asc()))
                .limit(limit)
                .select(mail_outbox::id)
                .load(lite)?;
            if ids.is_empty() {
                return Ok::<_, diesel::result::Error>(Vec::new());
            }
            diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(&ids)).filter(due))
                .set(claim)
                .returning(MailOutboxRow::as_returning())
                .get_results(lite)
        })?,
    };
    rows.sort_by_key(|r| (r.next_attempt_at, r.id));
    Ok(rows)
}

/// What a `magic_link` row's payload becomes once the row is done with
/// (sent, or failed for good): the link in it is a credential (the
/// database keeps only its hash elsewhere), kept in clear only while the
/// email waits to be sent.
pub const SENT_MAGIC_LINK_PAYLOAD: &str = r#"{"link":"(sent; not kept)"}"#;

/// `payload = <this>`: the payload, but [`SENT_MAGIC_LINK_PAYLOAD`] for a
/// `magic_link` row.
fn payload_without_link() -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
        "CASE WHEN kind = 'magic_link' THEN '{SENT_MAGIC_LINK_PAYLOAD}' ELSE payload END"
    ))
}

/// Marks rows `worker` holds as sent, and drops the sign-in link from sent
/// `magic_link` payloads.
pub fn mark_sent(conn: &mut AnyConnection, worker: &str, ids: &[i64], at: NaiveDateTime) -> AppResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        mail_outbox::table
            .filter(mail_outbox::id.eq_any(ids))
            .filter(mail_outbox::state.eq(MailState::Sending))
            .filter(mail_outbox::locked_by.eq(worker)),
    )
    .set((
        mail_outbox::state.eq(MailState::Sent),
        mail_outbox::sent_at.eq(Some(at)),
        mail_outbox::locked_by.eq(None::<String>),
        mail_outbox::locked_until.eq(None::<NaiveDateTime>),
        mail_outbox::last_error.eq(None::<String>),
        mail_outbox::updated_at.eq(at),
        mail_outbox::payload.eq(payload_without_link()),
    ))
    .execute(conn)?)
}

/// Puts a row `worker` holds back in the queue, due at `next_attempt_at`.
pub fn retry_later(
    conn: &mut AnyConnection,
    worker: &str,
    id: i64,
    error: &str,
    next_attempt_at: NaiveDateTime,
    at: NaiveDateTime,
) -> AppResult<usize> {
    release(conn, worker, id, MailState::Queued, error, next_attempt_at, at)
}

/// Marks a row `worker` holds as failed for good.
pub fn mark_failed(
    conn: &mut AnyConnection,
    worker: &str,
    id: i64,
    error: &str,
    at: NaiveDateTime,
) -> AppResult<usize> {
    release(conn, worker, id, MailState::Failed, error, at, at)
}

fn release(
    conn: &mut AnyConnection,
    worker: &str,
    id: i64,
    state: MailState,
    error: &str,
    next_attempt_at: NaiveDateTime,
    at: NaiveDateTime,
) -> AppResult<usize> {
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    Ok(diesel::update(
        mail_outbox::table
            .filter(mail_outbox::id.eq(id))
            .filter(mail_outbox::state.eq(MailState::Sending))
            .filter(mail_outbox::locked_by.eq(worker)),
    )
    .set((
        mail_outbox::state.eq(state),
        mail_outbox::next_attempt_at.eq(next_attempt_at),
        mail_outbox::locked_by.eq(None::<String>),
        mail_outbox::locked_until.eq(None::<NaiveDateTime>),
        mail_outbox::last_error.eq(Some(error)),
        mail_outbox::updated_at.eq(at),
        // A link that never reached its reader is of use to no one else
        // either; a row queued again keeps it.
        mail_outbox::payload.eq(if state == MailState::Failed {
            payload_without_link()
        } else {
            diesel::dsl::sql::<diesel::sql_types::Text>("payload")
        }),
    ))
    .execute(conn)?)
}

/// Rows in each state (every state listed, zero included).
pub fn depth_by_state(conn: &mut AnyConnection) -> AppResult<Vec<(MailState, i64)>> {
    let counted: Vec<(MailState, i64)> = mail_outbox::table
        .group_by(mail_outbox::state)
        .select((mail_outbox::state, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(MailState::ALL.iter().map(|s| (*s, counted.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n))).collect())
}

/// One outbox row by id.
pub fn get(conn: &mut AnyConnection, id: i64) -> AppResult<Option<MailOutboxRow>> {
    Ok(mail_outbox::table.find(id).select(MailOutboxRow::as_select()).first(conn).optional()?)
}
