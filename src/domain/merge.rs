//! Merging a duplicate ticket into another: the duplicate's thread moves to
//! the target, the duplicate is closed and points at the target, both get an
//! event and a search update, all in one transaction.

use diesel::prelude::*;

use super::Actor;
use super::events::EventRecord;
use super::outbox::enqueue_ticket_index;
use super::portal::{UNVERIFIED_SENDER, unverified_sender};
use super::tickets;
use crate::db::models::Ticket;
use crate::db::schema::{messages, ticket_tags, tickets as tickets_t};
use crate::db::{AnyConnection, SearchOp, TicketId, TicketStatus, now};
use crate::error::{AppError, AppResult};

/// Merges `duplicate` into `target`. Both must be unmerged, distinct and of
/// the same institution (or both of none); the duplicate's messages and tags
/// join the target; the duplicate ends
/// `closed` with `merged_into_id` set. Returns the updated target.
pub fn merge_into(conn: &mut AnyConnection, duplicate: TicketId, target: TicketId, actor: Actor) -> AppResult<Ticket> {
    if duplicate == target {
        return Err(AppError::invalid("a ticket cannot be merged into itself"));
    }
    crate::db::write_transaction(conn, |conn| {
        let at = now();
        let dup = tickets::get(conn, duplicate)?;
        let tgt = tickets::get(conn, target)?;
        if dup.merged_into_id.is_some() {
            return Err(AppError::conflict(format!("ticket #{} is already merged", dup.number)));
        }
        if tgt.merged_into_id.is_some() {
            return Err(AppError::conflict(format!("ticket #{} was merged into another ticket", tgt.number)));
        }
        // The target's customers (its institution's admins, or its
        // requester when it has no institution) will read the whole thread:
        // a ticket of no institution and one of an institution are as
        // different as two institutions.
        if dup.institution_id != tgt.institution_id {
            return Err(AppError::invalid(format!(
                "tickets #{} and #{} belong to different institutions (or one to none): link them to the same \
                 institution first",
                dup.number, tgt.number
            )));
        }
        // With no institution, the target's requester alone reads it.
        if tgt.institution_id.is_none() && dup.requester_id != tgt.requester_id {
            return Err(AppError::invalid(format!(
                "tickets #{} and #{} belong to no institution and have different requesters: the one would read \
                 the other's thread",
                dup.number, tgt.number
            )));
        }
        let moved = diesel::update(messages::table.filter(messages::ticket_id.eq(dup.id)))
            .set(messages::ticket_id.eq(tgt.id))
            .execute(conn)?;
        let mut tags = tickets::tags_of(conn, tgt.id)?;
        for tag in tickets::tags_of(conn, dup.id)? {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        diesel::delete(ticket_tags::table.filter(ticket_tags::ticket_id.eq(dup.id))).execute(conn)?;
        let closed_at = dup.closed_at.unwrap_or(at);
        diesel::update(tickets_t::table.find(dup.id))
            .set((
                tickets_t::merged_into_id.eq(Some(tgt.id)),
                tickets_t::status.eq(TicketStatus::Closed),
                tickets_t::closed_at.eq(Some(closed_at)),
                tickets_t::solved_at.eq(Some(dup.solved_at.unwrap_or(at))),
                tickets_t::updated_at.eq(at),
                tickets_t::tags.eq(""),
            ))
            .execute(conn)?;
        // Keep the earliest customer activity on the target for the clocks.
        let last_customer = match (tgt.last_customer_message_at, dup.last_customer_message_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        diesel::update(tickets_t::table.find(tgt.id))
            .set((tickets_t::updated_at.eq(at), tickets_t::last_customer_message_at.eq(last_customer)))
            .execute(conn)?;
        EventRecord::ticket(dup.id, "ticket.merged")
            .change("merged_into_id", None, Some(tgt.id.to_string()))
            .data(serde_json::json!({ "into_number": tgt.number, "messages_moved": moved }))
            .write(conn, actor, at)?;
        EventRecord::ticket(tgt.id, "ticket.merge_received")
            .data(serde_json::json!({ "from_number": dup.number, "messages_moved": moved }))
            .write(conn, actor, at)?;
        if !tags.is_empty() {
            tickets::set_tags(conn, tgt.id, &tags, actor)?;
        }
        // The warning that nothing proved who sent the duplicate follows its
        // messages.
        if let Some(data) = unverified_sender(conn, dup.id)?
            && unverified_sender(conn, tgt.id)?.is_none()
        {
            let mut data: serde_json::Value =
                data.and_then(|d| serde_json::from_str(&d).ok()).unwrap_or_else(|| serde_json::json!({}));
            data["merged_from_number"] = serde_json::json!(dup.number);
            EventRecord::ticket(tgt.id, UNVERIFIED_SENDER).data(data).write(conn, actor, at)?;
        }
        enqueue_ticket_index(conn, dup.id, SearchOp::Delete, at)?;
        enqueue_ticket_index(conn, tgt.id, SearchOp::Upsert, at)?;
        tickets::get(conn, tgt.id)
    })
}
