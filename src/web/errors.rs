//! Maps [`AppError`] kinds to HTTP: API and machine routes answer RFC 9457
//! problem JSON with a stable `type`; the cause goes to the log, never to the
//! client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{AppError, ErrorKind};

/// The body of an RFC 9457 problem response.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// A stable URI naming the kind of problem (`urn:tusk:problem:not-found`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// The stable problem type and title of an error kind.
pub fn problem_type(kind: ErrorKind) -> (&'static str, &'static str) {
    match kind {
        ErrorKind::NotFound => ("urn:tusk:problem:not-found", "Not found"),
        ErrorKind::Unauthorized => ("urn:tusk:problem:unauthorized", "Authentication required"),
        ErrorKind::Forbidden => ("urn:tusk:problem:forbidden", "Forbidden"),
        ErrorKind::Conflict => ("urn:tusk:problem:conflict", "Conflict"),
        ErrorKind::Invalid => ("urn:tusk:problem:invalid-input", "Invalid input"),
        ErrorKind::TooLarge => ("urn:tusk:problem:too-large", "Payload too large"),
        ErrorKind::UnsupportedMediaType => ("urn:tusk:problem:unsupported-media-type", "Unsupported media type"),
        ErrorKind::MethodNotAllowed => ("urn:tusk:problem:method-not-allowed", "Method not allowed"),
        ErrorKind::RateLimited => ("urn:tusk:problem:rate-limited", "Too many requests"),
        ErrorKind::Unavailable => ("urn:tusk:problem:unavailable", "Service unavailable"),
        ErrorKind::Internal => ("urn:tusk:problem:internal", "Internal error"),
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        status_of(self.kind)
    }

    fn error_response(&self) -> HttpResponse {
        match self.kind {
            ErrorKind::Internal => tracing::error!(error = ?self, "request failed"),
            ErrorKind::Unavailable => tracing::warn!(error = ?self, "dependency unavailable"),
            _ => tracing::debug!(error = ?self, "request refused"),
        }
        let (kind, title) = problem_type(self.kind);
        let status = self.status_code();
        let body = Problem {
            kind: kind.to_string(),
            title: title.to_string(),
            status: status.as_u16(),
            detail: self.message().to_string(),
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        if self.kind == ErrorKind::Unauthorized {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// Turns actix's own extractor errors (bad JSON, oversized bodies, bad
/// paths) into problem JSON.
pub fn from_actix<E: ResponseError + ?Sized>(err: &E) -> AppError {
    let status = err.status_code();
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::TooLarge,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        s if s.is_server_error() => ErrorKind::Internal,
        _ => ErrorKind::Invalid,
    };
    let message = match kind {
        ErrorKind::TooLarge => "the request body is too large".to_string(),
        ErrorKind::Internal => "internal error".to_string(),
        _ => err.to_string(),
    };
    AppError::new(kind, message)
}
