//! Console sign-in and sign-out.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::see_other;
use crate::domain::sessions::{self, LoginLimits, SignIn};
use crate::error::AppError;
use crate::web::AppState;
use crate::web::session::{
    self, AgentUser, PageError, check_pre_session_csrf, client_ip, expired_session_cookie, is_local_path,
    pre_session_csrf, session_cookie,
};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    pub next: Option<String>,
}

#[derive(Serialize)]
struct LoginPage<'a> {
    title: &'a str,
    support_name: &'a str,
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

fn render_login(
    state: &AppState,
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = pre_session_csrf(req);
    let page =
        LoginPage { title: "Sign in", support_name: &state.config.support.name, csrf: &csrf, next, email, error };
    let body = state.views.render("console/login", &page)?;
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8").insert_header(("Cache-Control", "no-store"));
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    Ok(response.body(body))
}

fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| is_local_path(n) && n.starts_with("/console")).unwrap_or("/console")
}

/// `GET /console/login`
pub async fn show_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    render_login(&state, &req, actix_web::http::StatusCode::OK, safe_next(query.next.as_deref()), "", None)
}

/// `POST /console/login`
pub async fn create_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref()).to_string();
    check_pre_session_csrf(&req, &form.csrf)?;
    let console = &state.config.console;
    let limits = LoginLimits {
        max_failures_per_email: console.login_max_failures,
        max_failures_per_ip: console.login_max_failures_per_ip,
        window: chrono::Duration::minutes(i64::from(console.login_window_minutes)),
        session_ttl: console.session_ttl(),
    };
    let ip = client_ip(&req, state.config.server.trust_forwarded_for);
    let email = form.email.clone();
    let old_token = req.cookie(session::SESSION_COOKIE).map(|c| c.value().to_string());
    let outcome = state
        .db
        .run(move |conn| {
            if let Some(old) = old_token {
                sessions::delete(conn, &old)?;
            }
            sessions::sign_in_agent(conn, &form.email, &form.password, &ip, limits)
        })
        .await?;
    match outcome {
        SignIn::Ok { token, agent, .. } => {
            tracing::info!(agent = %agent.email, "agent signed in");
            let mut response = see_other(next);
            response
                .add_cookie(&session_cookie(&state, &token))
                .map_err(|e| AppError::internal(anyhow::anyhow!("setting the session cookie: {e}")))?;
            Ok(response)
        }
        SignIn::Refused => render_login(
            &state,
            &req,
            actix_web::http::StatusCode::UNAUTHORIZED,
            &next,
            &email,
            Some("Wrong email address or password."),
        ),
        SignIn::RateLimited => render_login(
            &state,
            &req,
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            &next,
            &email,
            Some("Too many failed attempts. Wait a few minutes and try again."),
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// `POST /console/logout`
pub async fn delete_session(
    state: web::Data<AppState>,
    user: AgentUser,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    let token = user.token.clone();
    state.db.run(move |conn| sessions::delete(conn, &token)).await?;
    let mut response = see_other("/console/login");
    response
        .add_cookie(&expired_session_cookie(&state))
        .map_err(|e| AppError::internal(anyhow::anyhow!("clearing the session cookie: {e}")))?;
    Ok(response)
}
