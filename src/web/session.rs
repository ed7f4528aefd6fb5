//! Sessions, sign-in state and CSRF for the HTML parts of Tusk (console and
//! portal), and the error type of HTML pages.
//!
//! - The session cookie (`tusk_session`) is HttpOnly, SameSite=Lax, path `/`,
//!   and Secure when `server.public_url` is `https://…`. It holds a random
//!   token; the database keeps its hash ([`crate::domain::sessions`]).
//! - Every form carries a `_csrf` field. Signed in, it must equal the
//!   session's synchronizer token; before sign-in (the login forms) it must
//!   equal the `tusk_csrf` cookie (double submit, the cookie being HttpOnly
//!   and SameSite=Strict).
//! - Handlers of pages return [`PageError`]: a missing session redirects to
//!   the sign-in page, other errors render a plain page with the safe message
//!   only (the cause goes to the log).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};

use super::AppState;
use crate::db::Role;
use crate::db::models::{Agent, Contact};
use crate::domain::sessions::{self, Principal, Session, constant_time_eq};
use crate::error::{AppError, ErrorKind};

pub const SESSION_COOKIE: &str = "tusk_session";
pub const CSRF_COOKIE: &str = "tusk_csrf";

/// Which sign-in page a missing session sends the browser to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Console,
    Portal,
}

impl Area {
    fn login_path(self) -> &'static str {
        match self {
            Area::Console => "/console/login",
            Area::Portal => "/support/login",
        }
    }
}

/// The error of an HTML page.
#[derive(Debug)]
pub struct PageError {
    pub error: AppError,
    pub area: Area,
    /// Where to come back to after signing in.
    pub next: Option<String>,
}

impl PageError {
    pub fn console(error: AppError) -> Self {
        Self { error, area: Area::Console, next: None }
    }
    pub fn portal(error: AppError) -> Self {
        Self { error, area: Area::Portal, next: None }
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        Self::console(error)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        super::errors::status_of(self.error.kind)
    }

    fn error_response(&self) -> HttpResponse {
        match self.error.kind {
            ErrorKind::Internal => tracing::error!(error = ?self.error, "page failed"),
            ErrorKind::Unavailable => tracing::warn!(error = ?self.error, "dependency unavailable"),
            _ => tracing::debug!(error = ?self.error, "page refused"),
        }
        if self.error.kind == ErrorKind::Unauthorized {
            let mut location = self.area.login_path().to_string();
            if let Some(next) = self.next.as_deref().filter(|n| is_local_path(n)) {
                location.push_str("?next=");
                location.push_str(&url_encode(next));
            }
            return HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish();
        }
        let status = self.status_code();
        let (_, title) = super::errors::problem_type(self.error.kind);
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <link rel=\"stylesheet\" href=\"/static/tusk.css\"></head><body class=\"error-page\"><main>\
             <h1>{status_code} {title}</h1><p>{message}</p><p><a href=\"{home}\">Back</a></p></main></body></html>",
            status_code = status.as_u16(),
            title = handlebars::html_escape(title),
            message = handlebars::html_escape(self.error.message()),
            home = match self.area {
                Area::Console => "/console",
                Area::Portal => "/support",
            },
        );
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    }
}

/// A path on this site (`/console/...`), never `//host` or a full URL.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && !path.contains(['\r', '\n'])
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("application state missing")))
}

fn secure_cookies(state: &AppState) -> bool {
    state.config.server.public_url.starts_with("https://")
}

/// The session cookie for a new session.
pub fn session_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_cookies(state))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn expired_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, "");
    cookie.make_removal();
    cookie
}

/// The pre-session CSRF token of this browser, and the cookie to set when
/// the browser has none yet.
pub fn pre_session_csrf(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(CSRF_COOKIE).filter(|c| c.value().len() == 64) {
        return (c.value().to_string(), None);
    }
    let token = sessions::random_token();
    let secure = state_of(req).map(|s| secure_cookies(&s)).unwrap_or(false);
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieDuration::hours(12))
        .finish();
    (token, Some(cookie))
}

/// Checks a login form's `_csrf` against the pre-session cookie.
pub fn check_pre_session_csrf(req: &HttpRequest, submitted: &str) -> Result<(), AppError> {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if !submitted.is_empty() && constant_time_eq(c.value(), submitted) => Ok(()),
        _ => Err(csrf_error()),
    }
}

fn csrf_error() -> AppError {
    AppError::forbidden("the form has expired or did not come from this site; reload the page and try again")
}

fn request_target(req: &HttpRequest) -> Option<String> {
    if req.method() == actix_web::http::Method::GET {
        Some(req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default())
    } else {
        None
    }
}

/// A signed-in, active agent (console).
#[derive(Debug, Clone)]
pub struct AgentUser {
    pub agent: Agent,
    pub session: Session,
    pub token: String,
}

impl AgentUser {
    /// Refuses unless the agent has at least `role` (agent < manager < admin).
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.agent.role >= role {
            Ok(())
        } else {
            Err(AppError::forbidden(format!("this page is for the {role} role")))
        }
    }

    /// Checks a submitted form's `_csrf` against the session.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        check_session_csrf(&self.session, submitted)
    }

    pub fn actor(&self) -> crate::domain::Actor {
        crate::domain::Actor::Agent(self.agent.id)
    }
}

/// The live session of the request and what it signs in as: `lookup` finds
/// the session of the cookie's token and its user (`None`: no live session,
/// not this area's kind of user, or no longer allowed in), in one trip to the
/// database. Anything missing is a redirect to the area's sign-in page.
async fn signed_in<T, F>(req: &HttpRequest, area: Area, lookup: F) -> Result<(T, Session, String), PageError>
where
    F: FnOnce(&mut crate::db::AnyConnection, &str, chrono::Duration) -> Result<Option<(T, Session)>, AppError>
        + Send
        + 'static,
    T: Send + 'static,
{
    let unauthorized =
        || PageError { error: AppError::unauthorized("please sign in"), area, next: request_target(req) };
    let as_page = |error: AppError| PageError { error, area, next: None };
    let state = state_of(req).map_err(as_page)?;
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Err(unauthorized());
    };
    let ttl = state.config.console.session_ttl();
    let lookup_token = token.clone();
    let found = state.db.run(move |conn| lookup(conn, &lookup_token, ttl)).await.map_err(as_page)?;
    match found {
        Some((user, session)) => Ok((user, session, token)),
        None => Err(unauthorized()),
    }
}

fn check_session_csrf(session: &Session, submitted: &str) -> Result<(), AppError> {
    if !submitted.is_empty() && constant_time_eq(&session.csrf_token, submitted) { Ok(()) } else { Err(csrf_error()) }
}

impl FromRequest for AgentUser {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (agent, session, token) = signed_in(&req, Area::Console, |conn, token, ttl| {
                Ok(sessions::lookup_agent(conn, token, ttl)?
                    .filter(|(_, agent)| agent.active)
                    .map(|(session, agent)| (agent, session)))
            })
            .await?;
            Ok(AgentUser { agent, session, token })
        })
    }
}

/// A signed-in customer contact (portal).
#[derive(Debug, Clone)]
pub struct ContactUser {
    pub contact: Contact,
    pub session: Session,
    pub token: String,
}

impl ContactUser {
    /// Checks a submitted form's `_csrf` against the session.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        check_session_csrf(&self.session, submitted)
    }
}

impl FromRequest for ContactUser {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (contact, session, token) = signed_in(&req, Area::Portal, |conn, token, ttl| {
                let Some(session) = sessions::lookup(conn, token, ttl)? else { return Ok(None) };
                let Principal::Contact(id) = session.principal else { return Ok(None) };
                // A contact who is gone or blocked reads as signed out.
                match crate::domain::contacts::get(conn, crate::db::ContactId(id)) {
                    Ok(contact) => Ok((!contact.blocked).then_some((contact, session))),
                    Err(e) if e.kind == crate::error::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
            Ok(ContactUser { contact, session, token })
        })
    }
}

/// The client address for rate limiting: the socket peer (Tusk is meant to
/// sit behind a reverse proxy on loopback; see `server.trust_forwarded_for`).
pub fn client_ip(req: &HttpRequest, trust_forwarded: bool) -> String {
    if trust_forwarded
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return ip.to_string();
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert!(is_local_path("/console/tickets/4"));
        assert!(!is_local_path("//evil.example/"));
        assert!(!is_local_path("https://evil.example/"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("/a\r\nSet-Cookie: x"));
    }

    #[test]
    fn url_encoding_keeps_paths_readable() {
        assert_eq!(url_encode("/console/tickets?q=a b&x=1"), "/console/tickets%3Fq%3Da%20b%26x%3D1");
    }
}
