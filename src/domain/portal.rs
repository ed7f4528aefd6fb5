//! The customer web channel: the support form, magic-link sign-in, and what
//! a signed-in contact may see and do in the portal.
//!
//! Rules:
//! - A contact sees the tickets they requested; an institution admin
//!   (`contacts.is_institution_admin`) also sees every ticket of their
//!   institution. Anything else is "not found", exactly like a number that
//!   does not exist, so typing ids reveals nothing.
//! - Internal notes (`kind = note`) and their attachments never leave this
//!   module.
//! - Sign-in links carry a random 256-bit token; `magic_links` keeps only its
//!   SHA-256. A link works once and until it expires; redeeming it marks it
//!   used with a conditional update, so two concurrent clicks open one
//!   session.
//! - Spam defences of the support form: a honeypot field (a filled one is
//!   dropped silently), CSRF (checked by the web layer) and per-IP and
//!   per-address limits counted in `login_attempts` under `form-ip:<ip>` and
//!   `form-email:<address>` (sign-in links: `link-ip:` and `link-email:`).

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::events::EventRecord;
use super::outbox::{OutgoingMail, enqueue_mail};
use super::sessions::{self, Principal, Session};
use super::ticket_query::{self, PageRequest, Sort, TicketFilter, TicketPage, Visibility};
use super::tickets::{self, AttachmentInput, Author, MessageInput, TicketInput};
use super::validate::{email_domain, normalize_domain, normalize_email, required_line};
use super::{Actor, agents, contacts, instances, institutions};
use crate::config::Config;
use crate::db::models::{Attachment, Contact, Message, Ticket};
use crate::db::schema::{login_attempts, magic_links};
use crate::db::{AnyConnection, Channel, MessageKind, Priority, TicketStatus, now};
use crate::error::{AppError, AppResult};

/// Longest description or portal reply accepted, in characters.
pub const MAX_BODY_CHARS: usize = 50_000;
/// Longest subject typed on the form.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// The `[portal]` settings the domain needs, plus the support address and
/// the public URL (for links in emails).
#[derive(Debug, Clone)]
pub struct PortalSettings {
    pub link_ttl: Duration,
    pub link_max_per_email: i64,
    pub link_max_per_ip: i64,
    pub form_max_per_ip: i64,
    pub form_max_per_email: i64,
    pub window: Duration,
    pub max_attachment_bytes: usize,
    pub max_attachments: usize,
    pub attachment_types: Vec<String>,
    pub categories: Vec<String>,
    pub support_address: String,
    /// `server.public_url` without a trailing slash.
    pub public_url: String,
}

impl PortalSettings {
    pub fn from_config(config: &Config) -> Self {
        let p = &config.portal;
        Self {
            link_ttl: Duration::minutes(i64::from(p.magic_link_minutes.max(1))),
            link_max_per_email: i64::from(p.link_max_per_email),
            link_max_per_ip: i64::from(p.link_max_per_ip),
            form_max_per_ip: i64::from(p.form_max_per_ip),
            form_max_per_email: i64::from(p.form_max_per_email),
            window: Duration::minutes(i64::from(p.rate_window_minutes.max(1))),
            max_attachment_bytes: p.max_attachment_bytes,
            max_attachments: p.max_attachments as usize,
            attachment_types: p.attachment_types.iter().map(|t| t.to_ascii_lowercase()).collect(),
            categories: p.categories.clone(),
            support_address: config.support.address.clone(),
            public_url: config.server.public_url.trim_end_matches('/').to_string(),
        }
    }

    fn message_domain(&self) -> &str {
        email_domain(&self.support_address).filter(|d| !d.is_empty()).unwrap_or("tusk.invalid")
    }
}

// ---------------------------------------------------------------------------
// Attachments

/// A file uploaded with a form, before it is stored.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The name to store for an uploaded file: its last path component, without
/// control characters, at most 200 characters; `attachment` when empty.
pub fn clean_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() { "attachment".to_string() } else { cleaned }
}

/// The declared type without parameters, lower-cased.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether the first bytes agree with a declared binary type we can
/// recognise; other types are not sniffed.
fn sniff_matches(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        _ => true,
    }
}

/// Checks uploads against the limits: how many, how large, which types.
pub fn check_uploads(uploads: &[Upload], s: &PortalSettings) -> AppResult<()> {
    if uploads.len() > s.max_attachments {
        return Err(AppError::invalid(format!("at most {} attachments are accepted", s.max_attachments)));
    }
    for u in uploads {
        let name = clean_filename(&u.filename);
        if u.bytes.len() > s.max_attachment_bytes {
            return Err(AppError::new(
                crate::error::ErrorKind::TooLarge,
                format!("`{name}` is larger than {} bytes", s.max_attachment_bytes),
            ));
        }
        if u.bytes.is_empty() {
            return Err(AppError::invalid(format!("`{name}` is empty")));
        }
        let ct = essence(&u.content_type);
        if !s.attachment_types.contains(&ct) {
            return Err(AppError::invalid(format!("`{name}`: files of type {ct} are not accepted")));
        }
        if !sniff_matches(&ct, &u.bytes) {
            return Err(AppError::invalid(format!("`{name}` does not contain {ct} data")));
        }
    }
    Ok(())
}

/// The attachment row input of an upload stored under `sha256`.
pub fn attachment_input(upload: &Upload, sha256: String) -> AttachmentInput {
    AttachmentInput {
        sha256,
        filename: clean_filename(&upload.filename),
        content_type: essence(&upload.content_type),
        size_bytes: upload.bytes.len() as i64,
        content_id: None,
        inline: false,
    }
}

// ---------------------------------------------------------------------------
// Rate limits

fn attempts_since(conn: &mut AnyConnection, key: &str, since: NaiveDateTime) -> AppResult<i64> {
    Ok(login_attempts::table
        .filter(login_attempts::attempt_key.eq(key))
        .filter(login_attempts::created_at.ge(since))
        .count()
        .get_result(conn)?)
}

/// True when any `(key, max)` has `max` attempts or more in the window.
fn over_limit(conn: &mut AnyConnection, limits: &[(String, i64)], window: Duration) -> AppResult<bool> {
    let since = now() - window;
    for (key, max) in limits {
        if attempts_since(conn, key, since)? >= *max {
            return Ok(true);
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------------------
// The support form

/// The support form as submitted (text fields only).
#[derive(Debug, Clone, Default)]
pub struct SupportForm {
    pub name: String,
    pub email: String,
    /// The Mastodon instance's domain, as typed.
    pub instance: String,
    pub category: String,
    pub priority: String,
    pub subject: String,
    pub description: String,
    /// The honeypot: hidden from people, filled by robots.
    pub website: String,
}

/// A support form that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedForm {
    pub name: Option<String>,
    pub email: String,
    pub instance: Option<String>,
    pub category: String,
    pub priority: Priority,
    pub subject: String,
    pub description: String,
}

/// The priorities a customer may choose.
pub const CUSTOMER_PRIORITIES: &[Priority] = &[Priority::Low, Priority::Normal, Priority::High];

/// Whether the honeypot was filled (the submission is then dropped).
pub fn is_spam(form: &SupportForm) -> bool {
    !form.website.trim().is_empty()
}

/// Validates the form and its uploads without touching the database.
pub fn check_form(form: &SupportForm, uploads: &[Upload], s: &PortalSettings) -> AppResult<CheckedForm> {
    let email = normalize_email(&form.email)?;
    let name = match form.name.trim() {
        "" => None,
        n => Some(required_line("name", n, 200)?),
    };
    let priority = match form.priority.trim() {
        "" => Priority::Normal,
        p => p.parse::<Priority>().map_err(|_| AppError::invalid(format!("unknown priority `{p}`")))?,
    };
    if !CUSTOMER_PRIORITIES.contains(&priority) {
        return Err(AppError::invalid(
            "customers may choose low, normal or high priority; write what makes it urgent in the description",
        ));
    }
    let category = form.category.trim();
    let category = s
        .categories
        .iter()
        .find(|c| c.as_str() == category)
        .cloned()
        .ok_or_else(|| AppError::invalid("choose one of the listed categories"))?;
    let description = form.description.trim().to_string();
    if description.is_empty() {
        return Err(AppError::invalid("describe the problem"));
    }
    if description.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid(format!("the description is longer than {MAX_BODY_CHARS} characters")));
    }
    let subject = match form.subject.trim() {
        "" => {
            let first = description.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("Support request");
            let mut short: String = first.chars().filter(|c| !c.is_control()).take(80).collect();
            if first.chars().count() > 80 {
                short.push('…');
            }
            short
        }
        text => required_line("subject", text, MAX_SUBJECT_CHARS)?,
    };
    let instance = match form.instance.trim() {
        "" => None,
        text => {
            let text = text.trim_start_matches("https://").trim_start_matches("http://");
            let text = text.split('/').next().unwrap_or_default();
            let text = text.rsplit('@').next().unwrap_or_default();
            Some(normalize_domain(text).map_err(|_| {
                AppError::invalid(format!("`{}` is not a domain name like social.example.edu", form.instance.trim()))
            })?)
        }
    };
    check_uploads(uploads, s)?;
    Ok(CheckedForm { name, email, instance, category, priority, subject, description })
}

fn form_limits(email: &str, ip: &str, s: &PortalSettings) -> [(String, i64); 2] {
    [(format!("form-ip:{ip}"), s.form_max_per_ip), (format!("form-email:{email}"), s.form_max_per_email)]
}

/// Whether this client or address has opened too many tickets lately.
pub fn form_rate_limited(conn: &mut AnyConnection, email: &str, ip: &str, s: &PortalSettings) -> AppResult<bool> {
    over_limit(conn, &form_limits(email, ip, s), s.window)
}

/// What became of a support form.
#[derive(Debug, Clone)]
pub enum FormOutcome {
    Created { ticket: Box<Ticket>, triage_reason: Option<String> },
    RateLimited,
}

/// Opens a web ticket from a checked form, in one transaction: the contact
/// (found or created), the ticket and first message with attachments, the
/// acknowledgement email (whose link points at the portal), and the
/// rate-limit record. The instance is linked only when it is one of the
/// sender's institution's instances; otherwise the ticket is flagged for
/// triage with the reason.
///
/// `signed_in` is the contact of the portal session the form came with, if
/// any. Unless it is the requester's, nothing proved that the sender owns the
/// address typed in the form: the ticket gets a `ticket.sender_unverified`
/// event, which the console shows on the ticket (a request to change an
/// account or a setting of the instance should then be confirmed by email).
pub fn open_web_ticket(
    conn: &mut AnyConnection,
    form: CheckedForm,
    attachments: Vec<AttachmentInput>,
    ip: &str,
    s: &PortalSettings,
    signed_in: Option<crate::db::ContactId>,
) -> AppResult<FormOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let limits = form_limits(&form.email, ip, s);
        if over_limit(conn, &limits, s.window)? {
            return Ok(FormOutcome::RateLimited);
        }
        let contact = contacts::find_or_create(conn, &form.email, form.name.as_deref(), Actor::System)?;
        if contact.blocked {
            return Err(AppError::forbidden("this address may not open tickets"));
        }
        let institution = match contact.institution_id {
            Some(id) => Some(id),
            None => match email_domain(&contact.email) {
                Some(domain) => institutions::by_email_domain(conn, domain)?,
                None => None,
            },
        };
        let known = match institution {
            Some(id) => instances::of_institution(conn, id)?,
            None => Vec::new(),
        };
        let (instance, triage_reason) = match (&form.instance, institution) {
            (None, None) => (None, Some("web form: the sender's address belongs to no known institution".to_string())),
            (Some(typed), None) => (
                None,
                Some(format!(
                    "web form: the sender's address belongs to no known institution; instance named: `{typed}`"
                )),
            ),
            (Some(typed), Some(_)) => match known.iter().find(|i| &i.domain == typed) {
                Some(i) => (Some(i.id), None),
                None => (None, Some(format!("web form: unknown instance `{typed}` for the sender's institution"))),
            },
            (None, Some(_)) if known.len() == 1 => (Some(known[0].id), None),
            (None, Some(_)) => (None, Some("web form: no instance named".to_string())),
        };
        let message_id = tickets::generate_message_id(s.message_domain());
        let mut first =
            MessageInput::new(MessageKind::Inbound, Author::Contact(contact.id), form.description.clone(), message_id);
        first.from_address = Some(contact.email.clone());
        first.to_addresses = Some(s.support_address.clone());
        first.subject = Some(form.subject.clone());
        first.attachments = attachments;
        let (ticket, _) = tickets::create(
            conn,
            TicketInput {
                subject: form.subject.clone(),
                requester: contact.id,
                institution,
                institution_from_requester: true,
                instance,
                priority: form.priority,
                category: Some(form.category.clone()),
                channel: Channel::Web,
                status: None,
                assignee: None,
                tags: Vec::new(),
                triage_reason: triage_reason.clone(),
                first_message: first,
            },
            Actor::Contact(contact.id),
        )?;
        if signed_in != Some(contact.id) {
            EventRecord::ticket(ticket.id, UNVERIFIED_SENDER)
                .data(serde_json::json!({ "email": contact.email, "signed_in_as_another": signed_in.is_some() }))
                .write(conn, Actor::Contact(contact.id), ticket.created_at)?;
        }
        let recipients = vec![contact.email.clone()];
        let rfc_id = tickets::generate_message_id(s.message_domain());
        enqueue_mail(
            conn,
            &OutgoingMail {
                kind: "acknowledgement",
                ticket_id: Some(ticket.id),
                message_ref: None,
                recipients: &recipients,
                rfc_message_id: &rfc_id,
                payload: serde_json::json!({
                    "ticket_number": ticket.number,
                    "subject": ticket.subject,
                    "requester_name": contact.name,
                    "requester_email": contact.email,
                }),
            },
            now(),
        )?;
        let keys: Vec<String> = limits.into_iter().map(|(k, _)| k).collect();
        sessions::record_attempt(conn, &keys, true)?;
        Ok(FormOutcome::Created { ticket: Box::new(ticket), triage_reason })
    })
}

/// The event of a web ticket whose sender was not signed in as its
/// requester (see [`open_web_ticket`]).
pub const UNVERIFIED_SENDER: &str = "ticket.sender_unverified";

/// The data of the ticket's `ticket.sender_unverified` event (`Some(None)`
/// for an event without data), or `None` when it has none.
pub fn unverified_sender(conn: &mut AnyConnection, ticket: crate::db::TicketId) -> AppResult<Option<Option<String>>> {
    use crate::db::schema::events;
    Ok(events::table
        .filter(events::ticket_id.eq(ticket))
        .filter(events::action.eq(UNVERIFIED_SENDER))
        .select(events::data)
        .first::<Option<String>>(conn)
        .optional()?)
}

// ---------------------------------------------------------------------------
// Magic links

/// What became of a sign-in link request. The page shows the same answer for
/// `Sent` and `Ignored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRequest {
    Sent,
    /// Unknown or blocked address: nothing sent.
    Ignored,
    RateLimited,
}

/// The sign-in URL of a link token; `next` (a portal path) is where the
/// browser goes once signed in.
pub fn link_url(s: &PortalSettings, token: &str, next: Option<&str>) -> String {
    let mut url = format!("{}/support/login/{token}", s.public_url);
    if let Some(next) = next.filter(|n| n.starts_with("/support/") && !n.starts_with("//")) {
        url.push_str("?next=");
        for b in next.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                url.push(b as char);
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
    }
    url
}

/// Sends a sign-in link to a known, unblocked contact: the `magic_links` row
/// and the `magic_link` email in one transaction. Every request counts
/// toward the limits, known address or not.
pub fn request_link(
    conn: &mut AnyConnection,
    email: &str,
    ip: &str,
    s: &PortalSettings,
    next: Option<&str>,
) -> AppResult<LinkRequest> {
    let email = normalize_email(email)?;
    crate::db::write_transaction(conn, |conn| {
        let limits =
            [(format!("link-ip:{ip}"), s.link_max_per_ip), (format!("link-email:{email}"), s.link_max_per_email)];
        if over_limit(conn, &limits, s.window)? {
            return Ok(LinkRequest::RateLimited);
        }
        let keys: Vec<String> = limits.into_iter().map(|(k, _)| k).collect();
        sessions::record_attempt(conn, &keys, true)?;
        let Some(contact) = contacts::by_email(conn, &email)?.filter(|c| !c.blocked) else {
            return Ok(LinkRequest::Ignored);
        };
        let token = sessions::random_token();
        let at = now();
        diesel::insert_into(magic_links::table)
            .values((
                magic_links::token_hash.eq(sessions::token_hash(&token)),
                magic_links::contact_id.eq(contact.id.0),
                magic_links::created_at.eq(at),
                magic_links::expires_at.eq(at + s.link_ttl),
            ))
            .execute(conn)?;
        let recipients = vec![contact.email.clone()];
        let rfc_id = tickets::generate_message_id(s.message_domain());
        enqueue_mail(
            conn,
            &OutgoingMail {
                kind: "magic_link",
                ticket_id: None,
                message_ref: None,
                recipients: &recipients,
                rfc_message_id: &rfc_id,
                payload: serde_json::json!({
                    "link": link_url(s, &token, next),
                    "expires_in_minutes": s.link_ttl.num_minutes(),
                    "recipient_name": contact.name,
                }),
            },
            at,
        )?;
        Ok(LinkRequest::Sent)
    })
}

/// What a sign-in link gave.
#[derive(Debug)]
pub enum Redeem {
    /// A new session: the cookie token, the session and the contact.
    SignedIn { token: String, session: Session, contact: Contact },
    /// Unknown, tampered, expired or already used (one answer for all).
    Refused,
}

#[derive(Queryable)]
struct LinkRow {
    id: i64,
    contact_id: i64,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
}

/// Whether a sign-in link would be accepted now, without using it (the
/// confirmation page shown before the customer presses "Sign in", so that
/// mail scanners that open links do not use them up).
pub fn link_is_valid(conn: &mut AnyConnection, token: &str) -> AppResult<bool> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let row = magic_links::table
        .filter(magic_links::token_hash.eq(sessions::token_hash(token)))
        .select((magic_links::id, magic_links::contact_id, magic_links::expires_at, magic_links::used_at))
        .first::<LinkRow>(conn)
        .optional()?;
    Ok(row.is_some_and(|r| r.used_at.is_none() && r.expires_at > now()))
}

/// Redeems a sign-in link: marks it used (only if still unused) and opens a
/// session for its contact, in one transaction.
pub fn redeem_link(conn: &mut AnyConnection, token: &str, session_ttl: Duration) -> AppResult<Redeem> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Redeem::Refused);
    }
    crate::db::write_transaction(conn, |conn| {
        let at = now();
        let row = magic_links::table
            .filter(magic_links::token_hash.eq(sessions::token_hash(token)))
            .select((magic_links::id, magic_links::contact_id, magic_links::expires_at, magic_links::used_at))
            .first::<LinkRow>(conn)
            .optional()?;
        let Some(row) = row else { return Ok(Redeem::Refused) };
        if row.used_at.is_some() || row.expires_at <= at {
            return Ok(Redeem::Refused);
        }
        let claimed = diesel::update(
            magic_links::table.filter(magic_links::id.eq(row.id)).filter(magic_links::used_at.is_null()),
        )
        .set(magic_links::used_at.eq(Some(at)))
        .execute(conn)?;
        if claimed != 1 {
            return Ok(Redeem::Refused);
        }
        let contact = contacts::get(conn, crate::db::ContactId(row.contact_id))?;
        if contact.blocked {
            return Ok(Redeem::Refused);
        }
        let (token, session) = sessions::create(conn, Principal::Contact(contact.id.0), session_ttl)?;
        Ok(Redeem::SignedIn { token, session, contact })
    })
}

/// Drops links that expired more than a day ago.
pub fn purge_links(conn: &mut AnyConnection) -> AppResult<usize> {
    Ok(diesel::delete(magic_links::table.filter(magic_links::expires_at.lt(now() - Duration::days(1))))
        .execute(conn)?)
}

// ---------------------------------------------------------------------------
// What a signed-in contact sees

/// The tickets a contact may see in the portal.
pub fn visibility(contact: &Contact) -> Visibility {
    match contact.institution_id {
        Some(id) if contact.is_institution_admin => Visibility::Institution(id, contact.id),
        _ => Visibility::Requester(contact.id),
    }
}

/// Whether `contact` may see `ticket`: their own, or (institution admins)
/// any of their institution's.
pub fn can_see(contact: &Contact, ticket: &Ticket) -> bool {
    ticket.requester_id == contact.id
        || (contact.is_institution_admin
            && contact.institution_id.is_some()
            && ticket.institution_id == contact.institution_id)
}

fn not_found() -> AppError {
    AppError::not_found("no such ticket")
}

/// One page of the contact's tickets, most recently updated first. An
/// institution admin's list holds the institution's tickets and their own.
pub fn list_tickets(
    conn: &mut AnyConnection,
    contact: &Contact,
    cursor: Option<String>,
    limit: u32,
) -> AppResult<TicketPage> {
    let mut page = ticket_query::list(
        conn,
        &TicketFilter { visibility: visibility(contact), ..TicketFilter::default() },
        Sort::default(),
        &PageRequest { cursor, limit },
    )?;
    // A cursor never widens what may be seen, but check every row anyway.
    page.rows.retain(|r| {
        r.requester_id == contact.id || (contact.is_institution_admin && r.institution_id == contact.institution_id)
    });
    Ok(page)
}

fn visible_ticket(conn: &mut AnyConnection, contact: &Contact, number: i64) -> AppResult<Ticket> {
    match tickets::by_number(conn, number)? {
        Some(t) if can_see(contact, &t) => Ok(t),
        _ => Err(not_found()),
    }
}

/// A ticket's public thread as the portal shows it.
#[derive(Debug, Clone)]
pub struct PortalThread {
    pub ticket: Ticket,
    pub requester: Contact,
    pub instance_domain: Option<String>,
    /// Inbound messages and replies, oldest first; never notes.
    pub messages: Vec<Message>,
    /// Attachments of those messages only.
    pub attachments: Vec<Attachment>,
    /// Display names of the agents who replied, by agent id.
    pub agent_names: HashMap<i64, String>,
    /// Sent from the web form by someone not signed in as the requester
    /// (see [`open_web_ticket`]).
    pub sender_unverified: bool,
}

/// The thread of ticket `number`, if the contact may see it.
pub fn thread(conn: &mut AnyConnection, contact: &Contact, number: i64) -> AppResult<PortalThread> {
    let ticket = visible_ticket(conn, contact, number)?;
    let messages: Vec<Message> =
        tickets::messages_of(conn, ticket.id)?.into_iter().filter(|m| m.kind != MessageKind::Note).collect();
    let ids: Vec<crate::db::MessageId> = messages.iter().map(|m| m.id).collect();
    let attachments = tickets::attachments_of(conn, &ids)?;
    let mut agent_names = HashMap::new();
    for id in messages.iter().filter_map(|m| m.author_agent_id) {
        if let std::collections::hash_map::Entry::Vacant(e) = agent_names.entry(id.0) {
            e.insert(agents::get(conn, id)?.name);
        }
    }
    let requester = contacts::get(conn, ticket.requester_id)?;
    let instance_domain = match ticket.instance_id {
        Some(id) => Some(instances::get(conn, id)?.domain),
        None => None,
    };
    let sender_unverified = unverified_sender(conn, ticket.id)?.is_some();
    Ok(PortalThread { ticket, requester, instance_domain, messages, attachments, agent_names, sender_unverified })
}

/// An attachment the contact may download: on a visible ticket, and not on
/// an internal note. Anything else is "not found".
pub fn attachment(conn: &mut AnyConnection, contact: &Contact, id: i64) -> AppResult<Attachment> {
    use crate::db::schema::{attachments, messages};
    let gone = || AppError::not_found("no such attachment");
    let row: Option<(Attachment, Message)> = attachments::table
        .inner_join(messages::table)
        .filter(attachments::id.eq(id))
        .select((Attachment::as_select(), Message::as_select()))
        .first(conn)
        .optional()?;
    let Some((attachment, message)) = row else { return Err(gone()) };
    if message.kind == MessageKind::Note {
        return Err(gone());
    }
    let ticket = tickets::get(conn, message.ticket_id)?;
    if !can_see(contact, &ticket) {
        return Err(gone());
    }
    Ok(attachment)
}

/// Whether the contact may reply to the ticket now: it is visible to them
/// and not closed. Checked before a reply's files are stored; [`reply`]
/// checks again in its transaction.
pub fn check_can_reply(conn: &mut AnyConnection, contact: &Contact, number: i64) -> AppResult<()> {
    let ticket = visible_ticket(conn, contact, number)?;
    if ticket.status == TicketStatus::Closed {
        return Err(AppError::conflict(format!("ticket #{} is closed", ticket.number)));
    }
    Ok(())
}

/// Adds the contact's reply to a visible ticket (reopening it when it was
/// pending or solved; closed tickets take no more).
pub fn reply(
    conn: &mut AnyConnection,
    contact: &Contact,
    number: i64,
    body: &str,
    attachments: Vec<AttachmentInput>,
    s: &PortalSettings,
) -> AppResult<Ticket> {
    let body = body.trim();
    if body.is_empty() && attachments.is_empty() {
        return Err(AppError::invalid("the reply is empty"));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid(format!("the reply is longer than {MAX_BODY_CHARS} characters")));
    }
    crate::db::write_transaction(conn, |conn| {
        let ticket = visible_ticket(conn, contact, number)?;
        let mut input = MessageInput::new(
            MessageKind::Inbound,
            Author::Contact(contact.id),
            body,
            tickets::generate_message_id(s.message_domain()),
        );
        input.from_address = Some(contact.email.clone());
        input.to_addresses = Some(s.support_address.clone());
        input.attachments = attachments;
        let (ticket, _) = tickets::add_message(conn, ticket.id, input, Actor::Contact(contact.id))?;
        Ok(ticket)
    })
}

/// Marks a visible ticket solved (nothing to do when it is already).
pub fn solve(conn: &mut AnyConnection, contact: &Contact, number: i64) -> AppResult<Ticket> {
    crate::db::write_transaction(conn, |conn| {
        let ticket = visible_ticket(conn, contact, number)?;
        if ticket.status == TicketStatus::Solved {
            return Ok(ticket);
        }
        tickets::change_status(conn, ticket.id, TicketStatus::Solved, Actor::Contact(contact.id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PortalSettings {
        PortalSettings::from_config(&Config::defaults().unwrap())
    }

    fn form() -> SupportForm {
        SupportForm {
            name: "Ada".into(),
            email: "Ada@Uni.example".into(),
            instance: "https://Social.Uni.example/about".into(),
            category: "Question".into(),
            priority: "high".into(),
            subject: String::new(),
            description: "Our relay stopped.\nSince Monday.".into(),
            website: String::new(),
        }
    }

    #[test]
    fn a_good_form_is_normalised() {
        let f = check_form(&form(), &[], &settings()).unwrap();
        assert_eq!(f.email, "ada@uni.example");
        assert_eq!(f.instance.as_deref(), Some("social.uni.example"));
        assert_eq!(f.priority, Priority::High);
        assert_eq!(f.subject, "Our relay stopped.");
    }

    #[test]
    fn urgent_and_unknown_categories_are_refused() {
        let s = settings();
        let e = check_form(&SupportForm { priority: "urgent".into(), ..form() }, &[], &s).unwrap_err();
        assert!(e.message().contains("low, normal or high"));
        assert!(check_form(&SupportForm { category: "Spam".into(), ..form() }, &[], &s).is_err());
        assert!(check_form(&SupportForm { description: "  ".into(), ..form() }, &[], &s).is_err());
        assert!(check_form(&SupportForm { email: "nope".into(), ..form() }, &[], &s).is_err());
        assert!(check_form(&SupportForm { instance: "not a domain".into(), ..form() }, &[], &s).is_err());
    }

    #[test]
    fn uploads_are_checked_by_size_type_and_content() {
        let s = settings();
        let png = Upload {
            filename: "a.png".into(),
            content_type: "image/png".into(),
            bytes: b"\x89PNG\r\n\x1a\nxx".to_vec(),
        };
        check_uploads(std::slice::from_ref(&png), &s).unwrap();
        let fake = Upload { bytes: b"<script>".to_vec(), ..png.clone() };
        assert!(check_uploads(&[fake], &s).is_err());
        let exe = Upload { content_type: "application/x-msdownload".into(), ..png.clone() };
        assert!(check_uploads(&[exe], &s).is_err());
        let big =
            Upload { content_type: "text/plain".into(), bytes: vec![b'a'; s.max_attachment_bytes + 1], ..png.clone() };
        assert_eq!(check_uploads(&[big], &s).unwrap_err().kind, crate::error::ErrorKind::TooLarge);
        let many = vec![png; s.max_attachments + 1];
        assert!(check_uploads(&many, &s).is_err());
    }

    #[test]
    fn lists_can_be_set_from_the_environment() {
        let env = [("TUSK_PORTAL_CATEGORIES".to_string(), "Billing, Outage ,".to_string())];
        let loaded = Config::load_from(None, &env).unwrap();
        assert_eq!(loaded.config.portal.categories, ["Billing", "Outage"]);
        let env = [("TUSK_PORTAL_ATTACHMENT_TYPES".to_string(), "image/png, not-a-type".to_string())];
        let e = Config::load_from(None, &env).unwrap_err();
        assert_eq!(e.origin, "portal.attachment_types");
    }

    #[test]
    fn filenames_lose_paths_and_controls() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\x\\report.pdf"), "report.pdf");
        assert_eq!(clean_filename("a\r\nb.txt"), "ab.txt");
        assert_eq!(clean_filename(".."), "attachment");
    }
}
