//! The append-only audit log. Every change writes one event in the same
//! transaction (the database refuses updates and deletes of events).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Actor;
use crate::db::models::{Event, NewEventRow};
use crate::db::schema::events;
use crate::db::{AnyConnection, TicketId};
use crate::error::AppResult;

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub ticket_id: Option<TicketId>,
    pub subject_type: &'static str,
    pub subject_id: i64,
    pub action: &'static str,
    pub field: Option<&'static str>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub data: Option<serde_json::Value>,
}

impl EventRecord {
    /// An event about a ticket.
    pub fn ticket(ticket_id: TicketId, action: &'static str) -> Self {
        Self::about("ticket", ticket_id.0, action).for_ticket(ticket_id)
    }

    /// An event about any record (`institution`, `instance`, `contact`, `agent`…).
    pub fn about(subject_type: &'static str, subject_id: i64, action: &'static str) -> Self {
        Self {
            ticket_id: None,
            subject_type,
            subject_id,
            action,
            field: None,
            old_value: None,
            new_value: None,
            data: None,
        }
    }

    pub fn for_ticket(mut self, ticket_id: TicketId) -> Self {
        self.ticket_id = Some(ticket_id);
        self
    }

    /// Records a field change from `old` to `new`.
    pub fn change(mut self, field: &'static str, old: Option<String>, new: Option<String>) -> Self {
        self.field = Some(field);
        self.old_value = old;
        self.new_value = new;
        self
    }

    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Writes the event, by `actor`, at `at`.
    pub fn write(&self, conn: &mut AnyConnection, actor: Actor, at: NaiveDateTime) -> AppResult<()> {
        let data = self.data.as_ref().map(|d| d.to_string());
        let row = NewEventRow {
            ticket_id: self.ticket_id,
            subject_type: self.subject_type,
            subject_id: self.subject_id,
            action: self.action,
            actor_kind: actor.kind(),
            actor_id: actor.id(),
            field: self.field,
            old_value: self.old_value.as_deref(),
            new_value: self.new_value.as_deref(),
            data: data.as_deref(),
            created_at: at,
        };
        crate::on_backend!(conn, |c| diesel::insert_into(events::table).values(&row).execute(c))?;
        Ok(())
    }
}

/// A ticket's events, oldest first.
pub fn for_ticket(conn: &mut AnyConnection, ticket_id: TicketId) -> AppResult<Vec<Event>> {
    Ok(crate::on_backend!(conn, |c| events::table
        .filter(events::ticket_id.eq(ticket_id))
        .order(events::id.asc())
        .select(Event::as_select())
        .load(c))?)
}

/// The events about one record, oldest first.
pub fn for_subject(conn: &mut AnyConnection, subject_type: &str, subject_id: i64) -> AppResult<Vec<Event>> {
    Ok(events::table
        .filter(events::subject_type.eq(subject_type))
        .filter(events::subject_id.eq(subject_id))
        .order(events::id.asc())
        .select(Event::as_select())
        .load(conn)?)
}
