//! `POST /inbound/email`: the raw RFC 5322 message as the body, a bearer
//! token, answered once the message is stored and its outcome committed.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use super::AppState;
use crate::domain::intake::IntakeSource;
use crate::error::{AppError, AppResult, ErrorKind};

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

fn check_token(state: &AppState, req: &HttpRequest) -> AppResult<()> {
    let Some(expected) = state.config.mail.inbound_token() else {
        return Err(AppError::unavailable(
            "inbound email is not configured (set mail.inbound_token or TUSK_MAIL_INBOUND_TOKEN)",
            anyhow::anyhow!("no inbound token"),
        ));
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if given.is_empty() || !same_secret(given.as_bytes(), expected.as_bytes()) {
        return Err(AppError::unauthorized("a valid inbound token is required"));
    }
    Ok(())
}

/// Stores and processes one message.
pub async fn create_inbound_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> AppResult<HttpResponse> {
    check_token(&state, &req)?;
    let limit = state.config.mail.refuse_over_bytes;
    let mut raw = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::invalid(format!("cannot read the request body: {e}")))?;
        if raw.len() + chunk.len() > limit {
            return Err(AppError::new(
                ErrorKind::TooLarge,
                format!("the message is larger than {limit} bytes (mail.refuse_over_bytes)"),
            ));
        }
        raw.extend_from_slice(&chunk);
    }
    if raw.is_empty() {
        return Err(AppError::invalid("the request body is empty: send the raw message"));
    }
    let intake = state.intake.clone();
    let result = tokio::task::spawn_blocking(move || intake.receive(&raw, IntakeSource::Http, None))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("intake task failed: {e}")))??;
    state.metrics.observe_inbound(result.outcome.as_str());
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "inbound_id": result.inbound_id,
        "outcome": result.outcome,
        "ticket_id": result.ticket_id,
        "ticket_number": result.ticket_number,
        "message_id": result.message_id,
        "reason": result.reason,
    })))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"x"));
    }
}
