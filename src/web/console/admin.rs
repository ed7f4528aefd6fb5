//! Admin pages: staff accounts and the email quarantine.

use actix_web::{HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};

use super::{Chrome, flash_text, local_time, see_other};
use crate::db::{AgentId, Role};
use crate::domain::intake::{self, Outcome};
use crate::domain::{agents, sessions};
use crate::error::AppError;
use crate::web::AppState;
use crate::web::session::{AgentUser, PageError};

#[derive(Debug, Deserialize)]
pub struct FlashQuery {
    pub flash: Option<String>,
}

/// `GET /console/admin/agents`
pub async fn list_agents(
    state: web::Data<AppState>,
    user: AgentUser,
    query: web::Query<FlashQuery>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let list = state.db.run(agents::list).await?;
    #[derive(Serialize)]
    struct Line {
        id: i64,
        email: String,
        name: String,
        role: String,
        active: bool,
        last_login: Option<String>,
        is_me: bool,
    }
    #[derive(Serialize)]
    struct Page {
        chrome: Chrome,
        agents: Vec<Line>,
        roles: Vec<String>,
    }
    let page = Page {
        chrome: Chrome::new(&state, &user, "Agents", "admin").with_flash(flash_text(query.flash.as_deref())),
        agents: list
            .iter()
            .map(|a| Line {
                id: a.id.0,
                email: a.email.clone(),
                name: a.name.clone(),
                role: a.role.to_string(),
                active: a.active,
                last_login: a.last_login_at.map(|t| local_time(&state, t)),
                is_me: a.id == user.agent.id,
            })
            .collect(),
        roles: Role::ALL.iter().map(|r| r.to_string()).collect(),
    };
    Ok(state.views.page("console/agents", &page)?)
}

#[derive(Debug, Deserialize)]
pub struct NewAgentForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
}

/// `POST /console/admin/agents`
pub async fn create_agent(
    state: web::Data<AppState>,
    user: AgentUser,
    form: web::Form<NewAgentForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    user.require(Role::Admin)?;
    let form = form.into_inner();
    let role = form.role.parse::<Role>().map_err(|_| AppError::invalid(format!("unknown role `{}`", form.role)))?;
    let actor = user.actor();
    state.db.run(move |conn| agents::create(conn, &form.email, &form.name, role, &form.password, actor)).await?;
    Ok(see_other("/console/admin/agents?flash=created"))
}

#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub active: String,
}

/// `POST /console/admin/agents/{id}/active`: deactivating also ends the
/// agent's sessions.
pub async fn update_agent_active(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    form: web::Form<ActiveForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    user.require(Role::Admin)?;
    let id = AgentId(path.into_inner());
    if id == user.agent.id {
        return Err(AppError::invalid("you cannot deactivate your own account").into());
    }
    let active = form.active == "1";
    let actor = user.actor();
    state
        .db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                agents::set_active(conn, id, active, actor)?;
                if !active {
                    sessions::delete_all_of(conn, sessions::Principal::Agent(id.0))?;
                }
                Ok::<_, AppError>(())
            })
        })
        .await?;
    Ok(see_other(format!("/console/admin/agents?flash={}", if active { "activated" } else { "deactivated" })))
}

/// `GET /console/admin/quarantine`
pub async fn list_quarantine(
    state: web::Data<AppState>,
    user: AgentUser,
    query: web::Query<FlashQuery>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let list = state.db.run(|conn| intake::list_receipts(conn, Some(Outcome::Quarantined), 500)).await?;
    #[derive(Serialize)]
    struct Line {
        id: i64,
        received: String,
        from: Option<String>,
        subject: Option<String>,
        reason: Option<String>,
        size: i64,
        source: String,
    }
    #[derive(Serialize)]
    struct Page {
        chrome: Chrome,
        messages: Vec<Line>,
    }
    let page = Page {
        chrome: Chrome::new(&state, &user, "Email quarantine", "admin").with_flash(flash_text(query.flash.as_deref())),
        messages: list
            .iter()
            .map(|m| Line {
                id: m.id,
                received: local_time(&state, m.received_at),
                from: m.from_address.clone(),
                subject: m.subject.clone(),
                reason: m.reason.clone(),
                size: m.size_bytes,
                source: m.source.clone(),
            })
            .collect(),
    };
    Ok(state.views.page("console/quarantine", &page)?)
}

/// An inbound receipt and its raw bytes from the blob store.
async fn receipt_and_raw(state: &AppState, id: i64) -> Result<(crate::db::models::InboundMessage, Vec<u8>), AppError> {
    let receipt = state.db.run(move |conn| intake::get_receipt(conn, id)).await?;
    let blobs = state.blobs.clone();
    let sha = receipt.raw_blob.clone();
    let raw = state.db.run(move |conn| blobs.load(conn, &sha)).await?;
    Ok((receipt, raw))
}

/// `GET /console/admin/quarantine/{id}`: the receipt, its trace and the
/// raw message as text (escaped, never rendered).
pub async fn show_quarantined(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let id = path.into_inner();
    let (receipt, raw) = receipt_and_raw(&state, id).await?;
    const SHOWN: usize = 256 * 1024;
    let truncated = raw.len() > SHOWN;
    let raw_text = String::from_utf8_lossy(&raw[..raw.len().min(SHOWN)]).into_owned();
    let trace: Vec<String> = serde_json::from_str(&receipt.trace).unwrap_or_default();
    #[derive(Serialize)]
    struct Page {
        chrome: Chrome,
        id: i64,
        outcome: String,
        reason: Option<String>,
        from: Option<String>,
        subject: Option<String>,
        received: String,
        trace: Vec<String>,
        raw_text: String,
        truncated: bool,
        quarantined: bool,
    }
    let page = Page {
        chrome: Chrome::new(&state, &user, format!("Quarantined message {id}"), "admin"),
        id,
        quarantined: receipt.outcome == Outcome::Quarantined.as_str(),
        outcome: receipt.outcome.clone(),
        reason: receipt.reason.clone(),
        from: receipt.from_address.clone(),
        subject: receipt.subject.clone(),
        received: local_time(&state, receipt.received_at),
        trace,
        raw_text,
        truncated,
    };
    Ok(state.views.page("console/quarantined", &page)?)
}

/// `GET /console/admin/quarantine/{id}/raw`: the raw bytes as a download.
pub async fn show_quarantined_raw(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Admin)?;
    let id = path.into_inner();
    let (_, raw) = receipt_and_raw(&state, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"inbound-{id}.eml\"")))
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .body(raw))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// `POST /console/admin/quarantine/{id}/retry`
pub async fn retry_quarantined(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    user.require(Role::Admin)?;
    let id = path.into_inner();
    let intake = state.intake.clone();
    let result = web::block(move || intake.replay(id))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("retrying a message: {e}")))??;
    match result.ticket_number {
        Some(n) => Ok(see_other(format!("/console/tickets/{n}?flash=retried"))),
        None => Ok(see_other(format!("/console/admin/quarantine/{id}"))),
    }
}

/// `POST /console/admin/quarantine/{id}/discard`
pub async fn discard_quarantined(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    user.require(Role::Admin)?;
    let id = path.into_inner();
    state.db.run(move |conn| intake::discard(conn, id)).await?;
    Ok(see_other("/console/admin/quarantine?flash=discarded"))
}
