//! `tusk mailgate`: the MTA pipes one message to it on standard input; it
//! posts the message to `POST /inbound/email` and answers the MTA with a
//! sysexits(3) code: 0 delivered, 75 (EX_TEMPFAIL: the MTA keeps the message
//! and retries) when Tusk is unreachable, busy, misconfigured or failing,
//! 65 (EX_DATAERR: the MTA bounces it) when Tusk refuses the message itself.

use std::time::Duration;

/// Exit code: delivered.
pub const EX_OK: u8 = 0;
/// Exit code: the message is refused for good (too large, invalid).
pub const EX_DATAERR: u8 = 65;
/// Exit code: try again later.
pub const EX_TEMPFAIL: u8 = 75;

/// What the MTA should do, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub exit_code: u8,
    pub message: String,
}

/// Maps an HTTP status from Tusk to an exit code. Authentication and
/// permission failures are tempfails: they are Tusk's misconfiguration, and
/// the customer's mail must wait in the queue rather than bounce.
pub fn exit_code_for(status: u16) -> u8 {
    match status {
        200..=299 => EX_OK,
        401 | 403 | 404 | 408 | 429 => EX_TEMPFAIL,
        400..=499 => EX_DATAERR,
        _ => EX_TEMPFAIL,
    }
}

/// Posts `raw` to `<url>/inbound/email` with the bearer `token`.
pub fn deliver(url: &str, token: &str, raw: Vec<u8>, timeout: Duration) -> Verdict {
    let endpoint = if url.trim_end_matches('/').ends_with("/inbound/email") {
        url.trim_end_matches('/').to_string()
    } else {
        format!("{}/inbound/email", url.trim_end_matches('/'))
    };
    let client = match reqwest::blocking::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            return Verdict { exit_code: EX_TEMPFAIL, message: format!("cannot build the HTTP client: {e}") };
        }
    };
    let response = client.post(&endpoint).bearer_auth(token).header("Content-Type", "message/rfc822").body(raw).send();
    match response {
        Err(e) => Verdict { exit_code: EX_TEMPFAIL, message: format!("Tusk at {endpoint} is unreachable: {e}") },
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().unwrap_or_default();
            let detail = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_else(|| body.chars().take(300).collect());
            let exit_code = exit_code_for(status);
            let message = if exit_code == EX_OK {
                format!("delivered: {}", body.trim())
            } else {
                format!("Tusk answered {status}: {detail}")
            };
            Verdict { exit_code, message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        assert_eq!(exit_code_for(200), EX_OK);
        assert_eq!(exit_code_for(201), EX_OK);
        assert_eq!(exit_code_for(413), EX_DATAERR);
        assert_eq!(exit_code_for(422), EX_DATAERR);
        assert_eq!(exit_code_for(400), EX_DATAERR);
        assert_eq!(exit_code_for(401), EX_TEMPFAIL);
        assert_eq!(exit_code_for(429), EX_TEMPFAIL);
        assert_eq!(exit_code_for(500), EX_TEMPFAIL);
        assert_eq!(exit_code_for(503), EX_TEMPFAIL);
    }

    #[test]
    fn unreachable_is_tempfail() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Nothing listens on the port once the listener is dropped.
        let v =
            deliver(&format!("http://127.0.0.1:{port}"), "t", b"Subject: x\n\nbody".to_vec(), Duration::from_secs(2));
        assert_eq!(v.exit_code, EX_TEMPFAIL, "{v:?}");
        assert!(v.message.contains("unreachable"));
    }
}
