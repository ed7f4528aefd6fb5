//! The ticket page and its actions: reply, internal note, field changes,
//! merge, attachment download.

use std::collections::HashMap;

use actix_web::{HttpResponse, http::header, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{Chrome, flash_text, local_time, see_other};
use crate::db::models::{Agent, Attachment, Event, MailOutboxRow, Message};
use crate::db::{AgentId, InstanceId, MessageKind, Priority, TicketStatus};
use crate::domain::replies::{self, ReplyInput};
use crate::domain::ticket_update::{self, TicketUpdate};
use crate::domain::tickets::{self, Author, MessageInput};
use crate::domain::views::{self, TicketDetail};
use crate::error::AppError;
use crate::sla::clock::{MetricClock, Outcome, human};
use crate::web::AppState;
use crate::web::session::{AgentUser, PageError};

#[derive(Debug, Deserialize)]
pub struct FlashQuery {
    pub flash: Option<String>,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct AttachmentView {
    id: i64,
    filename: String,
    content_type: String,
    size: String,
}

#[derive(Serialize)]
struct DeliveryView {
    state: String,
    attempts: i32,
    recipients: String,
    last_error: Option<String>,
    sent_at: Option<String>,
}

#[derive(Serialize)]
struct EntryView {
    /// `inbound`, `reply`, `note` or `event`.
    kind: String,
    anchor: String,
    at: String,
    author: String,
    /// Sanitized HTML of the message (inserted raw), when it has HTML.
    html: Option<String>,
    text: Option<String>,
    attachments: Vec<AttachmentView>,
    delivery: Vec<DeliveryView>,
    /// For events: what happened.
    summary: Option<String>,
    important: bool,
}

#[derive(Serialize)]
struct ClockView {
    metric: String,
    state: String,
    css: &'static str,
    due: Option<String>,
    left: String,
    percent: i64,
    explain: String,
}

#[derive(Serialize)]
struct RelatedView {
    number: i64,
    subject: String,
    status: String,
    created: String,
}

#[derive(Serialize)]
struct TicketView {
    number: i64,
    subject: String,
    status: String,
    priority: String,
    category: Option<String>,
    channel: String,
    created: String,
    updated: String,
    tags: String,
    needs_triage: bool,
    triage_reason: Option<String>,
    merged_into: Option<i64>,
    closed: bool,
    /// The address a signed-out web form was sent with: nothing proved the
    /// sender owns it.
    sender_unverified: Option<String>,
}

#[derive(Serialize)]
struct TicketPageView {
    chrome: Chrome,
    ticket: TicketView,
    requester_name: String,
    requester_email: String,
    requester_is_admin: bool,
    institution_name: Option<String>,
    institution_slug: Option<String>,
    instance_domain: Option<String>,
    instance_plan: Option<String>,
    instance_status: Option<String>,
    instance_version: Option<String>,
    plan_name: Option<String>,
    related: Vec<RelatedView>,
    entries: Vec<EntryView>,
    clocks: Vec<ClockView>,
    sla_tier: Option<String>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    assignees: Vec<Choice>,
    instances: Vec<Choice>,
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.0} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn event_summary(event: &Event, agents: &HashMap<i64, &Agent>) -> Option<(String, bool)> {
    let field = |f: &str, v: &Option<String>| -> String {
        match (f, v) {
            ("assignee_id", Some(id)) => id
                .parse::<i64>()
                .ok()
                .and_then(|id| agents.get(&id))
                .map_or_else(|| format!("agent {id}"), |a| a.name.clone()),
            (_, Some(v)) => v.clone(),
            (_, None) => "none".to_string(),
        }
    };
    let text = match event.action.as_str() {
        // The last shown as a notice above the thread.
        "message.added" | "ticket.created" | crate::domain::portal::UNVERIFIED_SENDER => return None,
        action if action.starts_with("sla.breach") => {
            (format!("SLA breached: {}", event.data.as_deref().unwrap_or_default()), true)
        }
        action if action.starts_with("sla.warning") => {
            (format!("SLA warning: {}", event.data.as_deref().unwrap_or_default()), true)
        }
        action if action.contains("bounce") => {
            (format!("Delivery failed (bounce): {}", event.data.as_deref().unwrap_or_default()), true)
        }
        action => match &event.field {
            Some(f) => {
                (format!("{action}: {f} {} → {}", field(f, &event.old_value), field(f, &event.new_value)), false)
            }
            None => (format!("{action} {}", event.data.as_deref().unwrap_or_default()), false),
        },
    };
    Some(text)
}

/// The address of a `ticket.sender_unverified` event, if the ticket has one.
fn unverified_sender(events: &[Event]) -> Option<String> {
    let event = events.iter().find(|e| e.action == crate::domain::portal::UNVERIFIED_SENDER)?;
    let data: serde_json::Value = serde_json::from_str(event.data.as_deref()?).ok()?;
    Some(data["email"].as_str().unwrap_or("the requester's address").to_string())
}

fn author_of(message: &Message, agents: &HashMap<i64, &Agent>) -> String {
    if let Some(agent) = message.author_agent_id.and_then(|id| agents.get(&id.0)) {
        return agent.name.clone();
    }
    message.from_address.clone().unwrap_or_else(|| "Tusk".to_string())
}

fn delivery_of(row: &MailOutboxRow, state: &AppState) -> DeliveryView {
    let recipients: Vec<String> = serde_json::from_str(&row.recipients).unwrap_or_default();
    DeliveryView {
        state: row.state.to_string(),
        attempts: row.attempts,
        recipients: recipients.join(", "),
        last_error: row.last_error.clone(),
        sent_at: row.sent_at.map(|at| local_time(state, at)),
    }
}

fn clock_view(clock: &MetricClock, calendar: &crate::sla::calendar::Calendar, state: &AppState) -> ClockView {
    let now = Utc::now();
    let (css, left) = match (clock.outcome, clock.due_at) {
        (Outcome::Met, _) => ("met", format!("met after {}", human(clock.elapsed))),
        (Outcome::Breached, _) => ("breached", "breached".to_string()),
        (Outcome::Overdue, Some(due)) => ("breached", format!("overdue by {}", human(now - due))),
        (Outcome::Paused, _) => {
            ("paused", format!("paused, {} left", human((clock.target - clock.elapsed).max(chrono::Duration::zero()))))
        }
        (_, Some(due)) if due > now => {
            let css = if clock.percent_used() >= 75 { "warning" } else { "running" };
            (css, format!("{} left", human(due - now)))
        }
        _ => ("running", String::new()),
    };
    ClockView {
        metric: clock.metric.to_string(),
        state: clock.outcome.as_str().to_string(),
        css,
        due: clock.due_at.map(|d| local_time(state, d.naive_utc())),
        left,
        percent: clock.percent_used(),
        explain: clock.explain_text(calendar),
    }
}

fn choices<T: ToString + PartialEq + Copy>(all: &[T], current: T) -> Vec<Choice> {
    all.iter().map(|v| Choice { value: v.to_string(), label: v.to_string(), selected: *v == current }).collect()
}

fn build_view(
    state: &AppState,
    user: &AgentUser,
    detail: TicketDetail,
    clocks: Option<crate::sla::explain::TicketClocks>,
    flash: Option<String>,
) -> TicketPageView {
    let d = detail;
    let agents: HashMap<i64, &Agent> = d.agents.iter().map(|a| (a.id.0, a)).collect();
    let mut attachments_by_message: HashMap<i64, Vec<&Attachment>> = HashMap::new();
    for a in &d.attachments {
        attachments_by_message.entry(a.message_id.0).or_default().push(a);
    }
    let mut mail_by_message: HashMap<i64, Vec<&MailOutboxRow>> = HashMap::new();
    for m in &d.mail {
        if let Some(id) = m.message_ref {
            mail_by_message.entry(id.0).or_default().push(m);
        }
    }
    let mut timeline: Vec<(chrono::NaiveDateTime, i64, EntryView)> = Vec::new();
    for m in &d.messages {
        let html = m.body_html_sanitized.clone().filter(|h| !h.trim().is_empty());
        timeline.push((
            m.created_at,
            m.id.0,
            EntryView {
                kind: m.kind.to_string(),
                anchor: format!("m{}", m.id.0),
                at: local_time(state, m.created_at),
                author: author_of(m, &agents),
                text: if html.is_none() { Some(m.body_text.clone()) } else { None },
                html,
                attachments: attachments_by_message
                    .get(&m.id.0)
                    .map(|list| {
                        list.iter()
                            .map(|a| AttachmentView {
                                id: a.id.0,
                                filename: a.filename.clone(),
                                content_type: a.content_type.clone(),
                                size: human_size(a.size_bytes),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                delivery: mail_by_message
                    .get(&m.id.0)
                    .map(|rows| rows.iter().map(|r| delivery_of(r, state)).collect())
                    .unwrap_or_default(),
                summary: None,
                important: false,
            },
        ));
    }
    // Emails not tied to a message (acknowledgements, solved notices).
    for row in d.mail.iter().filter(|m| m.message_ref.is_none()) {
        timeline.push((
            row.created_at,
            i64::MAX - row.id,
            EntryView {
                kind: "event".to_string(),
                anchor: format!("mail{}", row.id),
                at: local_time(state, row.created_at),
                author: "Tusk".to_string(),
                html: None,
                text: None,
                attachments: Vec::new(),
                delivery: vec![delivery_of(row, state)],
                summary: Some(format!("Email “{}” to the customer", row.kind)),
                important: false,
            },
        ));
    }
    for e in &d.events {
        if let Some((summary, important)) = event_summary(e, &agents) {
            let author = match e.actor_id.and_then(|id| agents.get(&id)) {
                Some(a) => a.name.clone(),
                None => e.actor_kind.to_string(),
            };
            timeline.push((
                e.created_at,
                e.id.0,
                EntryView {
                    kind: "event".to_string(),
                    anchor: format!("e{}", e.id.0),
                    at: local_time(state, e.created_at),
                    author,
                    html: None,
                    text: None,
                    attachments: Vec::new(),
                    delivery: Vec::new(),
                    summary: Some(summary),
                    important,
                },
            ));
        }
    }
    timeline.sort_by_key(|e| (e.0, e.1));
    let (clock_views, sla_tier) = match &clocks {
        Some(c) => (c.clocks.current().map(|m| clock_view(m, &c.calendar, state)).collect(), Some(c.tier.clone())),
        None => (Vec::new(), None),
    };
    let t = &d.ticket;
    let plan =
        d.instance.as_ref().map(|i| i.plan.clone()).or_else(|| d.institution.as_ref().map(|i| i.default_plan.clone()));
    let mut assignees =
        vec![Choice { value: String::new(), label: "— unassigned —".into(), selected: t.assignee_id.is_none() }];
    assignees.extend(d.agents.iter().map(|a| Choice {
        value: a.id.0.to_string(),
        label: a.name.clone(),
        selected: t.assignee_id == Some(a.id),
    }));
    let mut instances =
        vec![Choice { value: String::new(), label: "— none —".into(), selected: t.instance_id.is_none() }];
    instances.extend(d.institution_instances.iter().map(|i| Choice {
        value: i.id.0.to_string(),
        label: i.domain.clone(),
        selected: t.instance_id == Some(i.id),
    }));
    TicketPageView {
        chrome: Chrome::new(state, user, format!("#{} {}", t.number, t.subject), "tickets").with_flash(flash),
        ticket: TicketView {
            number: t.number,
            subject: t.subject.clone(),
            status: t.status.to_string(),
            priority: t.priority.to_string(),
            category: t.category.clone(),
            channel: t.channel.to_string(),
            created: local_time(state, t.created_at),
            updated: local_time(state, t.updated_at),
            tags: d.tags.join(", "),
            needs_triage: t.needs_triage,
            triage_reason: t.triage_reason.clone(),
            merged_into: d.merged_into.as_ref().map(|m| m.number),
            closed: t.status == TicketStatus::Closed,
            sender_unverified: unverified_sender(&d.events),
        },
        requester_name: d.requester.name.clone().unwrap_or_default(),
        requester_email: d.requester.email.clone(),
        requester_is_admin: d.requester.is_institution_admin,
        institution_name: d.institution.as_ref().map(|i| i.name.clone()),
        institution_slug: d.institution.as_ref().map(|i| i.slug.clone()),
        instance_domain: d.instance.as_ref().map(|i| i.domain.clone()),
        instance_plan: d.instance.as_ref().map(|i| i.plan.clone()),
        instance_status: d.instance.as_ref().map(|i| i.status.to_string()),
        instance_version: d.instance.as_ref().and_then(|i| i.mastodon_version.clone()),
        plan_name: plan.map(|p| state.config.plans.get(&p).map_or(p.clone(), |c| c.name.clone())),
        related: d
            .related
            .iter()
            .map(|r| RelatedView {
                number: r.number,
                subject: r.subject.clone(),
                status: r.status.to_string(),
                created: local_time(state, r.created_at),
            })
            .collect(),
        entries: timeline.into_iter().map(|(_, _, e)| e).collect(),
        clocks: clock_views,
        sla_tier,
        statuses: choices(TicketStatus::ALL, t.status),
        priorities: choices(Priority::ALL, t.priority),
        assignees,
        instances,
    }
}

/// `GET /console/tickets/{number}`
pub async fn show_ticket(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    query: web::Query<FlashQuery>,
) -> Result<HttpResponse, PageError> {
    let number = path.into_inner();
    let agents = state.active_agents.clone();
    let (detail, clocks) = state
        .db
        .run(move |conn| {
            let detail = views::ticket_detail(conn, number, &agents)?;
            let clocks = crate::sla::explain::clocks_of(conn, &detail.ticket, Utc::now())?;
            Ok((detail, clocks))
        })
        .await?;
    let view = build_view(&state, &user, detail, clocks, flash_text(query.flash.as_deref()));
    Ok(state.views.page("console/ticket", &view)?)
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub cc: String,
    /// Status to set after the reply (`pending`, `solved`…); empty keeps it.
    #[serde(default)]
    pub then_status: String,
}

async fn ticket_id_of(state: &AppState, number: i64) -> Result<crate::db::TicketId, AppError> {
    state
        .db
        .run(move |conn| {
            tickets::by_number(conn, number)?
                .map(|t| t.id)
                .ok_or_else(|| AppError::not_found(format!("no ticket #{number}")))
        })
        .await
}

fn parse_status(text: &str) -> Result<Option<TicketStatus>, AppError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.parse::<TicketStatus>().map(Some).map_err(|_| AppError::invalid(format!("unknown status `{text}`")))
}

/// `POST /console/tickets/{number}/reply`
pub async fn create_reply(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    form: web::Form<ReplyForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    let number = path.into_inner();
    let form = form.into_inner();
    if form.body.trim().is_empty() {
        return Err(AppError::invalid("the reply is empty").into());
    }
    let then_status = parse_status(&form.then_status)?;
    let ticket_id = ticket_id_of(&state, number).await?;
    let agent_id = user.agent.id;
    let actor = user.actor();
    let support = state.config.support.address.clone();
    let sla = state.sla.clone();
    let input = ReplyInput {
        body_text: form.body,
        body_html: None,
        cc: form.cc.split([',', ';', ' ']).filter(|s| !s.trim().is_empty()).map(str::to_string).collect(),
    };
    state
        .db
        .run(move |conn| {
            sla.change(conn, |conn| {
                replies::reply_by_email(conn, ticket_id, agent_id, &input, &support)?;
                if let Some(status) = then_status {
                    let update = TicketUpdate { status: Some(status), notify_solved: true, ..Default::default() };
                    ticket_update::update(conn, ticket_id, &update, actor, &support)?;
                }
                Ok(((), ticket_id))
            })
        })
        .await?;
    Ok(see_other(format!("/console/tickets/{number}?flash=replied")))
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub body: String,
}

/// `POST /console/tickets/{number}/notes`
pub async fn create_note(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    let number = path.into_inner();
    let body = form.into_inner().body;
    if body.trim().is_empty() {
        return Err(AppError::invalid("the note is empty").into());
    }
    let ticket_id = ticket_id_of(&state, number).await?;
    let agent_id = user.agent.id;
    let actor = user.actor();
    let domain = state.config.support.address.rsplit_once('@').map_or("localhost", |(_, d)| d).to_string();
    state
        .db
        .run(move |conn| {
            let input = MessageInput::new(
                MessageKind::Note,
                Author::Agent(agent_id),
                body,
                tickets::generate_message_id(&domain),
            );
            tickets::add_message(conn, ticket_id, input, actor)
        })
        .await?;
    Ok(see_other(format!("/console/tickets/{number}?flash=noted")))
}

#[derive(Debug, Deserialize)]
pub struct UpdateForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    pub tags: Option<String>,
    pub instance: Option<String>,
    /// "1" to email the customer when solving.
    pub notify: Option<String>,
}

fn optional_id(text: &str, what: &str) -> Result<Option<i64>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>().map(Some).map_err(|_| AppError::invalid(format!("bad {what} `{text}`")))
}

/// `POST /console/tickets/{number}`: status, priority, assignee, tags,
/// instance in one go.
pub async fn update_ticket(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    form: web::Form<UpdateForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    let number = path.into_inner();
    let form = form.into_inner();
    let update = TicketUpdate {
        status: form.status.as_deref().map(parse_status).transpose()?.flatten(),
        priority: form
            .priority
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<Priority>().map_err(|_| AppError::invalid(format!("unknown priority `{p}`"))))
            .transpose()?,
        assignee: form.assignee.as_deref().map(|a| optional_id(a, "assignee").map(|o| o.map(AgentId))).transpose()?,
        tags: form
            .tags
            .as_deref()
            .map(|t| t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()),
        instance: form
            .instance
            .as_deref()
            .map(|i| optional_id(i, "instance").map(|o| o.map(InstanceId)))
            .transpose()?,
        notify_solved: form.notify.as_deref() == Some("1"),
    };
    let ticket_id = ticket_id_of(&state, number).await?;
    let actor = user.actor();
    let support = state.config.support.address.clone();
    let sla = state.sla.clone();
    state
        .db
        .run(move |conn| {
            sla.change(conn, |conn| Ok((ticket_update::update(conn, ticket_id, &update, actor, &support)?, ticket_id)))
        })
        .await?;
    Ok(see_other(format!("/console/tickets/{number}?flash=updated")))
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub duplicate: String,
}

/// `POST /console/tickets/{number}/merge`: merges the ticket numbered
/// `duplicate` into this one.
pub async fn merge_ticket(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    form: web::Form<MergeForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    let number = path.into_inner();
    let duplicate: i64 = form
        .duplicate
        .trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| AppError::invalid("give the number of the duplicate ticket"))?;
    let target = ticket_id_of(&state, number).await?;
    let actor = user.actor();
    let sla = state.sla.clone();
    state
        .db
        .run(move |conn| {
            sla.change(conn, |conn| Ok((ticket_update::merge_by_number(conn, target, duplicate, actor)?, target)))
        })
        .await?;
    Ok(see_other(format!("/console/tickets/{number}?flash=merged")))
}

/// Content types served as themselves; anything else downloads as bytes.
const SAFE_INLINE_TYPES: &[&str] =
    &["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"];

/// `GET /console/attachments/{id}`
pub async fn show_attachment(
    state: web::Data<AppState>,
    _user: AgentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let (attachment, _) = state.db.run(move |conn| views::attachment(conn, id)).await?;
    attachment_response(&state, &attachment).await.map_err(PageError::console)
}

/// The download response of a stored attachment: a safe content type, an
/// `attachment` disposition with a sanitized name, and a sandboxing CSP.
pub async fn attachment_response(state: &AppState, attachment: &Attachment) -> Result<HttpResponse, AppError> {
    let blobs = state.blobs.clone();
    let sha = attachment.sha256.clone();
    let bytes = state.db.run(move |conn| blobs.load(conn, &sha)).await?;
    let content_type = attachment.content_type.to_ascii_lowercase();
    let content_type = if SAFE_INLINE_TYPES.contains(&content_type.as_str()) {
        content_type
    } else {
        "application/octet-stream".to_string()
    };
    let safe_name: String = attachment
        .filename
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._- ".contains(c) { c } else { '_' })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{safe_name}\"")))
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}
