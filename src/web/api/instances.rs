//! `/api/v1/instances/{domain}`: show, upsert (PUT) and decommission
//! (DELETE), for the provisioning system.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::institutions::UpsertResult;
use super::schema::{ProblemDoc, utc};
use super::{ApiCaller, Input, input};
use crate::db::InstanceStatus;
use crate::db::models::Instance;
use crate::domain::Upserted;
use crate::domain::api_ops;
use crate::domain::api_tokens::Scope;
use crate::domain::instances::InstanceInput;
use crate::error::AppResult;
use crate::web::AppState;

/// A hosted Mastodon instance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstanceOut {
    pub id: i64,
    pub domain: String,
    pub institution_id: i64,
    pub institution: String,
    pub plan: String,
    pub status: InstanceStatus,
    pub mastodon_version: Option<String>,
    pub region: Option<String>,
    pub notes: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl InstanceOut {
    fn new(i: Instance, institution_slug: String) -> Self {
        Self {
            id: i.id.0,
            domain: i.domain,
            institution_id: i.institution_id.0,
            institution: institution_slug,
            plan: i.plan,
            status: i.status,
            mastodon_version: i.mastodon_version,
            region: i.region,
            notes: i.notes,
            created_at: utc(i.created_at),
            updated_at: utc(i.updated_at),
        }
    }
}

/// The instance after an upsert, and what changed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstanceUpsertOut {
    pub result: UpsertResult,
    pub instance: InstanceOut,
}

/// The wanted state of an instance; absent optional fields are left as
/// they are (on creation: the institution's default plan, `active`); an
/// empty string clears a text field.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutInstanceBody {
    /// Slug of the owning institution.
    pub institution: String,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub status: Option<InstanceStatus>,
    #[serde(default)]
    #[schema(max_length = 50)]
    pub mastodon_version: Option<String>,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub region: Option<String>,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
}

const DOMAIN: &str = "Instance domain, e.g. social.example.org";

/// One instance by domain.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{domain}",
    tag = "records",
    params(("domain" = String, Path, description = DOMAIN)),
    responses(
        (status = 200, description = "The instance", body = InstanceOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks records:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such instance", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["records:read"]))
)]
pub async fn show_instance(
    caller: ApiCaller,
    state: web::Data<AppState>,
    domain: web::Path<String>,
) -> AppResult<HttpResponse> {
    caller.require(Scope::RecordsRead)?;
    let domain = domain.into_inner();
    let (instance, slug) = state.db.run(move |conn| api_ops::instance_record(conn, &domain)).await?;
    Ok(HttpResponse::Ok().json(InstanceOut::new(instance, slug)))
}

/// Creates or updates the instance with this domain (idempotent).
#[utoipa::path(
    put,
    path = "/api/v1/instances/{domain}",
    tag = "records",
    params(("domain" = String, Path, description = DOMAIN)),
    request_body = PutInstanceBody,
    responses(
        (status = 200, description = "Updated or unchanged", body = InstanceUpsertOut),
        (status = 201, description = "Created", body = InstanceUpsertOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks records:write", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Conflict", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`Content-Type: application/json`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid domain, institution, plan or body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["records:write"]))
)]
pub async fn upsert_instance(
    caller: ApiCaller,
    state: web::Data<AppState>,
    domain: web::Path<String>,
    body: Input<web::Json<PutInstanceBody>>,
) -> AppResult<HttpResponse> {
    let actor = caller.require(Scope::RecordsWrite)?;
    let b = input(body)?.into_inner();
    let input = InstanceInput {
        domain: domain.into_inner(),
        institution_slug: b.institution,
        plan: b.plan,
        status: b.status,
        mastodon_version: b.mastodon_version,
        region: b.region,
        notes: b.notes,
    };
    let plans = state.plans.clone();
    let (instance, slug, outcome) =
        state.db.run(move |conn| api_ops::upsert_instance(conn, &plans, &input, actor)).await?;
    let out = InstanceUpsertOut { result: outcome.into(), instance: InstanceOut::new(instance, slug) };
    Ok(match outcome {
        Upserted::Created => HttpResponse::Created().json(out),
        _ => HttpResponse::Ok().json(out),
    })
}

/// Marks the instance decommissioned (its history stays; PUT can revive it).
#[utoipa::path(
    delete,
    path = "/api/v1/instances/{domain}",
    tag = "records",
    params(("domain" = String, Path, description = DOMAIN)),
    responses(
        (status = 200, description = "The instance, now decommissioned", body = InstanceOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks records:write", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such instance", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["records:write"]))
)]
pub async fn delete_instance(
    caller: ApiCaller,
    state: web::Data<AppState>,
    domain: web::Path<String>,
) -> AppResult<HttpResponse> {
    let actor = caller.require(Scope::RecordsWrite)?;
    let domain = domain.into_inner();
    let plans = state.plans.clone();
    let (instance, slug) =
        state.db.run(move |conn| api_ops::decommission_instance(conn, &plans, &domain, actor)).await?;
    Ok(HttpResponse::Ok().json(InstanceOut::new(instance, slug)))
}
