//! Outbox rows: side effects (search index updates, emails) recorded in the
//! same transaction as the change that causes them, for workers to carry out.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::{MailOutboxRow, NewMailOutboxRow, NewSearchOutboxRow};
use crate::db::schema::{mail_outbox, search_outbox, tickets};
use crate::db::{AnyConnection, InstanceId, InstitutionId, MailState, MessageId, SearchOp, TicketId};
use crate::error::AppResult;

/// Asks the search indexer to refresh (or drop) a ticket's document.
pub fn enqueue_ticket_index(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    op: SearchOp,
    at: NaiveDateTime,
) -> AppResult<()> {
    crate::on_backend!(conn, |c| diesel::insert_into(search_outbox::table)
        .values(NewSearchOutboxRow {
            entity_type: "ticket",
            entity_id: ticket_id.0,
            op,
            attempts: 0,
            next_attempt_at: at,
            created_at: at,
        })
        .execute(c))?;
    Ok(())
}

/// The tickets whose search documents carry a record's fields.
#[derive(Debug, Clone, Copy)]
pub enum TicketsOf {
    /// Its name and default plan.
    Institution(InstitutionId),
    /// Its domain and plan.
    Instance(InstanceId),
}

/// Asks the search indexer to refresh the document of every live ticket of
/// an institution or instance, after a change to fields the documents carry
/// (a renamed institution, an instance moved to another plan). One
/// statement, in the caller's transaction; returns the rows queued.
pub fn enqueue_tickets_of(conn: &mut AnyConnection, of: TicketsOf, at: NaiveDateTime) -> AppResult<usize> {
    use diesel::IntoSql;
    use diesel::sql_types::{Integer, Text, Timestamp};
    let queued = crate::on_backend!(conn, |c| {
        let mut rows = tickets::table
            .filter(tickets::merged_into_id.is_null())
            .select((
                "ticket".into_sql::<Text>(),
                tickets::id,
                SearchOp::Upsert.as_str().into_sql::<Text>(),
                0.into_sql::<Integer>(),
                at.into_sql::<Timestamp>(),
                at.into_sql::<Timestamp>(),
            ))
            .into_boxed();
        rows = match of {
            TicketsOf::Institution(id) => rows.filter(tickets::institution_id.eq(id)),
            TicketsOf::Instance(id) => rows.filter(tickets::instance_id.eq(id)),
        };
        diesel::insert_into(search_outbox::table)
            .values(rows)
            .into_columns((
                search_outbox::entity_type,
                search_outbox::entity_id,
                search_outbox::op,
                search_outbox::attempts,
                search_outbox::next_attempt_at,
                search_outbox::created_at,
            ))
            .execute(c)
    })?;
    Ok(queued)
}

/// An email to send, as recorded in the mail outbox.
#[derive(Debug, Clone)]
pub struct OutgoingMail<'a> {
    /// Template kind, e.g. `acknowledgement`, `reply`.
    pub kind: &'a str,
    pub ticket_id: Option<TicketId>,
    pub message_ref: Option<MessageId>,
    pub recipients: &'a [String],
    /// The RFC 5322 Message-ID the email will carry, fixed now so that a
    /// retry sends the same id.
    pub rfc_message_id: &'a str,
    /// Template variables.
    pub payload: serde_json::Value,
}

/// Queues an email; the mail worker sends it after the transaction commits.
pub fn enqueue_mail(conn: &mut AnyConnection, mail: &OutgoingMail<'_>, at: NaiveDateTime) -> AppResult<i64> {
    let recipients = serde_json::to_string(mail.recipients).map_err(anyhow::Error::from)?;
    let payload = mail.payload.to_string();
    let id = crate::on_backend!(conn, |c| diesel::insert_into(mail_outbox::table)
        .values(NewMailOutboxRow {
            kind: mail.kind,
            ticket_id: mail.ticket_id,
            message_ref: mail.message_ref,
            recipients: &recipients,
            rfc_message_id: mail.rfc_message_id,
            payload: &payload,
            state: MailState::Queued,
            attempts: 0,
            next_attempt_at: at,
            created_at: at,
            updated_at: at,
        })
        .returning(mail_outbox::id)
        .get_result::<i64>(c))?;
    Ok(id)
}

/// Emails queued for a ticket, oldest first (the console shows their state).
pub fn mail_for_ticket(conn: &mut AnyConnection, ticket_id: TicketId) -> AppResult<Vec<MailOutboxRow>> {
    Ok(crate::on_backend!(conn, |c| mail_outbox::table
        .filter(mail_outbox::ticket_id.eq(ticket_id))
        .order(mail_outbox::id.asc())
        .select(MailOutboxRow::as_select())
        .load(c))?)
}

/// Rows waiting in each outbox: (search, mail queued or sending).
pub fn depths(conn: &mut AnyConnection) -> AppResult<(i64, i64)> {
    let search: i64 = search_outbox::table.count().get_result(conn)?;
    let mail: i64 = mail_outbox::table
        .filter(mail_outbox::state.eq_any([MailState::Queued, MailState::Sending]))
        .count()
        .get_result(conn)?;
    Ok((search, mail))
}
