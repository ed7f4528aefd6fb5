//! `/api/v1/institutions/{slug}`: show, upsert (PUT) and deactivate (DELETE),
//! for the provisioning system.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::{ProblemDoc, utc};
use super::{ApiCaller, Input, input};
use crate::db::InstitutionStatus;
use crate::db::models::Institution;
use crate::domain::Upserted;
use crate::domain::api_ops;
use crate::domain::api_tokens::Scope;
use crate::domain::institutions::InstitutionInput;
use crate::error::AppResult;
use crate::web::AppState;

/// An institution (customer organisation).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstitutionOut {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub default_plan: String,
    pub status: InstitutionStatus,
    /// Email domains whose senders belong to the institution, sorted.
    pub domains: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl InstitutionOut {
    fn new(i: Institution, domains: Vec<String>) -> Self {
        Self {
            id: i.id.0,
            slug: i.slug,
            name: i.name,
            default_plan: i.default_plan,
            status: i.status,
            domains,
            created_at: utc(i.created_at),
            updated_at: utc(i.updated_at),
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpsertResult {
    Created,
    Updated,
    Unchanged,
}

impl From<Upserted> for UpsertResult {
    fn from(u: Upserted) -> Self {
        match u {
            Upserted::Created => UpsertResult::Created,
            Upserted::Updated => UpsertResult::Updated,
            Upserted::Unchanged => UpsertResult::Unchanged,
        }
    }
}

/// The institution after an upsert, and what changed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstitutionUpsertOut {
    pub result: UpsertResult,
    pub institution: InstitutionOut,
}

/// The wanted state of an institution; absent optional fields are left as
/// they are (on creation: the configured default plan, `active`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutInstitutionBody {
    #[schema(max_length = 200)]
    pub name: String,
    /// A configured plan tier id.
    #[serde(default)]
    pub default_plan: Option<String>,
    #[serde(default)]
    pub status: Option<InstitutionStatus>,
    /// Replaces the set of email domains when given.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
}

const SLUG: &str = "Institution slug (a-z, 0-9, -)";

/// One institution by slug.
#[utoipa::path(
    get,
    path = "/api/v1/institutions/{slug}",
    tag = "records",
    params(("slug" = String, Path, description = SLUG)),
    responses(
        (status = 200, description = "The institution", body = InstitutionOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks records:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such institution", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["records:read"]))
)]
pub async fn show_institution(
    caller: ApiCaller,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(Scope::RecordsRead)?;
    let slug = slug.into_inner();
    let (institution, domains) = state.db.run(move |conn| api_ops::institution_record(conn, &slug)).await?;
    Ok(HttpResponse::Ok().json(InstitutionOut::new(institution, domains)))
}

/// Creates or updates the institution with this slug (idempotent).
#[utoipa::path(
    put,
    path = "/api/v1/institutions/{slug}",
    tag = "records",
    params(("slug" = String, Path, description = SLUG)),
    request_body = PutInstitutionBody,
    responses(
        (status = 200, description = "Updated or unchanged", body = InstitutionUpsertOut),
        (status = 201, description = "Created", body = InstitutionUpsertOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks records:write", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "An email domain belongs to another institution", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`Content-Type: application/json`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid slug, plan, domain or body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["records:write"]))
)]
pub async fn upsert_institution(
    caller: ApiCaller,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: Input<web::Json<PutInstitutionBody>>,
) -> AppResult<HttpResponse> {
    let actor = caller.require(Scope::RecordsWrite)?;
    let b = input(body)?.into_inner();
    let input = InstitutionInput {
        slug: slug.into_inner(),
        name: b.name,
        default_plan: b.default_plan,
        status: b.status,
        domains: b.domains,
    };
    let plans = state.plans.clone();
    let (institution, domains, outcome) =
        state.db.run(move |conn| api_ops::upsert_institution(conn, &plans, &input, actor)).await?;
    let out = InstitutionUpsertOut { result: outcome.into(), institution: InstitutionOut::new(institution, domains) };
    Ok(match outcome {
        Upserted::Created => HttpResponse::Created().json(out),
        _ => HttpResponse::Ok().json(out),
    })
}

/// Deactivates the institution (its history stays; it can be reactivated by PUT).
#[utoipa::path(
    delete,
    path = "/api/v1/institutions/{slug}",
    tag = "records",
    params(("slug" = String, Path, description = SLUG)),
    responses(
        (status = 200, description = "The institution, now inactive", body = InstitutionOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks records:write", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such institution", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["records:write"]))
)]
pub async fn delete_institution(
    caller: ApiCaller,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let actor = caller.require(Scope::RecordsWrite)?;
    let slug = slug.into_inner();
    let plans = state.plans.clone();
    let (institution, domains) =
        state.db.run(move |conn| api_ops::deactivate_institution(conn, &plans, &slug, actor)).await?;
    Ok(HttpResponse::Ok().json(InstitutionOut::new(institution, domains)))
}
