//! Server-rendered pages: handlebars templates for the console and the
//! portal, embedded in the binary, rendered in strict mode.
//!
//! ```text
//! templates/partials/*.hbs     shared partials by file stem (`layout`, `pager`, …)
//! templates/console/*.hbs      console pages, registered as `console/<stem>`
//! templates/portal/*.hbs       portal pages, registered as `portal/<stem>`
//! ```
//!
//! Every `{{value}}` is HTML-escaped. `{{{raw}}}` is used only for message
//! HTML that the domain sanitized with ammonia and for SVG that Tusk drew.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::header;
use handlebars::Handlebars;
use serde::Serialize;

use crate::error::AppError;

/// (registered name, template text) of every built-in page and partial.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("../../templates/partials/layout.hbs")),
    ("flash", include_str!("../../templates/partials/flash.hbs")),
    ("ticket_rows", include_str!("../../templates/partials/ticket_rows.hbs")),
    ("error", include_str!("../../templates/partials/error.hbs")),
    ("console/login", include_str!("../../templates/console/login.hbs")),
    ("console/queue", include_str!("../../templates/console/queue.hbs")),
    ("console/ticket", include_str!("../../templates/console/ticket.hbs")),
    ("console/institutions", include_str!("../../templates/console/institutions.hbs")),
    ("console/institution", include_str!("../../templates/console/institution.hbs")),
    ("console/instance", include_str!("../../templates/console/instance.hbs")),
    ("console/contacts", include_str!("../../templates/console/contacts.hbs")),
    ("console/agents", include_str!("../../templates/console/agents.hbs")),
    ("console/quarantine", include_str!("../../templates/console/quarantine.hbs")),
    ("console/quarantined", include_str!("../../templates/console/quarantined.hbs")),
    ("console/search", include_str!("../../templates/console/search.hbs")),
    ("console/reports_sla", include_str!("../../templates/console/reports_sla.hbs")),
    ("portal_layout", include_str!("../../templates/partials/portal_layout.hbs")),
    ("portal/new", include_str!("../../templates/portal/new.hbs")),
    ("portal/new_done", include_str!("../../templates/portal/new_done.hbs")),
    ("portal/login", include_str!("../../templates/portal/login.hbs")),
    ("portal/link_refused", include_str!("../../templates/portal/link_refused.hbs")),
    ("portal/link_confirm", include_str!("../../templates/portal/link_confirm.hbs")),
    ("portal/tickets", include_str!("../../templates/portal/tickets.hbs")),
    ("portal/ticket", include_str!("../../templates/portal/ticket.hbs")),
];

/// The compiled templates; cheap to clone.
#[derive(Clone)]
pub struct Views {
    registry: Arc<Handlebars<'static>>,
}

impl Views {
    /// Compiles the built-in templates; an error names the template.
    pub fn new() -> anyhow::Result<Self> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::html_escape);
        for (name, text) in TEMPLATES {
            hb.register_template_string(name, *text).map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }
        Ok(Self { registry: Arc::new(hb) })
    }

    /// Renders `name` with `data` to a string.
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String, AppError> {
        self.registry.render(name, data).map_err(|e| AppError::internal(anyhow::anyhow!("rendering {name}: {e}")))
    }

    /// Renders `name` as an HTML 200 response.
    pub fn page<T: Serialize>(&self, name: &str, data: &T) -> Result<HttpResponse, AppError> {
        let body = self.render(name, data)?;
        Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        Views::new().unwrap();
    }
}
