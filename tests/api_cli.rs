//! API tokens end to end: `tusk admin create-token` prints a token once, a
//! real `tusk serve` accepts it, `tusk admin revoke-token` stops it within
//! the second the server may trust a token it has seen live
//! (`api_tokens::LIVE_TOKEN_CACHE`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::server::{Server, tusk};

fn get(port: u16, path: &str, token: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tusk(dir.path(), None)
        .args(["admin", "create-token", "--name", "provisioning", "--scopes", "records:read,tickets:read"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("tusk_") && token.len() == 69, "{token}");
    let note = String::from_utf8(out.stderr).unwrap();
    assert!(note.contains("shown once") && note.contains("tickets:read,records:read"), "{note}");

    let bad = tusk(dir.path(), None)
        .args(["admin", "create-token", "--name", "x", "--scopes", "tickets:delete"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scope `tickets:delete`"));

    let server = Server::start(dir.path(), None, &[("TUSK_SMTP_WORKER_ENABLED", "false")]);
    let (status, body) = get(server.port, "/api/v1/tickets", &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"tickets\":[]"), "{body}");
    let (status, _) = get(server.port, "/api/v1/institutions/none", &token);
    assert_eq!(status, 404);

    let list = tusk(dir.path(), None).args(["admin", "list-tokens"]).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.starts_with("1\tprovisioning\ttickets:read,records:read\t"), "{list}");
    assert!(list.contains("active") && !list.contains(&token), "{list}");

    let revoked = tusk(dir.path(), None).args(["admin", "revoke-token", "1"]).output().unwrap();
    assert!(revoked.status.success());
    let since = std::time::Instant::now();
    let (status, body) = loop {
        let (status, body) = get(server.port, "/api/v1/tickets", &token);
        if status != 200 || since.elapsed() > Duration::from_secs(5) {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, 401, "{body}");
    // The second the server could trust it, plus the time of a request.
    assert!(since.elapsed() < tusk::domain::api_tokens::LIVE_TOKEN_CACHE + Duration::from_secs(2));
    assert!(body.contains("urn:tusk:problem:unauthorized"), "{body}");
    let list = tusk(dir.path(), None).args(["admin", "list-tokens"]).output().unwrap();
    assert!(String::from_utf8(list.stdout).unwrap().contains("revoked"));
}
