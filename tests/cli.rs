//! The `tusk` binary end to end: exit codes, messages, `serve`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;

use common::server::{free_port, http_get};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn tusk(dir: &Path) -> Command {
    common::server::tusk(dir, None)
}

fn run(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn malformed_config_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tusk.toml");
    std::fs::write(&file, "[server]\nbind = \"127.0.0.1:80\n").unwrap();
    let out = run(tusk(dir.path()).arg("--config").arg(&file).arg("migrate"), "");
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&file.display().to_string()) && err.contains("line 2"), "{err}");

    std::fs::write(&file, "[support]\ntimezone = \"Europe/Lyon\"\n").unwrap();
    let out = run(tusk(dir.path()).arg("--config").arg(&file).arg("migrate"), "");
    assert_eq!(out.status.code(), Some(78));
    assert!(stderr(&out).contains("support.timezone: unknown IANA timezone `Europe/Lyon`"), "{}", stderr(&out));

    let out = run(tusk(dir.path()).env("TUSK_DATABASE_URL", "postgress://x@localhost/db").arg("migrate"), "");
    assert_eq!(out.status.code(), Some(78));
    assert!(stderr(&out).contains("database.url: unsupported database URL scheme `postgress`"), "{}", stderr(&out));
    assert!(!dir.path().join("data").exists(), "nothing written");
}

#[test]
fn unreachable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        tusk(dir.path())
            .env("TUSK_DATABASE_URL", "postgres://tusk:hunter2@127.0.0.1:1/tusk")
            .env("TUSK_DATABASE_CONNECT_TIMEOUT_SECS", "1")
            .arg("migrate"),
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot connect to the database at postgres://tusk:***@127.0.0.1:1/tusk"), "{err}");
    assert!(!err.contains("hunter2"), "password leaked: {err}");
}

#[test]
fn migrate_create_agent_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(tusk(dir.path()).arg("migrate"), "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied migrations"));
    let out = run(tusk(dir.path()).arg("migrate"), "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));

    let out = run(
        tusk(dir.path()).args([
            "admin",
            "create-agent",
            "--email",
            "Ops@Tusk.example",
            "--name",
            "Ops",
            "--role",
            "admin",
        ]),
        "a very long password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin agent Ops <ops@tusk.example>"));
    let out = run(
        tusk(dir.path()).args(["admin", "create-agent", "--email", "ops@tusk.example", "--name", "Ops"]),
        "a very long password\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = run(
        tusk(dir.path()).args(["admin", "create-agent", "--email", "x@tusk.example", "--name", "X", "--role", "boss"]),
        "pw\n",
    );
    assert!(stderr(&out).contains("--role: unknown role `boss`"), "{}", stderr(&out));

    let csv = dir.path().join("institutions.csv");
    std::fs::write(
        &csv,
        "slug,name,domains,default_plan\nuni,University,uni.example,managed\nbad,Bad,bad_domain,single\n",
    )
    .unwrap();
    let out = run(tusk(dir.path()).arg("import").arg("institutions").arg(&csv), "");
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}:3: rejected: `bad_domain` is not a valid domain name", csv.display())),
        "{}",
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 created, 0 updated, 0 unchanged, 1 rejected"));
}

fn serve_demo(dir: &Path, db_url: Option<String>) {
    let port = free_port();
    let mut cmd = tusk(dir);
    if let Some(url) = db_url {
        cmd.env("TUSK_DATABASE_URL", url);
    }
    let child = cmd
        .env("TUSK_SERVER_BIND", format!("127.0.0.1:{port}"))
        .env("TUSK_SERVER_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .args(["serve", "--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut healthy = false;
    while started.elapsed() < Duration::from_secs(60) {
        if let Some((200, body)) = http_get(port, "/healthz") {
            assert!(body.contains("\"status\":\"ok\""));
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(healthy, "tusk serve did not answer /healthz");
    let (status, metrics) = http_get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("tusk_database_up 1"));
    // Graceful shutdown on SIGTERM.
    let kill = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status after SIGTERM: {:?}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("Console:    http://127.0.0.1:{port}/console")), "{stdout}");
    assert!(stdout.contains(&format!("{} / {}", tusk::demo::DEMO_ADMIN_EMAIL, tusk::demo::DEMO_PASSWORD)), "{stdout}");
    assert!(stdout.contains("Demo data seeded"), "{stdout}");
}

#[test]
fn serve_demo_answers_healthz_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    serve_demo(dir.path(), None);
}

#[test]
fn serve_demo_answers_healthz_on_postgres() {
    let Some(db) = common::TestDb::postgres() else {
        eprintln!("SKIPPED serve_demo_answers_healthz_on_postgres: TUSK_TEST_POSTGRES_URL is not set");
        return;
    };
    serve_demo(db.dir.path(), Some(db.url.clone()));
}
