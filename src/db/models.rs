//! Row structs (`Queryable`/`Selectable`) and insert structs (`New…`), one
//! pair per table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::*;
use super::types::*;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = institutions)]
pub struct Institution {
    pub id: InstitutionId,
    pub slug: String,
    pub name: String,
    pub default_plan: String,
    pub status: InstitutionStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = institutions)]
pub struct NewInstitution<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub default_plan: &'a str,
    pub status: InstitutionStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = institution_domains)]
pub struct InstitutionDomain {
    pub id: i64,
    pub institution_id: InstitutionId,
    pub domain: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = institution_domains)]
pub struct NewInstitutionDomain<'a> {
    pub institution_id: InstitutionId,
    pub domain: &'a str,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = instances)]
pub struct Instance {
    pub id: InstanceId,
    pub domain: String,
    pub institution_id: InstitutionId,
    pub plan: String,
    pub status: InstanceStatus,
    pub mastodon_version: Option<String>,
    pub region: Option<String>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = instances)]
pub struct NewInstance<'a> {
    pub domain: &'a str,
    pub institution_id: InstitutionId,
    pub plan: &'a str,
    pub status: InstanceStatus,
    pub mastodon_version: Option<&'a str>,
    pub region: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = contacts)]
pub struct Contact {
    pub id: ContactId,
    pub email: String,
    pub name: Option<String>,
    pub institution_id: Option<InstitutionId>,
    pub is_institution_admin: bool,
    pub blocked: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = contacts)]
pub struct NewContact<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub institution_id: Option<InstitutionId>,
    pub is_institution_admin: bool,
    pub blocked: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = agents)]
pub struct Agent {
    pub id: AgentId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Argon2 PHC string; never serialised.
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = agents)]
pub struct NewAgent<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: TicketId,
    pub number: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Option<String>,
    pub channel: Channel,
    pub requester_id: ContactId,
    pub institution_id: Option<InstitutionId>,
    pub instance_id: Option<InstanceId>,
    pub assignee_id: Option<AgentId>,
    pub needs_triage: bool,
    pub triage_reason: Option<String>,
    pub merged_into_id: Option<TicketId>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub last_customer_message_at: Option<NaiveDateTime>,
    pub solved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// The earlier ticket this one follows up (a reply after it was closed).
    pub follow_up_of_id: Option<TicketId>,
    /// The tags as one text for the ticket list (see [`crate::domain::tickets::tags_text`]);
    /// `ticket_tags` is the record, read with [`crate::domain::tickets::tags_of`].
    #[serde(skip)]
    pub tags: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tickets)]
pub struct NewTicket<'a> {
    pub number: i64,
    pub subject: &'a str,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Option<&'a str>,
    pub channel: Channel,
    pub requester_id: ContactId,
    pub institution_id: Option<InstitutionId>,
    pub instance_id: Option<InstanceId>,
    pub assignee_id: Option<AgentId>,
    pub needs_triage: bool,
    pub triage_reason: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_customer_message_at: Option<NaiveDateTime>,
    pub tags: &'a str,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: MessageId,
    pub ticket_id: TicketId,
    pub kind: MessageKind,
    pub author_contact_id: Option<ContactId>,
    pub author_agent_id: Option<AgentId>,
    pub from_address: Option<String>,
    pub to_addresses: Option<String>,
    pub cc_addresses: Option<String>,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub body_html_sanitized: Option<String>,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub reference_ids: Option<String>,
    pub raw_blob: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessageRow<'a> {
    pub ticket_id: TicketId,
    pub kind: MessageKind,
    pub author_contact_id: Option<ContactId>,
    pub author_agent_id: Option<AgentId>,
    pub from_address: Option<&'a str>,
    pub to_addresses: Option<&'a str>,
    pub cc_addresses: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub body_html_sanitized: Option<&'a str>,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub reference_ids: Option<&'a str>,
    pub raw_blob: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    pub id: AttachmentId,
    pub message_id: MessageId,
    pub sha256: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub content_id: Option<String>,
    pub inline: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = attachments)]
pub struct NewAttachmentRow<'a> {
    pub message_id: MessageId,
    pub sha256: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub content_id: Option<&'a str>,
    pub inline: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: EventId,
    pub ticket_id: Option<TicketId>,
    pub subject_type: String,
    pub subject_id: i64,
    pub action: String,
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub data: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events)]
pub struct NewEventRow<'a> {
    pub ticket_id: Option<TicketId>,
    pub subject_type: &'a str,
    pub subject_id: i64,
    pub action: &'a str,
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub field: Option<&'a str>,
    pub old_value: Option<&'a str>,
    pub new_value: Option<&'a str>,
    pub data: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = mail_outbox)]
pub struct MailOutboxRow {
    pub id: i64,
    pub kind: String,
    pub ticket_id: Option<TicketId>,
    pub message_ref: Option<MessageId>,
    pub recipients: String,
    pub rfc_message_id: String,
    pub payload: String,
    pub state: MailState,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct NewMailOutboxRow<'a> {
    pub kind: &'a str,
    pub ticket_id: Option<TicketId>,
    pub message_ref: Option<MessageId>,
    pub recipients: &'a str,
    pub rfc_message_id: &'a str,
    pub payload: &'a str,
    pub state: MailState,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = search_outbox)]
pub struct SearchOutboxRow {
    pub id: i64,
    pub entity_type: String,
    pub entity_id: i64,
    pub op: SearchOp,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = search_outbox)]
pub struct NewSearchOutboxRow<'a> {
    pub entity_type: &'a str,
    pub entity_id: i64,
    pub op: SearchOp,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// The receipt of one inbound email: where its raw bytes are, and what
/// became of it (with a readable processing trace).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = inbound_messages)]
pub struct InboundMessage {
    pub id: i64,
    pub raw_blob: String,
    pub size_bytes: i64,
    pub source: String,
    pub origin: Option<String>,
    pub stable_id: Option<String>,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub ticket_id: Option<TicketId>,
    pub message_ref: Option<MessageId>,
    /// JSON array of strings.
    pub trace: String,
    pub attempts: i32,
    pub received_at: NaiveDateTime,
    pub processed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = inbound_messages)]
pub struct NewInboundMessage<'a> {
    pub raw_blob: &'a str,
    pub size_bytes: i64,
    pub source: &'a str,
    pub origin: Option<&'a str>,
    pub trace: &'a str,
    pub received_at: NaiveDateTime,
}
