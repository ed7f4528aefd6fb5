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
