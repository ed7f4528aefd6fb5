//! `tusk mailgate` exit codes against a stopped and a running server, and a
//! crash in the middle of deliveries: no message lost, none doubled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestDb;
use common::server::{Server, free_port, tusk};

const TOKEN: &str = "mailgate-test-token";

fn message(id: &str, body_len: usize) -> Vec<u8> {
    format!(
        "From: Ada <ada.{id}@univ-lyon.example>\r\nTo: support@tusk.example\r\nSubject: Test {id}\r\nMessage-ID: <{id}@univ-lyon.example>\r\n\r\n{}\r\n",
        "x".repeat(body_len)
    )
    .into_bytes()
}

fn mailgate(dir: &std::path::Path, url: &str, token: &str, raw: &[u8]) -> Output {
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut child = tusk(dir, None)
        .args(["mailgate", "--url", url, "--token-file"])
        .arg(&token_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn exit_codes_against_stopped_and_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = mailgate(dir.path(), &format!("http://127.0.0.1:{port}"), TOKEN, &message("m0", 10));
    assert_eq!(out.status.code(), Some(75), "stopped server: tempfail; {}", String::from_utf8_lossy(&out.stderr));

    let server = Server::start(
        dir.path(),
        None,
        &[
            ("TUSK_MAIL_INBOUND_TOKEN", TOKEN),
            ("TUSK_MAIL_MAX_MESSAGE_BYTES", "2000"),
            ("TUSK_MAIL_REFUSE_OVER_BYTES", "4000"),
        ],
    );
    let out = mailgate(dir.path(), &server.url(), TOKEN, &message("m1", 10));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"outcome\":\"created\""));
    let out = mailgate(dir.path(), &server.url(), TOKEN, &message("m1", 10));
    assert_eq!(out.status.code(), Some(0), "a duplicate is delivered too");
    let out = mailgate(dir.path(), &server.url(), TOKEN, &message("m2", 3000));
    assert_eq!(out.status.code(), Some(0), "over max_message_bytes: stored and quarantined, not bounced");
    assert!(String::from_utf8_lossy(&out.stdout).contains("quarantined"));
    let out = mailgate(dir.path(), &server.url(), TOKEN, &message("m3", 5000));
    assert_eq!(out.status.code(), Some(65), "over refuse_over_bytes: refused for good");
    assert!(String::from_utf8_lossy(&out.stderr).contains("413"));
    let out = mailgate(dir.path(), &server.url(), "wrong-token", &message("m4", 10));
    assert_eq!(out.status.code(), Some(75), "a wrong token is our misconfiguration: the MTA keeps the mail");
}

fn post(url: &str, raw: Vec<u8>) -> bool {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    client
        .post(format!("{url}/inbound/email"))
        .bearer_auth(TOKEN)
        .body(raw)
        .send()
        .map(|r| r.status().is_success())
        .unwrap_or(false)
}

fn crash_during_delivery(db_url: Option<&str>) {
    const N: usize = 240;
    let dir = tempfile::tempdir().unwrap();
    let env = [("TUSK_MAIL_INBOUND_TOKEN", TOKEN)];
    let server = Arc::new(Mutex::new(Server::start(dir.path(), db_url, &env)));
    let url = server.lock().unwrap().url();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let delivered = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for worker in 0..4 {
            let url = url.clone();
            let acknowledged = acknowledged.clone();
            let delivered = delivered.clone();
            s.spawn(move || {
                for n in (worker..N).step_by(4) {
                    let id = format!("crash{n}");
                    if post(&url, message(&id, 200)) {
                        acknowledged.lock().unwrap().push(id);
                        delivered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        // Kill the server in the middle of the deliveries.
        while delivered.load(Ordering::SeqCst) < N / 3 {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.lock().unwrap().kill();
    });
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= N / 3 && acknowledged.len() < N, "killed mid-way: {}", acknowledged.len());

    // Restart; the MTA delivers everything again (it cannot know what got in).
    let server = Server::start(dir.path(), db_url, &env);
    for n in 0..N {
        assert!(post(&server.url(), message(&format!("crash{n}"), 200)), "redelivery {n}");
    }
    let url =
        db_url.map(str::to_string).unwrap_or_else(|| format!("sqlite://{}", dir.path().join("data/tusk.db").display()));
    let db = tusk::db::Db::connect(&url, &tusk::db::DbOptions::default()).unwrap();
    let mut conn = db.get().unwrap();
    use diesel::prelude::*;
    use tusk::db::schema::{inbound_messages, messages};
    let ids: Vec<String> = messages::table.select(messages::message_id).load(&mut *conn).unwrap();
    assert_eq!(ids.len(), N, "each message exactly once");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), N);
    for id in &acknowledged {
        assert!(ids.contains(&format!("{id}@univ-lyon.example")), "acknowledged {id} kept");
    }
    let stuck: i64 = inbound_messages::table
        .filter(inbound_messages::outcome.eq("received"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(stuck, 0, "receipts left by the crash were processed at restart");
    drop(server);
}

#[test]
fn crash_during_delivery_sqlite() {
    crash_during_delivery(None);
}

#[test]
fn crash_during_delivery_postgres() {
    let Some(db) = TestDb::postgres() else {
        eprintln!("SKIPPED crash_during_delivery_postgres: TUSK_TEST_POSTGRES_URL is not set");
        return;
    };
    crash_during_delivery(Some(&db.url.clone()));
}
