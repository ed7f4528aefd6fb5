//! JSON API v1 (`/api/v1/...`): bearer tokens with scopes, one file per
//! resource, errors as RFC 9457 problem JSON, and the OpenAPI document
//! generated from these handlers' annotations (`/api/v1/openapi.json`).
//!
//! Handlers are adapters: check the scope, turn the request into domain
//! input, call one domain function through `db.run`, render a DTO. The
//! request bodies refuse unknown fields; their size is capped by
//! `server.max_body_bytes` (413 above it).

pub mod auth;
pub mod instances;
pub mod institutions;
pub mod json;
pub mod messages;
pub mod openapi;
pub mod reports;
pub mod schema;
pub mod search;
pub mod sla;
pub mod tickets;

pub use auth::{ApiBearer, ApiCaller};

/// A request's path number, query or body as extracted, looked at only once
/// the caller is authenticated and its scope checked: a request with bad
/// input and no valid token answers 401 (or 403), never 422, whichever
/// extractor finished first.
pub type Input<T> = Result<T, actix_web::Error>;

/// The extracted input, or the problem the extractor answered with (see
/// the error handlers of `build_app`).
pub fn input<T>(extracted: Input<T>) -> crate::AppResult<T> {
    extracted.map_err(|e| match e.as_error::<crate::AppError>() {
        Some(problem) => crate::AppError::new(problem.kind, problem.message()),
        None => crate::web::errors::from_actix(e.as_response_error()),
    })
}
