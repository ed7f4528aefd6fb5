//! Email that agents cause: a public reply, and the "solved" notice. Each is
//! one transaction that changes the ticket and queues the email in the mail
//! outbox, so the email goes out if and only if the change is committed.
//!
//! Payloads queued here (the mail worker reads them):
//! - `reply`: `{ticket_number, subject, agent_name, requester_name,
//!   requester_email}`; the body is the thread message `message_ref`.
//! - `solved`: `{ticket_number, subject, requester_name, requester_email}`.

use super::outbox::{OutgoingMail, enqueue_mail};
use super::tickets::{self, Author, MessageInput};
use super::{Actor, agents, contacts};
use crate::db::models::{Message, Ticket};
use crate::db::{AgentId, AnyConnection, MessageKind, TicketId, TicketStatus, now};
use crate::error::{AppError, AppResult};

/// At most this many ids in a `References` header we write (the first
/// message and the most recent ones, as RFC 5322 suggests when trimming).
pub const MAX_REFERENCES: usize = 30;

/// What an agent writes in a public reply.
#[derive(Debug, Clone, Default)]
pub struct ReplyInput {
    pub body_text: String,
    /// HTML as written in the console; sanitized before it is stored or sent.
    /// `None`: made from the text.
    pub body_html: Option<String>,
    /// Extra recipients besides the requester.
    pub cc: Vec<String>,
}

/// A reply stored and queued.
#[derive(Debug, Clone)]
pub struct QueuedReply {
    pub ticket: Ticket,
    pub message: Message,
    /// The `mail_outbox` row; its `rfc_message_id` is the message's Message-ID.
    pub outbox_id: i64,
}

/// The threading headers of an email answering the thread: the customer's
/// last message (`In-Reply-To`) and the thread's ids oldest first
/// (`References`), internal notes left out. Trimmed to the first id and the
/// most recent ones.
pub fn thread_headers(thread: &[Message]) -> (Option<String>, Vec<String>) {
    let public: Vec<&Message> = thread.iter().filter(|m| m.kind != MessageKind::Note).collect();
    let in_reply_to = public.iter().rev().find(|m| m.kind == MessageKind::Inbound).map(|m| m.message_id.clone());
    let mut references: Vec<String> = Vec::new();
    for m in &public {
        // The customer's own References carry ids of mail we never stored.
        if let Some(refs) = &m.reference_ids {
            for id in refs.split_whitespace() {
                if !references.iter().any(|r| r == id) {
                    references.push(id.to_owned());
                }
            }
        }
        if !references.contains(&m.message_id) {
            references.push(m.message_id.clone());
        }
    }
    if references.len() > MAX_REFERENCES {
        let tail = references.split_off(references.len() - (MAX_REFERENCES - 1));
        references.truncate(1);
        references.extend(tail);
    }
    (in_reply_to, references)
}

/// Escapes text and keeps its paragraphs and line breaks, for an HTML body
/// made from a plain-text reply.
pub fn text_to_html(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    escaped
        .replace("\r\n", "\n")
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", p.trim_matches('\n').replace('\n', "<br>\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).filter(|d| !d.is_empty()).unwrap_or("tusk.invalid")
}

/// Adds an agent's public reply to the thread and queues it to the
/// requester (and `cc`) in one transaction. The message gets a new
/// Message-ID in `support_address`'s domain, and the outbox row carries the
/// same id, so the customer's answer (`In-Reply-To` it) threads back into
/// this ticket. `In-Reply-To`/`References` are fixed now, from the thread.
pub fn reply_by_email(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    agent_id: AgentId,
    input: &ReplyInput,
    support_address: &str,
) -> AppResult<QueuedReply> {
    let cc: Vec<String> =
        input.cc.iter().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect::<Vec<_>>();
    if let Some(bad) = cc.iter().find(|a| !a.contains('@') || a.contains(char::is_whitespace)) {
        return Err(AppError::invalid(format!("`{bad}` is not an email address")));
    }
    let body_html = match &input.body_html {
        Some(html) => ammonia::clean(html),
        None => text_to_html(&input.body_text),
    };
    crate::db::write_transaction(conn, |conn| {
        let ticket = tickets::get(conn, ticket_id)?;
        let agent = agents::get(conn, agent_id)?;
        if !agent.active {
            return Err(AppError::forbidden("an inactive agent cannot reply"));
        }
        let requester = contacts::get(conn, ticket.requester_id)?;
        let (in_reply_to, references) = thread_headers(&tickets::messages_of(conn, ticket.id)?);
        let rfc_id = tickets::generate_message_id(domain_of(support_address));
        let mut recipients = vec![requester.email.clone()];
        for a in cc {
            if !recipients.contains(&a) {
                recipients.push(a);
            }
        }
        let subject = format!("Re: {}", ticket.subject);
        let mut message = MessageInput::new(MessageKind::Reply, Author::Agent(agent.id), &input.body_text, &rfc_id);
        message.from_address = Some(support_address.to_owned());
        message.to_addresses = Some(requester.email.clone());
        message.cc_addresses = (recipients.len() > 1).then(|| recipients[1..].join(", "));
        message.subject = Some(subject);
        message.body_html = Some(body_html.clone());
        message.body_html_sanitized = Some(body_html);
        message.in_reply_to = in_reply_to;
        message.references = (!references.is_empty()).then(|| references.join(" "));
        let (ticket, message) = tickets::add_message(conn, ticket.id, message, Actor::Agent(agent.id))?;
        let outbox_id = enqueue_mail(
            conn,
            &OutgoingMail {
                kind: "reply",
                ticket_id: Some(ticket.id),
                message_ref: Some(message.id),
                recipients: &recipients,
                rfc_message_id: &rfc_id,
                payload: serde_json::json!({
                    "ticket_number": ticket.number,
                    "subject": ticket.subject,
                    "agent_name": agent.name,
                    "requester_name": requester.name,
                    "requester_email": requester.email,
                }),
            },
            now(),
        )?;
        Ok(QueuedReply { ticket, message, outbox_id })
    })
}

/// Marks a ticket solved and tells the requester, in one transaction. The
/// console calls this when an agent solves a ticket and wants the customer
/// told; [`tickets::change_status`] alone changes the status silently.
/// Returns the ticket and the outbox row (none when it was solved already).
pub fn solve_and_notify(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    actor: Actor,
    support_address: &str,
) -> AppResult<(Ticket, Option<i64>)> {
    crate::db::write_transaction(conn, |conn| {
        let before = tickets::get(conn, ticket_id)?;
        if before.status == TicketStatus::Solved {
            return Ok((before, None));
        }
        let ticket = tickets::change_status(conn, ticket_id, TicketStatus::Solved, actor)?;
        let requester = contacts::get(conn, ticket.requester_id)?;
        let rfc_id = tickets::generate_message_id(domain_of(support_address));
        let outbox_id = enqueue_mail(
            conn,
            &OutgoingMail {
                kind: "solved",
                ticket_id: Some(ticket.id),
                message_ref: None,
                recipients: std::slice::from_ref(&requester.email),
                rfc_message_id: &rfc_id,
                payload: serde_json::json!({
                    "ticket_number": ticket.number,
                    "subject": ticket.subject,
                    "requester_name": requester.name,
                    "requester_email": requester.email,
                }),
            },
            now(),
        )?;
        Ok((ticket, Some(outbox_id)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_escaped_paragraphs() {
        assert_eq!(
            text_to_html("Hello <Ada> & co,\n\nline one\nline two\n"),
            "<p>Hello &lt;Ada&gt; &amp; co,</p>\n<p>line one<br>\nline two</p>"
        );
    }
}
