//! Several field changes of one ticket (the console's ticket form, the
//! API's PATCH) applied in one transaction: each changed field writes its own
//! event through the single-field functions of [`super::tickets`]; fields
//! left `None` are not touched. Solving with `notify_solved` also queues the
//! "solved" email to the requester.

use super::{Actor, merge, replies, tickets};
use crate::db::models::Ticket;
use crate::db::{AgentId, AnyConnection, InstanceId, Priority, TicketId, TicketStatus};
use crate::error::{AppError, AppResult};

/// The wanted values; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TicketUpdate {
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<AgentId>>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` unlinks.
    pub instance: Option<Option<InstanceId>>,
    /// When the status becomes `solved`: email the requester.
    pub notify_solved: bool,
}

/// Applies `update` to the ticket in one transaction and returns it.
pub fn update(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    update: &TicketUpdate,
    actor: Actor,
    support_address: &str,
) -> AppResult<Ticket> {
    crate::db::write_transaction(conn, |conn| {
        let current = tickets::get(conn, ticket_id)?;
        if current.merged_into_id.is_some() {
            return Err(AppError::conflict(format!("ticket #{} was merged into another ticket", current.number)));
        }
        if let Some(instance) = update.instance {
            tickets::link_instance(conn, ticket_id, instance, actor)?;
        }
        if let Some(priority) = update.priority {
            tickets::change_priority(conn, ticket_id, priority, actor)?;
        }
        if let Some(assignee) = update.assignee {
            tickets::assign(conn, ticket_id, assignee, actor)?;
        }
        if let Some(tags) = &update.tags {
            tickets::set_tags(conn, ticket_id, tags, actor)?;
        }
        if let Some(status) = update.status {
            if status == TicketStatus::Solved && update.notify_solved {
                replies::solve_and_notify(conn, ticket_id, actor, support_address)?;
            } else {
                tickets::change_status(conn, ticket_id, status, actor)?;
            }
        }
        tickets::get(conn, ticket_id)
    })
}

/// Merges the ticket numbered `duplicate_number` into `target` (by id).
pub fn merge_by_number(
    conn: &mut AnyConnection,
    target: TicketId,
    duplicate_number: i64,
    actor: Actor,
) -> AppResult<Ticket> {
    let duplicate = tickets::by_number(conn, duplicate_number)?
        .ok_or_else(|| AppError::invalid(format!("there is no ticket #{duplicate_number}")))?;
    merge::merge_into(conn, duplicate.id, target, actor)
}
