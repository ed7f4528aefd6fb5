//! The clocks of one ticket as stored policy says, for the console's SLA
//! panel and the API: computed from the snapshot stored on the ticket (so a
//! later config edit does not change what is shown) and the ticket's facts.

use chrono::{DateTime, Utc};

use super::calendar::Calendar;
use super::clock::{self, Clocks};
use super::store;
use crate::db::AnyConnection;
use crate::db::models::Ticket;
use crate::error::{AppError, AppResult};

/// A ticket's clocks with the calendar they run on.
#[derive(Debug, Clone)]
pub struct TicketClocks {
    /// Plan tier of the applied policy.
    pub tier: String,
    pub clocks: Clocks,
    pub calendar: Calendar,
}

/// The ticket's clocks at `now`, or `None` before a policy was applied.
pub fn clocks_of(conn: &mut AnyConnection, ticket: &Ticket, now: DateTime<Utc>) -> AppResult<Option<TicketClocks>> {
    let Some(row) = store::row_of(conn, ticket.id)? else {
        return Ok(None);
    };
    let snapshot = row.snapshot()?;
    let calendar = snapshot
        .compile_calendar()
        .map_err(|e| AppError::internal(anyhow::anyhow!("ticket {}: stored calendar: {e}", ticket.id)))?;
    let facts = store::facts_of(conn, ticket)?;
    let clocks = clock::compute(&facts, &snapshot, &calendar, now);
    Ok(Some(TicketClocks { tier: row.tier, clocks, calendar }))
}
