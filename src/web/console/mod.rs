//! The agent console: server-rendered pages under `/console`. Every handler
//! takes an [`AgentUser`] (so an unauthenticated request is redirected to the
//! sign-in page), checks the role it needs, checks the CSRF token of every
//! form, calls one domain function and renders or redirects.

pub mod admin;
pub mod auth;
pub mod queues;
pub mod records;
pub mod reports;
pub mod search;
pub mod tickets;

use chrono::NaiveDateTime;
use serde::Serialize;

use super::AppState;
use super::session::AgentUser;
use crate::db::Role;

/// What the layout needs on every console page.
#[derive(Debug, Serialize)]
pub struct Chrome {
    pub title: String,
    pub support_name: String,
    pub nav: &'static str,
    pub me: Me,
    pub csrf: String,
    pub flash: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub name: String,
    pub email: String,
    pub role: String,
    pub is_manager: bool,
    pub is_admin: bool,
}

impl Chrome {
    pub fn new(state: &AppState, user: &AgentUser, title: impl Into<String>, nav: &'static str) -> Self {
        Self {
            title: title.into(),
            support_name: state.config.support.name.clone(),
            nav,
            me: Me {
                name: user.agent.name.clone(),
                email: user.agent.email.clone(),
                role: user.agent.role.to_string(),
                is_manager: user.agent.role >= Role::Manager,
                is_admin: user.agent.role >= Role::Admin,
            },
            csrf: user.session.csrf_token.clone(),
            flash: None,
        }
    }

    pub fn with_flash(mut self, flash: Option<String>) -> Self {
        self.flash = flash;
        self
    }
}

/// Formats a UTC timestamp in the support team's timezone.
pub fn local_time(state: &AppState, at: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    // Written out rather than through `format("%Y-%m-%d %H:%M")`, which
    // parses its pattern on every call (a queue page formats 50 times).
    let t = at.and_utc().with_timezone(&state.support_tz);
    format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute())
}

/// A 303 redirect (after a form post).
pub fn see_other(location: impl Into<String>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, location.into())).finish()
}

/// `?flash=` messages the console shows after a redirect: a fixed set, so a
/// crafted link cannot make the console say anything else.
pub fn flash_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "replied" => "Reply queued for sending.",
        "noted" => "Internal note added.",
        "updated" => "Ticket updated.",
        "merged" => "Ticket merged.",
        "saved" => "Saved.",
        "retried" => "Message retried.",
        "discarded" => "Message discarded.",
        "created" => "Created.",
        "deactivated" => "Agent deactivated.",
        "activated" => "Agent activated.",
        _ => return None,
    };
    Some(text.to_string())
}
