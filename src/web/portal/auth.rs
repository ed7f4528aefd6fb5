//! Passwordless sign-in: ask for a link, open it, sign out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{OrPortal, PortalChrome, render, see_other, settings};
use crate::domain::portal::{self, LinkRequest, Redeem};
use crate::domain::sessions;
use crate::error::{AppError, ErrorKind};
use crate::web::AppState;
use crate::web::session::{
    self, ContactUser, PageError, check_pre_session_csrf, client_ip, expired_session_cookie, is_local_path,
    pre_session_csrf, session_cookie,
};

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    pub next: Option<String>,
}

#[derive(Serialize)]
struct LoginPage {
    chrome: PortalChrome,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
    sent: bool,
    minutes: i64,
}

/// Where to go after signing in: a portal path, else the ticket list.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| is_local_path(n) && (*n == "/support" || n.starts_with("/support/")))
        .filter(|n| !n.starts_with("/support/login"))
        .unwrap_or("/support")
        .to_string()
}

fn login_page(
    state: &AppState,
    req: &HttpRequest,
    next: String,
    email: String,
    error: Option<String>,
    sent: bool,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = pre_session_csrf(req);
    let page = LoginPage {
        chrome: PortalChrome::new(state, None, "Sign in"),
        csrf,
        next,
        email,
        error,
        sent,
        minutes: settings(state).link_ttl.num_minutes(),
    };
    render(state, "portal/login", &page, status, cookie)
}

/// `GET /support/login`
pub async fn show_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    login_page(&state, &req, safe_next(query.next.as_deref()), String::new(), None, false, StatusCode::OK)
}

/// `POST /support/login`: sends a sign-in link when the address is known.
/// The answer is the same whether it is or not.
pub async fn create_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    check_pre_session_csrf(&req, &form.csrf).portal()?;
    let next = safe_next(form.next.as_deref());
    let s = settings(&state);
    let ip = client_ip(&req, state.config.server.trust_forwarded_for);
    let email = form.email.clone();
    // The link brings the customer back to the page they wanted.
    let link_next = (next != "/support").then(|| next.clone());
    let outcome = state.db.run(move |conn| portal::request_link(conn, &email, &ip, &s, link_next.as_deref())).await;
    match outcome {
        Ok(LinkRequest::Sent | LinkRequest::Ignored) => {
            login_page(&state, &req, next, form.email, None, true, StatusCode::OK)
        }
        Ok(LinkRequest::RateLimited) => login_page(
            &state,
            &req,
            next,
            form.email,
            Some("Too many sign-in links were asked for lately. Wait a while and try again.".into()),
            false,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) if e.kind == ErrorKind::Invalid => login_page(
            &state,
            &req,
            next,
            form.email,
            Some(e.message().to_string()),
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(PageError::portal(e)),
    }
}

#[derive(Serialize)]
struct RefusedPage {
    chrome: PortalChrome,
}

#[derive(Serialize)]
struct ConfirmPage {
    chrome: PortalChrome,
    csrf: String,
    token: String,
    next: String,
}

fn refused(state: &AppState) -> Result<HttpResponse, PageError> {
    let page = RefusedPage { chrome: PortalChrome::new(state, None, "Link not valid") };
    render(state, "portal/link_refused", &page, StatusCode::FORBIDDEN, None)
}

/// `GET /support/login/{token}`: a page with a "Sign in" button. Opening
/// the link uses nothing up, so a mail scanner that follows links does not
/// spend the customer's link; the button's POST redeems it. Unknown,
/// tampered, expired and used links get the same refusal.
pub async fn show_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let token = path.into_inner();
    let check = token.clone();
    if !state.db.run(move |conn| portal::link_is_valid(conn, &check)).await.portal()? {
        return refused(&state);
    }
    let (csrf, cookie) = pre_session_csrf(&req);
    let page = ConfirmPage {
        chrome: PortalChrome::new(&state, None, "Sign in"),
        csrf,
        token,
        next: safe_next(query.next.as_deref()),
    };
    render(&state, "portal/link_confirm", &page, StatusCode::OK, cookie)
}

#[derive(Debug, Deserialize)]
pub struct RedeemForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    pub next: Option<String>,
}

/// `POST /support/login/{token}`: redeems a sign-in link (single use) and
/// starts the session.
pub async fn create_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<RedeemForm>,
) -> Result<HttpResponse, PageError> {
    check_pre_session_csrf(&req, &form.csrf).map_err(PageError::portal)?;
    let query = form.into_inner();
    let token = path.into_inner();
    let ttl = state.config.console.session_ttl();
    let old = req.cookie(session::SESSION_COOKIE).map(|c| c.value().to_string());
    let outcome = state
        .db
        .run(move |conn| {
            let outcome = portal::redeem_link(conn, &token, ttl)?;
            if let (Redeem::SignedIn { .. }, Some(old)) = (&outcome, old) {
                sessions::delete(conn, &old)?;
            }
            Ok(outcome)
        })
        .await
        .portal()?;
    match outcome {
        Redeem::SignedIn { token, contact, .. } => {
            tracing::info!(contact = %contact.email, "contact signed in to the portal");
            let next = safe_next(query.next.as_deref());
            let location = if next == "/support" { "/support?flash=welcome".to_string() } else { next };
            let mut response = see_other(location);
            response.add_cookie(&session_cookie(&state, &token)).map_err(|e| {
                PageError::portal(AppError::internal(anyhow::anyhow!("setting the session cookie: {e}")))
            })?;
            Ok(response)
        }
        Redeem::Refused => refused(&state),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// `POST /support/logout`
pub async fn delete_session(
    state: web::Data<AppState>,
    user: ContactUser,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf).portal()?;
    let token = user.token.clone();
    state.db.run(move |conn| sessions::delete(conn, &token)).await.portal()?;
    let mut response = see_other("/support/login");
    response
        .add_cookie(&expired_session_cookie(&state))
        .map_err(|e| PageError::portal(AppError::internal(anyhow::anyhow!("clearing the session cookie: {e}"))))?;
    Ok(response)
}
