//! The support form at `/support/new`: anyone may open a ticket (channel
//! `web`); the acknowledgement email carries the portal link.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::{OrPortal, PortalChrome, read_multipart, render, settings, store_uploads};
use crate::domain::portal::{self, CUSTOMER_PRIORITIES, FormOutcome, SupportForm};
use crate::error::{AppError, ErrorKind};
use crate::web::AppState;
use crate::web::session::{ContactUser, PageError, check_pre_session_csrf, client_ip, pre_session_csrf};

#[derive(Serialize)]
struct Choice {
    value: String,
    selected: bool,
}

#[derive(Serialize)]
struct FormPage {
    chrome: PortalChrome,
    csrf: String,
    error: Option<String>,
    name: String,
    email: String,
    instance: String,
    subject: String,
    description: String,
    categories: Vec<Choice>,
    priorities: Vec<Choice>,
    max_attachments: usize,
    max_attachment_mb: String,
    accept: String,
}

#[derive(Serialize)]
struct DonePage {
    chrome: PortalChrome,
    number: Option<i64>,
    email: String,
}

fn form_page(
    state: &AppState,
    req: &HttpRequest,
    user: Option<&ContactUser>,
    form: &SupportForm,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let s = settings(state);
    let (csrf, cookie) = pre_session_csrf(req);
    let priority = if form.priority.is_empty() { "normal" } else { form.priority.as_str() };
    let page = FormPage {
        chrome: PortalChrome::new(state, user, "New support request"),
        csrf,
        error,
        name: form.name.clone(),
        email: form.email.clone(),
        instance: form.instance.clone(),
        subject: form.subject.clone(),
        description: form.description.clone(),
        categories: s.categories.iter().map(|c| Choice { value: c.clone(), selected: *c == form.category }).collect(),
        priorities: CUSTOMER_PRIORITIES
            .iter()
            .map(|p| Choice { value: p.to_string(), selected: p.to_string() == priority })
            .collect(),
        max_attachments: s.max_attachments,
        max_attachment_mb: format!("{:.1}", s.max_attachment_bytes as f64 / 1_048_576.0),
        accept: s.attachment_types.join(","),
    };
    render(state, "portal/new", &page, status, cookie)
}

/// `GET /support/new`
pub async fn show_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Option<ContactUser>,
) -> Result<HttpResponse, PageError> {
    let form = SupportForm {
        name: user.as_ref().and_then(|u| u.contact.name.clone()).unwrap_or_default(),
        email: user.as_ref().map(|u| u.contact.email.clone()).unwrap_or_default(),
        ..SupportForm::default()
    };
    form_page(&state, &req, user.as_ref(), &form, None, StatusCode::OK)
}

/// `POST /support/new` (multipart): CSRF, honeypot, validation, rate limits,
/// then the ticket. A refused form is shown again with the reason and
/// nothing is written.
pub async fn create_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Option<ContactUser>,
    payload: Multipart,
) -> Result<HttpResponse, PageError> {
    let s = settings(&state);
    let parsed = read_multipart(payload, s.max_attachments, s.max_attachment_bytes).await.portal()?;
    check_pre_session_csrf(&req, &parsed.text("_csrf")).portal()?;
    let form = SupportForm {
        name: parsed.text("name"),
        email: parsed.text("email"),
        instance: parsed.text("instance"),
        category: parsed.text("category"),
        priority: parsed.text("priority"),
        subject: parsed.text("subject"),
        description: parsed.text("description"),
        website: parsed.text("website"),
    };
    let done = |state: &AppState, number: Option<i64>, email: String| {
        let page = DonePage { chrome: PortalChrome::new(state, user.as_ref(), "Request received"), number, email };
        render(state, "portal/new_done", &page, StatusCode::OK, None)
    };
    if portal::is_spam(&form) {
        tracing::info!("support form: honeypot filled, submission dropped");
        return done(&state, None, String::new());
    }
    let refused = |e: AppError, form: &SupportForm| {
        let status = super::super::errors::status_of(e.kind);
        form_page(&state, &req, user.as_ref(), form, Some(e.message().to_string()), status)
    };
    let checked = match portal::check_form(&form, &parsed.files, &s) {
        Ok(c) => c,
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::TooLarge) => return refused(e, &form),
        Err(e) => return Err(PageError::portal(e)),
    };
    let ip = client_ip(&req, state.config.server.trust_forwarded_for);
    let limited = {
        let (email, ip, s) = (checked.email.clone(), ip.clone(), s.clone());
        state.db.run(move |conn| portal::form_rate_limited(conn, &email, &ip, &s)).await.portal()?
    };
    let too_many =
        || AppError::new(ErrorKind::RateLimited, "too many requests from you lately; please try again later");
    if limited {
        return refused(too_many(), &form);
    }
    let attachments = store_uploads(&state, parsed.files).await.portal()?;
    let email = checked.email.clone();
    let signed_in = user.as_ref().map(|u| u.contact.id);
    let outcome =
        state.db.run(move |conn| portal::open_web_ticket(conn, checked, attachments, &ip, &s, signed_in)).await;
    match outcome {
        Ok(FormOutcome::Created { ticket, triage_reason }) => {
            tracing::info!(number = ticket.number, triage = ?triage_reason, "web ticket opened");
            done(&state, Some(ticket.number), email)
        }
        Ok(FormOutcome::RateLimited) => refused(too_many(), &form),
        Err(e) if e.kind == ErrorKind::Invalid => refused(e, &form),
        Err(e) => Err(PageError::portal(e)),
    }
}
