//! Tickets and their threads: creation, messages, status, priority,
//! assignee, instance link and tags. Each change is one transaction with its
//! events and a search-outbox row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::events::EventRecord;
use super::outbox::enqueue_ticket_index;
use super::validate::{normalize_tag, required_line};
use super::{Actor, agents, contacts, instances};
use crate::db::models::{Attachment, Message, NewAttachmentRow, NewMessageRow, NewTicket, Ticket};
use crate::db::schema::{attachments, counters, messages, ticket_tags, tickets};
use crate::db::{
    AgentId, AnyConnection, Channel, ContactId, InstanceId, InstitutionId, MessageKind, Priority, SearchOp, TicketId,
    TicketStatus, now,
};
use crate::error::{AppError, AppResult};

/// Longest subject accepted.
pub const MAX_SUBJECT_CHARS: usize = 500;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Contact(ContactId),
    Agent(AgentId),
    /// Tusk itself (e.g. an imported message whose sender is unknown).
    System,
}

/// A file already stored in the blob store, to attach to a message.
#[derive(Debug, Clone)]
pub struct AttachmentInput {
    pub sha256: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub content_id: Option<String>,
    pub inline: bool,
}

/// One thread entry to add.
#[derive(Debug, Clone)]
pub struct MessageInput {
    pub kind: MessageKind,
    pub author: Author,
    pub from_address: Option<String>,
    pub to_addresses: Option<String>,
    pub cc_addresses: Option<String>,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub body_html_sanitized: Option<String>,
    /// RFC 5322 Message-ID without angle brackets; unique across Tusk.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    /// sha256 of the raw message in the blob store.
    pub raw_blob: Option<String>,
    pub attachments: Vec<AttachmentInput>,
    /// When the message was written; `None` = now. Backfills pass the
    /// message's own date.
    pub at: Option<NaiveDateTime>,
}

impl MessageInput {
    /// A minimal message (tests, web channel, API); other fields empty.
    pub fn new(kind: MessageKind, author: Author, body_text: impl Into<String>, message_id: impl Into<String>) -> Self {
        Self {
            kind,
            author,
            from_address: None,
            to_addresses: None,
            cc_addresses: None,
            subject: None,
            body_text: body_text.into(),
            body_html: None,
            body_html_sanitized: None,
            message_id: message_id.into(),
            in_reply_to: None,
            references: None,
            raw_blob: None,
            attachments: Vec::new(),
            at: None,
        }
    }
}

/// A ticket to open, with its first message.
#[derive(Debug, Clone)]
pub struct TicketInput {
    pub subject: String,
    pub requester: ContactId,
    /// `None`: the instance's institution, else the requester's when
    /// `institution_from_requester`.
    pub institution: Option<InstitutionId>,
    /// Whether the requester's institution may be assumed (false for a
    /// sender whose address is not trusted).
    pub institution_from_requester: bool,
    pub instance: Option<InstanceId>,
    pub priority: Priority,
    pub category: Option<String>,
    pub channel: Channel,
    /// `None`: `new`. Backfills may open tickets directly as solved.
    pub status: Option<TicketStatus>,
    pub assignee: Option<AgentId>,
    pub tags: Vec<String>,
    /// Set when the ticket needs a person to look at it (ambiguous instance…).
    pub triage_reason: Option<String>,
    pub first_message: MessageInput,
}

/// Generates a globally unique Message-ID (without brackets) for a message
/// Tusk creates itself, in the support address's domain.
pub fn generate_message_id(domain: &str) -> String {
    let random: u128 = rand::random();
    format!("tusk.{}.{random:032x}@{domain}", chrono::Utc::now().format("%Y%m%d%H%M%S"))
}

/// Opens a ticket with its first message, tags, events and search-outbox row,
/// in one transaction.
pub fn create(conn: &mut AnyConnection, input: TicketInput, actor: Actor) -> AppResult<(Ticket, Message)> {
    let subject = required_line("subject", &input.subject, MAX_SUBJECT_CHARS)?;
    let category = match input.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(required_line("category", c, 100)?),
        None => None,
    };
    let tags = normalize_tags(&input.tags)?;
    check_message(&input.first_message)?;

    crate::db::write_transaction(conn, |conn| {
        let at = input.first_message.at.unwrap_or_else(now);
        let requester = contacts::get(conn, input.requester)?;
        let instance = match input.instance {
            Some(id) => Some(instances::get(conn, id)?),
            None => None,
        };
        let institution = match (input.institution, &instance) {
            (Some(given), Some(inst)) if inst.institution_id != given => {
                return Err(AppError::invalid(format!(
                    "instance {} does not belong to institution {given}",
                    inst.domain
                )));
            }
            (Some(given), _) => Some(given),
            (None, Some(inst)) => Some(inst.institution_id),
            (None, None) if input.institution_from_requester => requester.institution_id,
            (None, None) => None,
        };
        if let Some(agent) = input.assignee {
            ensure_assignable(conn, agent)?;
        }
        let number: i64 = crate::on_backend!(conn, |c| diesel::update(counters::table.find("ticket_number"))
            .set(counters::value.eq(counters::value + 1))
            .returning(counters::value)
            .get_result(c))?;
        let status = input.status.unwrap_or(TicketStatus::New);
        let from_customer = input.first_message.kind == MessageKind::Inbound;
        let mut ticket: Ticket = crate::on_backend!(conn, |c| diesel::insert_into(tickets::table)
            .values(NewTicket {
                number,
                subject: &subject,
                status,
                priority: input.priority,
                category: category.as_deref(),
                channel: input.channel,
                requester_id: requester.id,
                institution_id: institution,
                instance_id: instance.as_ref().map(|i| i.id),
                assignee_id: input.assignee,
                needs_triage: input.triage_reason.is_some(),
                triage_reason: input.triage_reason.as_deref(),
                created_at: at,
                updated_at: at,
                last_customer_message_at: from_customer.then_some(at),
                tags: &tags_text(&tags),
            })
            .get_result(c))?;
        if status.is_done() {
            let column_time = Some(at);
            ticket = diesel::update(tickets::table.find(ticket.id))
                .set((
                    tickets::solved_at.eq(column_time),
                    tickets::closed_at.eq(if status == TicketStatus::Closed { column_time } else { None }),
                ))
                .get_result(conn)?;
        }
        for tag in &tags {
            crate::on_backend!(conn, |c| diesel::insert_into(ticket_tags::table)
                .values((ticket_tags::ticket_id.eq(ticket.id), ticket_tags::tag.eq(tag)))
                .execute(c))?;
        }
        EventRecord::ticket(ticket.id, "ticket.created")
            .data(serde_json::json!({
                "number": ticket.number,
                "subject": ticket.subject,
                "status": ticket.status,
                "priority": ticket.priority,
                "channel": ticket.channel,
                "requester_id": ticket.requester_id,
                "institution_id": ticket.institution_id,
                "instance_id": ticket.instance_id,
                "assignee_id": ticket.assignee_id,
                "tags": tags,
                "triage_reason": ticket.triage_reason,
            }))
            .write(conn, actor, at)?;
        let message = insert_message(conn, ticket.id, &input.first_message, at)?;
        EventRecord::ticket(ticket.id, "message.added")
            .data(serde_json::json!({"message_id": message.id, "kind": message.kind}))
            .write(conn, actor, at)?;
        if message.kind == MessageKind::Reply {
            ticket = diesel::update(tickets::table.find(ticket.id))
                .set(tickets::first_response_at.eq(Some(at)))
                .get_result(conn)?;
        }
        enqueue_ticket_index(conn, ticket.id, SearchOp::Upsert, now())?;
        Ok((ticket, message))
    })
}

fn check_message(input: &MessageInput) -> AppResult<()> {
    let id = input.message_id.trim();
    if id.is_empty() || id.len() > 998 || id.contains(['<', '>', ' ']) {
        return Err(AppError::invalid("the Message-ID must be non-empty, without brackets or spaces"));
    }
    if input.kind == MessageKind::Inbound && !matches!(input.author, Author::Contact(_) | Author::System) {
        return Err(AppError::invalid("an inbound message comes from a contact"));
    }
    if matches!(input.kind, MessageKind::Reply | MessageKind::Note)
        && !matches!(input.author, Author::Agent(_) | Author::System)
    {
        return Err(AppError::invalid("replies and notes are written by agents"));
    }
    // A customer's email may be empty (everything said in the subject);
    // what agents write may not.
    if input.kind == MessageKind::Reply
        && input.body_text.trim().is_empty()
        && input.attachments.is_empty()
        && input.body_html.is_none()
    {
        return Err(AppError::invalid("the message is empty"));
    }
    if input.kind == MessageKind::Note && input.body_text.trim().is_empty() {
        return Err(AppError::invalid("the note is empty"));
    }
    Ok(())
}

fn insert_message(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    input: &MessageInput,
    at: NaiveDateTime,
) -> AppResult<Message> {
    let (contact, agent) = match input.author {
        Author::Contact(c) => (Some(c), None),
        Author::Agent(a) => (None, Some(a)),
        Author::System => (None, None),
    };
    let message_id = input.message_id.trim();
    let inserted = crate::on_backend!(conn, |c| diesel::insert_into(messages::table)
        .values(NewMessageRow {
            ticket_id,
            kind: input.kind,
            author_contact_id: contact,
            author_agent_id: agent,
            from_address: input.from_address.as_deref(),
            to_addresses: input.to_addresses.as_deref(),
            cc_addresses: input.cc_addresses.as_deref(),
            subject: input.subject.as_deref(),
            body_text: &input.body_text,
            body_html: input.body_html.as_deref(),
            body_html_sanitized: input.body_html_sanitized.as_deref(),
            message_id,
            in_reply_to: input.in_reply_to.as_deref(),
            reference_ids: input.references.as_deref(),
            raw_blob: input.raw_blob.as_deref(),
            created_at: at,
        })
        .get_result::<Message>(c));
    let message = match inserted {
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            return Err(AppError::conflict(format!("a message with Message-ID <{message_id}> already exists")));
        }
        other => other?,
    };
    for a in &input.attachments {
        if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::invalid("an attachment's sha256 must be 64 hex digits"));
        }
        crate::on_backend!(conn, |c| diesel::insert_into(attachments::table)
            .values(NewAttachmentRow {
                message_id: message.id,
                sha256: &a.sha256,
                filename: &a.filename,
                content_type: &a.content_type,
                size_bytes: a.size_bytes,
                content_id: a.content_id.as_deref(),
                inline: a.inline,
                created_at: at,
            })
            .execute(c))?;
    }
    Ok(message)
}

/// Adds a message to a ticket's thread. A customer message reopens a
/// pending or solved ticket; an agent's first reply records the first
/// response. Closed tickets take no more messages (open a new ticket).
pub fn add_message(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    input: MessageInput,
    actor: Actor,
) -> AppResult<(Ticket, Message)> {
    check_message(&input)?;
    crate::db::write_transaction(conn, |conn| {
        let at = input.at.unwrap_or_else(now);
        let ticket = get(conn, ticket_id)?;
        if ticket.status == TicketStatus::Closed {
            return Err(AppError::conflict(format!("ticket #{} is closed", ticket.number)));
        }
        let message = insert_message(conn, ticket.id, &input, at)?;
        EventRecord::ticket(ticket.id, "message.added")
            .data(serde_json::json!({"message_id": message.id, "kind": message.kind}))
            .write(conn, actor, at)?;
        let mut status = ticket.status;
        let mut solved_at = ticket.solved_at;
        let mut first_response_at = ticket.first_response_at;
        let mut last_customer = ticket.last_customer_message_at;
        match input.kind {
            MessageKind::Inbound => {
                last_customer = Some(at);
                if matches!(ticket.status, TicketStatus::Pending | TicketStatus::Solved) {
                    status = TicketStatus::Open;
                    solved_at = None;
                }
            }
            MessageKind::Reply => {
                if first_response_at.is_none() {
                    first_response_at = Some(at);
                }
                if ticket.status == TicketStatus::New {
                    status = TicketStatus::Open;
                }
            }
            MessageKind::Note => {}
        }
        if status != ticket.status {
            EventRecord::ticket(ticket.id, "ticket.status_changed")
                .change("status", Some(ticket.status.to_string()), Some(status.to_string()))
                .data(serde_json::json!({"reason": format!("{} message", input.kind)}))
                .write(conn, actor, at)?;
        }
        let ticket: Ticket = diesel::update(tickets::table.find(ticket.id))
            .set((
                tickets::status.eq(status),
                tickets::solved_at.eq(solved_at),
                tickets::first_response_at.eq(first_response_at),
                tickets::last_customer_message_at.eq(last_customer),
                tickets::updated_at.eq(at.max(ticket.updated_at)),
            ))
            .get_result(conn)?;
        enqueue_ticket_index(conn, ticket.id, SearchOp::Upsert, now())?;
        Ok((ticket, message))
    })
}

/// Runs `change` on the ticket in a transaction, refusing closed tickets,
/// then records the event and queues the index update when it changed
/// something. `change` returns the field, old and new values, or `None`.
fn change_ticket<F>(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    actor: Actor,
    action: &'static str,
    change: F,
) -> AppResult<Ticket>
where
    F: FnOnce(
        &mut AnyConnection,
        &Ticket,
        NaiveDateTime,
    ) -> AppResult<Option<(&'static str, Option<String>, Option<String>)>>,
{
    change_ticket_at(conn, ticket_id, actor, action, now(), change)
}

/// As [`change_ticket`], at a given time (imports of history).
fn change_ticket_at<F>(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    actor: Actor,
    action: &'static str,
    at: NaiveDateTime,
    change: F,
) -> AppResult<Ticket>
where
    F: FnOnce(
        &mut AnyConnection,
        &Ticket,
        NaiveDateTime,
    ) -> AppResult<Option<(&'static str, Option<String>, Option<String>)>>,
{
    crate::db::write_transaction(conn, |conn| {
        let ticket = get(conn, ticket_id)?;
        if ticket.status == TicketStatus::Closed {
            return Err(AppError::conflict(format!("ticket #{} is closed", ticket.number)));
        }
        let Some((field, old, new)) = change(conn, &ticket, at)? else {
            return Ok(ticket);
        };
        let ticket: Ticket = diesel::update(tickets::table.find(ticket.id))
            .set(tickets::updated_at.eq(at.max(ticket.updated_at)))
            .get_result(conn)?;
        EventRecord::ticket(ticket.id, action).change(field, old, new).write(conn, actor, at)?;
        enqueue_ticket_index(conn, ticket.id, SearchOp::Upsert, now())?;
        Ok(ticket)
    })
}

/// Sets the status, keeping `solved_at`/`closed_at` in step.
pub fn change_status(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    status: TicketStatus,
    actor: Actor,
) -> AppResult<Ticket> {
    change_status_at(conn, ticket_id, status, actor, now())
}

/// As [`change_status`], at a given time (imports of history).
pub fn change_status_at(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    status: TicketStatus,
    actor: Actor,
    at: NaiveDateTime,
) -> AppResult<Ticket> {
    change_ticket_at(conn, ticket_id, actor, "ticket.status_changed", at, |conn, t, at| {
        if t.status == status {
            return Ok(None);
        }
        let solved_at = match status {
            TicketStatus::Solved => Some(at),
            TicketStatus::Closed => t.solved_at.or(Some(at)),
            _ => None,
        };
        let closed_at = (status == TicketStatus::Closed).then_some(at);
        diesel::update(tickets::table.find(t.id))
            .set((tickets::status.eq(status), tickets::solved_at.eq(solved_at), tickets::closed_at.eq(closed_at)))
            .execute(conn)?;
        Ok(Some(("status", Some(t.status.to_string()), Some(status.to_string()))))
    })
}

pub fn change_priority(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    priority: Priority,
    actor: Actor,
) -> AppResult<Ticket> {
    change_ticket(conn, ticket_id, actor, "ticket.priority_changed", |conn, t, _| {
        if t.priority == priority {
            return Ok(None);
        }
        diesel::update(tickets::table.find(t.id)).set(tickets::priority.eq(priority)).execute(conn)?;
        Ok(Some(("priority", Some(t.priority.to_string()), Some(priority.to_string()))))
    })
}

fn ensure_assignable(conn: &mut AnyConnection, agent: AgentId) -> AppResult<()> {
    let agent = agents::get(conn, agent).map_err(|_| AppError::invalid(format!("agent {agent} does not exist")))?;
    if !agent.active {
        return Err(AppError::invalid(format!("agent {} is deactivated", agent.email)));
    }
    Ok(())
}

/// Assigns the ticket to an active agent, or unassigns it with `None`.
pub fn assign(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    assignee: Option<AgentId>,
    actor: Actor,
) -> AppResult<Ticket> {
    change_ticket(conn, ticket_id, actor, "ticket.assignee_changed", |conn, t, _| {
        if t.assignee_id == assignee {
            return Ok(None);
        }
        if let Some(agent) = assignee {
            ensure_assignable(conn, agent)?;
        }
        diesel::update(tickets::table.find(t.id)).set(tickets::assignee_id.eq(assignee)).execute(conn)?;
        Ok(Some(("assignee_id", t.assignee_id.map(|a| a.to_string()), assignee.map(|a| a.to_string()))))
    })
}

/// Links the ticket to an instance (or unlinks it with `None`). The instance
/// must belong to the ticket's institution; a ticket without an institution
/// takes the instance's. Linking clears the triage flag.
pub fn link_instance(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    instance: Option<InstanceId>,
    actor: Actor,
) -> AppResult<Ticket> {
    change_ticket(conn, ticket_id, actor, "ticket.instance_linked", |conn, t, _| {
        if t.instance_id == instance {
            return Ok(None);
        }
        let institution = match instance {
            Some(id) => {
                let inst =
                    instances::get(conn, id).map_err(|_| AppError::invalid(format!("instance {id} does not exist")))?;
                match t.institution_id {
                    Some(own) if own != inst.institution_id => {
                        return Err(AppError::invalid(format!(
                            "instance {} belongs to another institution than the ticket",
                            inst.domain
                        )));
                    }
                    _ => Some(inst.institution_id),
                }
            }
            None => t.institution_id,
        };
        diesel::update(tickets::table.find(t.id))
            .set((
                tickets::instance_id.eq(instance),
                tickets::institution_id.eq(institution),
                tickets::needs_triage.eq(false),
                tickets::triage_reason.eq(None::<String>),
            ))
            .execute(conn)?;
        Ok(Some(("instance_id", t.instance_id.map(|i| i.to_string()), instance.map(|i| i.to_string()))))
    })
}

/// Replaces the ticket's tags with `tags` (normalised, deduplicated).
pub fn set_tags(conn: &mut AnyConnection, ticket_id: TicketId, tags: &[String], actor: Actor) -> AppResult<Ticket> {
    let wanted = normalize_tags(tags)?;
    change_ticket(conn, ticket_id, actor, "ticket.tags_changed", |conn, t, _| {
        let current = tags_of(conn, t.id)?;
        if current == wanted {
            return Ok(None);
        }
        diesel::delete(ticket_tags::table.filter(ticket_tags::ticket_id.eq(t.id))).execute(conn)?;
        for tag in &wanted {
            diesel::insert_into(ticket_tags::table)
                .values((ticket_tags::ticket_id.eq(t.id), ticket_tags::tag.eq(tag)))
                .execute(conn)?;
        }
        diesel::update(tickets::table.find(t.id)).set(tickets::tags.eq(tags_text(&wanted))).execute(conn)?;
        Ok(Some(("tags", Some(current.join(" ")), Some(wanted.join(" ")))))
    })
}

/// Most tags a ticket takes.
pub const MAX_TAGS: usize = 50;
/// Most bytes a ticket's tags take together, as [`tags_text`]: the text is
/// kept in PostgreSQL index entries (see migration `…_ticket_tags_column`),
/// which must stay well below the B-tree's limit of about 2,700 bytes.
pub const MAX_TAGS_BYTES: usize = 1000;

fn normalize_tags(tags: &[String]) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for t in tags.iter().filter(|t| !t.trim().is_empty()) {
        out.push(normalize_tag(t)?);
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_TAGS {
        return Err(AppError::invalid(format!("a ticket takes at most {MAX_TAGS} tags")));
    }
    if tags_text(&out).len() > MAX_TAGS_BYTES {
        return Err(AppError::invalid(format!("a ticket's tags take at most {MAX_TAGS_BYTES} bytes together")));
    }
    Ok(out)
}

/// `tickets.tags` for sorted, deduplicated `tags`: each tag with a space
/// before and after (`" backup dns "`), so `" dns "` matches the tag and
/// never part of another; `""` for none.
pub fn tags_text(tags: &[String]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let mut text = String::with_capacity(tags.iter().map(|t| t.len() + 1).sum::<usize>() + 1);
    text.push(' ');
    for tag in tags {
        text.push_str(tag);
        text.push(' ');
    }
    text
}

pub fn get(conn: &mut AnyConnection, id: TicketId) -> AppResult<Ticket> {
    crate::on_backend!(conn, |c| tickets::table.find(id).select(Ticket::as_select()).get_result(c))
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("ticket {id} not found")))
}

pub fn by_number(conn: &mut AnyConnection, number: i64) -> AppResult<Option<Ticket>> {
    // Every ticket page and API lookup: a cached statement (unique key, no LIMIT).
    Ok(crate::on_backend!(conn, |c| tickets::table
        .filter(tickets::number.eq(number))
        .select(Ticket::as_select())
        .get_result(c))
    .optional()?)
}

/// The ticket's tags, sorted.
pub fn tags_of(conn: &mut AnyConnection, id: TicketId) -> AppResult<Vec<String>> {
    Ok(crate::on_backend!(conn, |c| ticket_tags::table
        .filter(ticket_tags::ticket_id.eq(id))
        .order(ticket_tags::tag.asc())
        .select(ticket_tags::tag)
        .load(c))?)
}

/// The thread, oldest first.
pub fn messages_of(conn: &mut AnyConnection, id: TicketId) -> AppResult<Vec<Message>> {
    Ok(crate::on_backend!(conn, |c| messages::table
        .filter(messages::ticket_id.eq(id))
        .order((messages::created_at.asc(), messages::id.asc()))
        .select(Message::as_select())
        .load(c))?)
}

/// The attachments of a set of messages.
pub fn attachments_of(conn: &mut AnyConnection, message_ids: &[crate::db::MessageId]) -> AppResult<Vec<Attachment>> {
    // Cached on PostgreSQL (`= ANY($1)`); SQLite's `IN (?, …)` varies.
    Ok(crate::on_backend!(conn, |c| attachments::table
        .filter(attachments::message_id.eq_any(message_ids))
        .order(attachments::id.asc())
        .select(Attachment::as_select())
        .load(c))?)
}

/// The message with this RFC 5322 Message-ID, if Tusk has it.
pub fn message_by_rfc_id(conn: &mut AnyConnection, message_id: &str) -> AppResult<Option<Message>> {
    Ok(crate::on_backend!(conn, |c| messages::table
        .filter(messages::message_id.eq(message_id.trim()))
        .select(Message::as_select())
        .get_result(c))
    .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_text_pads_every_tag() {
        assert_eq!(tags_text(&[]), "");
        assert_eq!(tags_text(&["dns".into()]), " dns ");
        assert_eq!(tags_text(&["backup".into(), "dns".into()]), " backup dns ");
    }

    #[test]
    fn tag_limits() {
        let tags = |n: usize, len: usize| -> Vec<String> {
            (0..n).map(|i| format!("{i:03}{}", "x".repeat(len - 3))).collect()
        };
        assert_eq!(normalize_tags(&tags(50, 10)).map(|t| t.len()).ok(), Some(50));
        assert!(normalize_tags(&tags(51, 10)).is_err(), "51 tags");
        // 20 tags of 48 bytes: 20 * 49 + 1 = 981 bytes as text; 21 take 1,030.
        assert!(normalize_tags(&tags(20, 48)).is_ok());
        let err = normalize_tags(&tags(21, 48)).unwrap_err();
        assert!(err.to_string().contains("1000 bytes"), "{err}");
        // Duplicates and case count once; blanks are dropped.
        let t = normalize_tags(&["DNS".into(), "dns".into(), " ".into(), "backup".into()]).unwrap();
        assert_eq!(t, vec!["backup", "dns"]);
    }
}
