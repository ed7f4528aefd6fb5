//! The OpenAPI 3 document of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and the DTOs' `ToSchema` derives, so it
//! describes exactly what the handlers accept and answer.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{instances, institutions, messages, reports, schema, search, sla, tickets};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`tusk admin create-token --name N --scopes tickets:read,…`); \
                         scopes: tickets:read, tickets:write, records:read, records:write, reports:read.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tusk API",
        version = "1",
        description = "Tickets, threads, institutions and instances. Errors are RFC 9457 problem JSON \
                       with a stable `type` (`urn:tusk:problem:*`). Request bodies refuse unknown fields."
    ),
    paths(
        tickets::list_tickets,
        tickets::create_ticket,
        tickets::show_ticket,
        tickets::update_ticket,
        sla::show_ticket_sla,
        messages::list_messages,
        messages::create_message,
        institutions::show_institution,
        institutions::upsert_institution,
        institutions::delete_institution,
        instances::show_instance,
        instances::upsert_instance,
        instances::delete_instance,
        search::search_tickets,
        reports::show_sla_report,
    ),
    components(schemas(
        schema::ProblemDoc,
        crate::db::TicketStatus,
        crate::db::Priority,
        crate::db::Channel,
        crate::db::MessageKind,
        crate::db::InstitutionStatus,
        crate::db::InstanceStatus,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "tickets", description = "Tickets: list, show, open, change"),
        (name = "messages", description = "A ticket's thread: replies and internal notes"),
        (name = "records", description = "Institutions and instances, for the provisioning system"),
        (name = "search", description = "Full-text search over every ticket's history"),
        (name = "reports", description = "SLA reports for managers: compliance, breaches, backlog, volume"),
    )
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".to_string()))
}

/// `GET /api/v1/openapi.json` (no token needed).
pub async fn show_openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(openapi_json())
}
