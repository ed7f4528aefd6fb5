//! `/api/v1/tickets/{number}/messages`: the thread, and new replies or notes.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::{ProblemDoc, utc};
use super::{ApiCaller, Input, input};
use crate::db::models::Message;
use crate::db::{AgentId, MessageKind};
use crate::domain::api_ops::{self, PostMessage};
use crate::domain::api_tokens::Scope;
use crate::error::{AppError, AppResult};
use crate::web::AppState;

/// One entry of a ticket's thread.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageOut {
    pub id: i64,
    pub kind: MessageKind,
    pub author_contact_id: Option<i64>,
    pub author_agent_id: Option<i64>,
    pub from_address: Option<String>,
    pub to_addresses: Option<String>,
    pub cc_addresses: Option<String>,
    pub subject: Option<String>,
    pub body_text: String,
    /// RFC 5322 Message-ID, without angle brackets.
    pub message_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<Message> for MessageOut {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.0,
            kind: m.kind,
            author_contact_id: m.author_contact_id.map(|c| c.0),
            author_agent_id: m.author_agent_id.map(|a| a.0),
            from_address: m.from_address,
            to_addresses: m.to_addresses,
            cc_addresses: m.cc_addresses,
            subject: m.subject,
            body_text: m.body_text,
            message_id: m.message_id,
            created_at: utc(m.created_at),
        }
    }
}

/// A ticket's thread, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageListOut {
    pub messages: Vec<MessageOut>,
}

/// The thread of a ticket, oldest first, internal notes included.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/messages",
    tag = "messages",
    params(("number" = i64, Path, description = "Public ticket number")),
    responses(
        (status = 200, description = "The thread", body = MessageListOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The number is not an integer", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:read"]))
)]
pub async fn list_messages(
    caller: ApiCaller,
    state: web::Data<AppState>,
    number: Input<web::Path<i64>>,
) -> AppResult<HttpResponse> {
    caller.require(Scope::TicketsRead)?;
    let number = input(number)?.into_inner();
    let thread = state.db.run(move |conn| api_ops::thread(conn, number)).await?;
    Ok(HttpResponse::Ok().json(MessageListOut { messages: thread.into_iter().map(MessageOut::from).collect() }))
}

/// What kind of entry to add.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewMessageKind {
    /// A public reply, emailed to the requester.
    Reply,
    /// An internal note, never shown to customers.
    Note,
}

/// A reply or an internal note.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMessageBody {
    pub kind: NewMessageKind,
    pub body_text: String,
    /// The agent writing: required for a reply (it is signed with their
    /// name); for a note, absent means the API client itself.
    #[serde(default)]
    pub agent_id: Option<i64>,
    /// Extra recipients of a reply.
    #[serde(default)]
    pub cc: Option<Vec<String>>,
}

/// Adds a reply (stored and queued to the requester through the mail
/// outbox, in one transaction) or an internal note.
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/messages",
    tag = "messages",
    params(("number" = i64, Path, description = "Public ticket number")),
    request_body = CreateMessageBody,
    responses(
        (status = 201, description = "The message added", body = MessageOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:write, or the agent is inactive", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The ticket is closed", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`Content-Type: application/json`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body, or an agent that does not exist", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:write"]))
)]
pub async fn create_message(
    caller: ApiCaller,
    state: web::Data<AppState>,
    number: Input<web::Path<i64>>,
    body: Input<web::Json<CreateMessageBody>>,
) -> AppResult<HttpResponse> {
    let actor = caller.require(Scope::TicketsWrite)?;
    let number = input(number)?.into_inner();
    let b = input(body)?.into_inner();
    let input = match b.kind {
        NewMessageKind::Reply => PostMessage::Reply {
            agent: AgentId(b.agent_id.ok_or_else(|| AppError::invalid("a reply needs agent_id"))?),
            body_text: b.body_text,
            cc: b.cc.unwrap_or_default(),
        },
        NewMessageKind::Note => {
            if b.cc.as_ref().is_some_and(|cc| !cc.is_empty()) {
                return Err(AppError::invalid("a note is not emailed: cc is not allowed"));
            }
            PostMessage::Note { agent: b.agent_id.map(AgentId), body_text: b.body_text }
        }
    };
    let support = state.config.support.address.clone();
    let sla = state.sla.clone();
    let message = state
        .db
        .run(move |conn| {
            sla.change(conn, |conn| {
                let message = api_ops::post_message_to(conn, number, &input, actor, &support)?;
                let ticket_id = message.ticket_id;
                Ok((message, ticket_id))
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(MessageOut::from(message)))
}
