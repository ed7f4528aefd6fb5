//! The contact's tickets: list, thread (never internal notes), reply with
//! attachments, mark solved, attachment download. Everything the contact may
//! not see answers 404, whatever number is typed.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{OrPortal, PortalChrome, flash_text, read_multipart, render, see_other, settings, store_uploads};
use crate::db::models::Attachment;
use crate::db::{MessageKind, TicketStatus};
use crate::domain::portal;
use crate::error::AppError;
use crate::web::AppState;
use crate::web::console::local_time;
use crate::web::console::tickets::attachment_response;
use crate::web::session::{ContactUser, PageError};

/// Tickets per page of the list.
const PAGE_SIZE: u32 = 25;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub flash: Option<String>,
}

#[derive(Serialize)]
struct RowView {
    number: i64,
    subject: String,
    status: String,
    priority: String,
    requester: String,
    instance: Option<String>,
    updated: String,
}

#[derive(Serialize)]
struct ListPage {
    chrome: PortalChrome,
    rows: Vec<RowView>,
    next_cursor: Option<String>,
    first_page: bool,
    institution_wide: bool,
}

/// A ticket number from the path; anything else is "not found".
fn number_of(text: &str) -> Result<i64, PageError> {
    text.trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .map_err(|_| PageError::portal(AppError::not_found("no such ticket")))
}

/// `GET /support`: the contact's tickets (an institution admin's: the
/// institution's).
pub async fn list_tickets(
    state: web::Data<AppState>,
    user: ContactUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let contact = user.contact.clone();
    let cursor = query.cursor.clone().filter(|c| !c.trim().is_empty());
    let first_page = cursor.is_none();
    let page = state.db.run(move |conn| portal::list_tickets(conn, &contact, cursor, PAGE_SIZE)).await.portal()?;
    let rows = page
        .rows
        .into_iter()
        .map(|r| RowView {
            number: r.number,
            subject: r.subject,
            status: r.status.to_string(),
            priority: r.priority.to_string(),
            requester: r.requester_name.unwrap_or(r.requester_email),
            instance: r.instance_domain,
            updated: local_time(&state, r.updated_at),
        })
        .collect();
    let view = ListPage {
        chrome: PortalChrome::new(&state, Some(&user), "My tickets").with_flash(flash_text(query.flash.as_deref())),
        rows,
        next_cursor: page.next_cursor,
        first_page,
        institution_wide: matches!(
            portal::visibility(&user.contact),
            crate::domain::ticket_query::Visibility::Institution(..)
        ),
    };
    render(&state, "portal/tickets", &view, StatusCode::OK, None)
}

#[derive(Serialize)]
struct AttachmentView {
    id: i64,
    filename: String,
    size: String,
}

#[derive(Serialize)]
struct EntryView {
    from_support: bool,
    author: String,
    at: String,
    html: Option<String>,
    text: Option<String>,
    attachments: Vec<AttachmentView>,
}

#[derive(Serialize)]
struct TicketPage {
    chrome: PortalChrome,
    number: i64,
    subject: String,
    status: String,
    priority: String,
    category: Option<String>,
    instance: Option<String>,
    requester: String,
    /// The requester's address, when someone not signed in as them sent the
    /// ticket from the web form and the reader is not them.
    unverified_requester: Option<String>,
    created: String,
    entries: Vec<EntryView>,
    can_reply: bool,
    can_solve: bool,
    max_attachments: usize,
    accept: String,
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.0} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// `GET /support/tickets/{number}`
pub async fn show_ticket(
    state: web::Data<AppState>,
    user: ContactUser,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let number = number_of(&path)?;
    let contact = user.contact.clone();
    let t = state.db.run(move |conn| portal::thread(conn, &contact, number)).await.portal()?;
    let mut by_message: HashMap<i64, Vec<&Attachment>> = HashMap::new();
    for a in &t.attachments {
        by_message.entry(a.message_id.0).or_default().push(a);
    }
    let support_name = state.config.support.name.clone();
    let entries = t
        .messages
        .iter()
        .filter(|m| m.kind != MessageKind::Note)
        .map(|m| {
            let html = m.body_html_sanitized.clone().filter(|h| !h.trim().is_empty());
            let author = match m.author_agent_id {
                Some(id) => {
                    let name = t.agent_names.get(&id.0).cloned().unwrap_or_default();
                    format!("{name} ({support_name})")
                }
                None => m.from_address.clone().unwrap_or_else(|| support_name.clone()),
            };
            EntryView {
                from_support: m.kind == MessageKind::Reply,
                author,
                at: local_time(&state, m.created_at),
                text: if html.is_none() { Some(m.body_text.clone()) } else { None },
                html,
                attachments: by_message
                    .get(&m.id.0)
                    .map(|list| {
                        list.iter()
                            .map(|a| AttachmentView {
                                id: a.id.0,
                                filename: a.filename.clone(),
                                size: human_size(a.size_bytes),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let s = settings(&state);
    let status = t.ticket.status;
    let view = TicketPage {
        chrome: PortalChrome::new(&state, Some(&user), format!("#{} {}", t.ticket.number, t.ticket.subject))
            .with_flash(flash_text(query.flash.as_deref())),
        number: t.ticket.number,
        subject: t.ticket.subject.clone(),
        status: status.to_string(),
        priority: t.ticket.priority.to_string(),
        category: t.ticket.category.clone(),
        instance: t.instance_domain.clone(),
        requester: t.requester.name.clone().unwrap_or_else(|| t.requester.email.clone()),
        // Told to the institution's admins reading a colleague's ticket.
        unverified_requester: (t.sender_unverified && t.requester.id != user.contact.id)
            .then(|| t.requester.email.clone()),
        created: local_time(&state, t.ticket.created_at),
        entries,
        can_reply: status != TicketStatus::Closed,
        can_solve: !status.is_done(),
        max_attachments: s.max_attachments,
        accept: s.attachment_types.join(","),
    };
    render(&state, "portal/ticket", &view, StatusCode::OK, None)
}

/// `POST /support/tickets/{number}/reply` (multipart: `_csrf`, `body`,
/// files).
pub async fn create_reply(
    state: web::Data<AppState>,
    user: ContactUser,
    path: web::Path<String>,
    payload: Multipart,
) -> Result<HttpResponse, PageError> {
    let number = number_of(&path)?;
    let s = settings(&state);
    let parsed = read_multipart(payload, s.max_attachments, s.max_attachment_bytes).await.portal()?;
    user.check_csrf(&parsed.text("_csrf")).portal()?;
    portal::check_uploads(&parsed.files, &s).portal()?;
    let body = parsed.text("body");
    if body.trim().is_empty() && parsed.files.is_empty() {
        return Err(PageError::portal(AppError::invalid("the reply is empty")));
    }
    // Refuse before storing anything when the ticket is not visible or closed.
    let contact = user.contact.clone();
    state.db.run(move |conn| portal::check_can_reply(conn, &contact, number)).await.portal()?;
    let attachments = store_uploads(&state, parsed.files).await.portal()?;
    let contact = user.contact.clone();
    let sla = state.sla.clone();
    state
        .db
        .run(move |conn| {
            sla.change(conn, |conn| Ok(((), portal::reply(conn, &contact, number, &body, attachments, &s)?.id)))
        })
        .await
        .portal()?;
    Ok(see_other(format!("/support/tickets/{number}?flash=replied")))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// `POST /support/tickets/{number}/solve`
pub async fn solve_ticket(
    state: web::Data<AppState>,
    user: ContactUser,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf).portal()?;
    let number = number_of(&path)?;
    let contact = user.contact.clone();
    let sla = state.sla.clone();
    state
        .db
        .run(move |conn| sla.change(conn, |conn| Ok(((), portal::solve(conn, &contact, number)?.id))))
        .await
        .portal()?;
    Ok(see_other(format!("/support/tickets/{number}?flash=solved")))
}

/// `GET /support/attachments/{id}`: only attachments of visible tickets,
/// never of internal notes.
pub async fn show_attachment(
    state: web::Data<AppState>,
    user: ContactUser,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id: i64 = path.trim().parse().map_err(|_| PageError::portal(AppError::not_found("no such attachment")))?;
    let contact = user.contact.clone();
    let attachment = state.db.run(move |conn| portal::attachment(conn, &contact, id)).await.portal()?;
    attachment_response(&state, &attachment).await.portal()
}
