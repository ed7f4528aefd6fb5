//! Operations the JSON API offers that combine several domain functions,
//! each in one transaction (so a refused request writes nothing): opening a
//! ticket for a requester given by address, adding a reply or note, and
//! retiring institutions and instances.

use super::ticket_query::{self, TicketListRow, Visibility};
use super::ticket_update::{self, TicketUpdate};
use super::tickets::{self, Author, MessageInput, TicketInput};
use super::{Actor, Plans, contacts, instances, institutions, replies};
use crate::db::models::{Instance, Institution, Message};
use crate::db::{AgentId, AnyConnection, Channel, InstanceStatus, InstitutionStatus, MessageKind, Priority, TicketId};
use crate::error::{AppError, AppResult};

/// A ticket opened through the API on behalf of a customer.
#[derive(Debug, Clone)]
pub struct OpenTicket {
    pub subject: String,
    pub requester_email: String,
    pub requester_name: Option<String>,
    /// The instance by domain; it decides the institution.
    pub instance_domain: Option<String>,
    pub priority: Priority,
    pub category: Option<String>,
    pub body_text: String,
    pub tags: Vec<String>,
    pub assignee: Option<AgentId>,
}

/// What to add to a thread.
#[derive(Debug, Clone)]
pub enum PostMessage {
    /// A public reply by an agent, emailed to the requester (and `cc`).
    Reply { agent: AgentId, body_text: String, cc: Vec<String> },
    /// An internal note, by an agent or by the API client itself.
    Note { agent: Option<AgentId>, body_text: String },
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).filter(|d| !d.is_empty()).unwrap_or("tusk.invalid")
}

/// The ticket with this public number.
pub fn ticket_id(conn: &mut AnyConnection, number: i64) -> AppResult<TicketId> {
    tickets::by_number(conn, number)?
        .map(|t| t.id)
        .ok_or_else(|| AppError::not_found(format!("ticket #{number} not found")))
}

/// Finds or creates the requester and opens the ticket (channel `api`),
/// in one transaction.
pub fn open_ticket(
    conn: &mut AnyConnection,
    input: &OpenTicket,
    actor: Actor,
    support_address: &str,
) -> AppResult<TicketId> {
    crate::db::write_transaction(conn, |conn| {
        let instance = match input.instance_domain.as_deref() {
            Some(d) => {
                let domain = super::validate::normalize_domain(d)?;
                Some(
                    instances::by_domain(conn, &domain)?
                        .ok_or_else(|| AppError::invalid(format!("unknown instance `{domain}`")))?
                        .id,
                )
            }
            None => None,
        };
        let requester = contacts::find_or_create(conn, &input.requester_email, input.requester_name.as_deref(), actor)?;
        if requester.blocked {
            return Err(AppError::forbidden("the requester is blocked"));
        }
        let message_id = tickets::generate_message_id(domain_of(support_address));
        let mut first =
            MessageInput::new(MessageKind::Inbound, Author::Contact(requester.id), &input.body_text, message_id);
        first.from_address = Some(requester.email.clone());
        first.subject = Some(input.subject.clone());
        let (ticket, _) = tickets::create(
            conn,
            TicketInput {
                subject: input.subject.clone(),
                requester: requester.id,
                institution: None,
                institution_from_requester: true,
                instance,
                priority: input.priority,
                category: input.category.clone(),
                channel: Channel::Api,
                status: None,
                assignee: input.assignee,
                tags: input.tags.clone(),
                triage_reason: None,
                first_message: first,
            },
            actor,
        )?;
        Ok(ticket.id)
    })
}

/// Adds a reply (through the mail outbox) or an internal note.
pub fn post_message(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    input: &PostMessage,
    actor: Actor,
    support_address: &str,
) -> AppResult<Message> {
    match input {
        PostMessage::Reply { agent, body_text, cc } => {
            if body_text.trim().is_empty() {
                return Err(AppError::invalid("the reply is empty"));
            }
            super::agents::get(conn, *agent).map_err(|_| AppError::invalid(format!("agent {agent} does not exist")))?;
            let reply = replies::ReplyInput { body_text: body_text.clone(), body_html: None, cc: cc.clone() };
            Ok(replies::reply_by_email(conn, ticket_id, *agent, &reply, support_address)?.message)
        }
        PostMessage::Note { agent, body_text } => crate::db::write_transaction(conn, |conn| {
            let author = match agent {
                Some(a) => {
                    let row = super::agents::get(conn, *a)
                        .map_err(|_| AppError::invalid(format!("agent {a} does not exist")))?;
                    if !row.active {
                        return Err(AppError::forbidden("an inactive agent cannot write notes"));
                    }
                    Author::Agent(row.id)
                }
                None => Author::System,
            };
            let id = tickets::generate_message_id(domain_of(support_address));
            let note = MessageInput::new(MessageKind::Note, author, body_text, id);
            Ok(tickets::add_message(conn, ticket_id, note, actor)?.1)
        }),
    }
}

/// Marks the institution inactive (its tickets and history stay).
pub fn deactivate_institution(
    conn: &mut AnyConnection,
    plans: &Plans,
    slug: &str,
    actor: Actor,
) -> AppResult<(Institution, Vec<String>)> {
    crate::db::write_transaction(conn, |conn| {
        let current = institutions::by_slug(conn, slug)?
            .ok_or_else(|| AppError::not_found(format!("institution `{}` not found", slug.trim())))?;
        let input = institutions::InstitutionInput {
            slug: current.slug.clone(),
            name: current.name.clone(),
            default_plan: None,
            status: Some(InstitutionStatus::Inactive),
            domains: None,
        };
        let institution = institutions::upsert(conn, plans, &input, actor)?.0;
        let domains = institutions::domains_of(conn, institution.id)?;
        Ok((institution, domains))
    })
}

/// Marks the instance decommissioned (its tickets and history stay).
pub fn decommission_instance(
    conn: &mut AnyConnection,
    plans: &Plans,
    domain: &str,
    actor: Actor,
) -> AppResult<(Instance, String)> {
    crate::db::write_transaction(conn, |conn| {
        let current = instances::by_domain(conn, domain)?
            .ok_or_else(|| AppError::not_found(format!("instance `{}` not found", domain.trim())))?;
        let owner = institutions::get(conn, current.institution_id)?;
        let input = instances::InstanceInput {
            domain: current.domain.clone(),
            institution_slug: owner.slug.clone(),
            status: Some(InstanceStatus::Decommissioned),
            ..Default::default()
        };
        Ok((instances::upsert(conn, plans, &input, actor)?.0, owner.slug))
    })
}

/// An institution and its email domains.
pub fn institution_record(conn: &mut AnyConnection, slug: &str) -> AppResult<(Institution, Vec<String>)> {
    let institution = institutions::by_slug(conn, slug)?
        .ok_or_else(|| AppError::not_found(format!("institution `{}` not found", slug.trim())))?;
    let domains = institutions::domains_of(conn, institution.id)?;
    Ok((institution, domains))
}

/// Creates or updates an institution; returns it with its email domains.
/// Two callers creating the same new institution at once both succeed (see
/// [`crate::db::write_transaction_retrying_unique`]).
pub fn upsert_institution(
    conn: &mut AnyConnection,
    plans: &Plans,
    input: &institutions::InstitutionInput,
    actor: Actor,
) -> AppResult<(Institution, Vec<String>, super::Upserted)> {
    crate::db::write_transaction_retrying_unique(conn, |conn| {
        let (institution, outcome) = institutions::upsert(conn, plans, input, actor)?;
        let domains = institutions::domains_of(conn, institution.id)?;
        Ok((institution, domains, outcome))
    })
}

/// An instance and the slug of its institution.
pub fn instance_record(conn: &mut AnyConnection, domain: &str) -> AppResult<(Instance, String)> {
    let instance = instances::by_domain(conn, domain)?
        .ok_or_else(|| AppError::not_found(format!("instance `{}` not found", domain.trim())))?;
    let slug = institutions::get(conn, instance.institution_id)?.slug;
    Ok((instance, slug))
}

/// Creates or updates an instance; returns it with its institution's slug.
/// Two callers creating the same new instance at once both succeed (see
/// [`crate::db::write_transaction_retrying_unique`]).
pub fn upsert_instance(
    conn: &mut AnyConnection,
    plans: &Plans,
    input: &instances::InstanceInput,
    actor: Actor,
) -> AppResult<(Instance, String, super::Upserted)> {
    crate::db::write_transaction_retrying_unique(conn, |conn| {
        let (instance, outcome) = instances::upsert(conn, plans, input, actor)?;
        let slug = institutions::get(conn, instance.institution_id)?.slug;
        Ok((instance, slug, outcome))
    })
}

/// The ticket with this public number, as a list row (staff view).
pub fn ticket_row(conn: &mut AnyConnection, number: i64) -> AppResult<TicketListRow> {
    let id = ticket_id(conn, number)?;
    ticket_query::get(conn, id, Visibility::Staff)
}

/// Opens a ticket ([`open_ticket`]) and answers it as a list row.
pub fn open_ticket_row(
    conn: &mut AnyConnection,
    input: &OpenTicket,
    actor: Actor,
    support_address: &str,
) -> AppResult<TicketListRow> {
    let id = open_ticket(conn, input, actor, support_address)?;
    ticket_query::get(conn, id, Visibility::Staff)
}

/// Applies several changes to the ticket with this number in one
/// transaction ([`ticket_update::update`]) and answers it as a list row.
pub fn update_ticket_row(
    conn: &mut AnyConnection,
    number: i64,
    update: &TicketUpdate,
    actor: Actor,
    support_address: &str,
) -> AppResult<TicketListRow> {
    let id = ticket_id(conn, number)?;
    ticket_update::update(conn, id, update, actor, support_address)?;
    ticket_query::get(conn, id, Visibility::Staff)
}

/// The thread of the ticket with this number, oldest first, notes included.
pub fn thread(conn: &mut AnyConnection, number: i64) -> AppResult<Vec<Message>> {
    let id = ticket_id(conn, number)?;
    tickets::messages_of(conn, id)
}

/// Adds a reply or note ([`post_message`]) to the ticket with this number.
pub fn post_message_to(
    conn: &mut AnyConnection,
    number: i64,
    input: &PostMessage,
    actor: Actor,
    support_address: &str,
) -> AppResult<Message> {
    let id = ticket_id(conn, number)?;
    post_message(conn, id, input, actor, support_address)
}
