//! Server-rendered pages: handlebars templates for the console and the
//! portal, embedded in the binary, rendered in strict mode.
//!
//! ```text
//! templates/partials/*.hbs     shared partials by file stem (`layout`, `pager`, …)
//! templates/console/*.hbs      console pages, registered as `console/<stem>`
//! templates/portal/*.hbs       portal pages, registered as `portal/<stem>`
//! ```
//!
//! A page template holds the page's own content; [`layout_of`] names the
//! layout (`layout` for the console, `portal_layout` for the portal) it is
//! placed in. The page is rendered first, then the layout with the page's
//! `chrome` and the page's HTML as `body`: the layout never sees (or copies)
//! the rest of the page's data, which a `{{#> layout}}` partial block would
//! copy whole on every render.
//!
//! Every `{{value}}` is HTML-escaped. `{{{raw}}}` is used only for message
//! HTML that the domain sanitized with ammonia, for SVG that Tusk drew, and
//! for a rendered page in its layout.

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

/// The layout a page is rendered in: `layout` for console pages (but the
/// sign-in page, a whole document of its own), `portal_layout` for portal
/// pages; partials and e-mail templates have none.
fn layout_of(name: &str) -> Option<&'static str> {
    match name {
        "console/login" => None,
        _ if name.starts_with("console/") => Some("layout"),
        _ if name.starts_with("portal/") => Some("portal_layout"),
        _ => None,
    }
}

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

    /// Renders `name` with `data` to a string (in its layout, if it has one).
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String, AppError> {
        let failed = |e: &dyn std::fmt::Display| AppError::internal(anyhow::anyhow!("rendering {name}: {e}"));
        let Some(layout) = layout_of(name) else {
            return self.registry.render(name, data).map_err(|e| failed(&e));
        };
        let mut context = handlebars::Context::from(serde_json::to_value(data).map_err(|e| failed(&e))?);
        let body = self.registry.render_with_context(name, &context).map_err(|e| failed(&e))?;
        let chrome = context.data_mut().get_mut("chrome").map(serde_json::Value::take).unwrap_or_default();
        let outer = handlebars::Context::from(serde_json::json!({ "chrome": chrome, "body": body }));
        self.registry.render_with_context(layout, &outer).map_err(|e| failed(&e))
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

    #[test]
    fn pages_are_placed_in_their_layout() {
        assert_eq!(layout_of("console/queue"), Some("layout"));
        assert_eq!(layout_of("console/login"), None);
        assert_eq!(layout_of("portal/tickets"), Some("portal_layout"));
        assert_eq!(layout_of("layout"), None);
        // No page wraps itself in a layout any more: it would be nested twice.
        for (name, text) in TEMPLATES {
            if layout_of(name).is_some() {
                assert!(!text.contains("{{#>"), "{name} uses a partial block");
            }
        }
        let page = serde_json::json!({
            "chrome": {
                "title": "Link <refused>", "support_name": "Tusk", "flash": null, "csrf": "",
                "signed_in": false, "is_admin": false, "me_name": null, "me_email": null,
            },
        });
        let html = Views::new().unwrap().render("portal/link_refused", &page).unwrap();
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains("Link &lt;refused&gt;"), "{html}");
        let main = html.find("<main").expect("the layout's main");
        assert!(html.find("This sign-in link does not work").is_some_and(|at| at > main), "{html}");
    }
}
