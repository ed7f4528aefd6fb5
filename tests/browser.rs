//! Browser tests of the agent console: a real `tusk serve` (SQLite), a real
//! SMTP sink over TCP, and headless Chromium driven through ChromeDriver
//! (WebDriver, fantoccini). Enabled by `TUSK_TEST_BROWSER=1` (`.ci/run`
//! installs Debian's `chromium` and `chromium-driver` and sets it); when set,
//! a missing browser fails the test instead of skipping it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use common::fixtures::{self, PASSWORD};
use common::server::{Server, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use smtp_sink::SmtpSink;
use tusk::db::{MessageKind, Priority};
use tusk::domain::Actor;
use tusk::domain::tickets::{self, Author, MessageInput};

fn enabled() -> bool {
    if std::env::var("TUSK_TEST_BROWSER").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("SKIPPED browser tests: set TUSK_TEST_BROWSER=1 (needs chromium and chromedriver)");
    false
}

/// A ChromeDriver child process, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new(std::env::var("TUSK_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "TUSK_TEST_BROWSER=1 but chromedriver cannot be started (apt-get install chromium chromium-driver)",
            );
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let binary = std::env::var("TUSK_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

async fn sign_in(c: &Client, base: &str) {
    sign_in_as(c, base, "agent@tusk.example").await;
}

async fn sign_in_as(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/console/login")).await.unwrap();
    c.find(Locator::Css("input[name=email]")).await.unwrap().send_keys(email).await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_path(c, "/console/tickets").await;
}

/// Waits (without reloading) until the element matched by `css` has a text
/// containing `needle`: after a form submit the old page may still be
/// there for a moment, and its elements go stale when the new one loads.
async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        if let Ok(element) = c.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && text.contains(needle)
        {
            return text;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "`{needle}` never appeared in {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (without reloading) until the page source contains `needle`.
async fn wait_source(c: &Client, needle: &str) {
    let started = Instant::now();
    loop {
        if let Ok(source) = c.source().await
            && source.contains(needle)
        {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "`{needle}` never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the browser is on a page whose path starts with `prefix`.
async fn wait_path(c: &Client, prefix: &str) {
    let started = Instant::now();
    loop {
        if let Ok(url) = c.current_url().await
            && url.path().starts_with(prefix)
        {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never reached {prefix}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reloads `url` until the page source contains `needle`.
async fn wait_for(c: &Client, url: &str, needle: &str, timeout: Duration) -> String {
    let started = Instant::now();
    loop {
        c.goto(url).await.unwrap();
        let source = c.source().await.unwrap();
        if source.contains(needle) {
            return source;
        }
        assert!(started.elapsed() < timeout, "`{needle}` never appeared on {url}:\n{source}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn agent_works_a_ticket_in_the_browser() {
    if !enabled() {
        return;
    }
    let db = TestDb::sqlite();
    let w = fixtures::world(&mut db.conn());
    // Urgent on the managed tier: 1 h around the clock, so it is due soon.
    tickets::change_priority(&mut db.conn(), w.lyon.ticket.id, Priority::Urgent, Actor::System).unwrap();
    let sink = SmtpSink::start();
    let server = Server::start(db.dir.path(), Some(&db.url), &[("TUSK_SMTP_URL", &sink.url())]);
    let driver = Driver::start();
    let base = server.url();
    let number = w.lyon.ticket.number;
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let c = browser(&driver).await;
        sign_in(&c, &base).await;

        // The due-soon queue lists the urgent ticket once the evaluator ran.
        let due = wait_for(
            &c,
            &format!("{base}/console/tickets?queue=due"),
            "Federation relay stopped",
            Duration::from_secs(40),
        )
        .await;
        assert!(due.contains(&format!("#{number}")));
        c.find(Locator::LinkText("Federation relay stopped")).await.unwrap().click().await.unwrap();
        wait_path(&c, &format!("/console/tickets/{number}")).await;
        wait_source(&c, "first_response").await;

        // Reply; the reply and its delivery state appear in the thread.
        c.find(Locator::Id("reply-body"))
            .await
            .unwrap()
            .send_keys("We restarted the relay worker; posts flow again.")
            .await
            .unwrap();
        c.find(Locator::Css("#reply-form button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_source(&c, "Reply queued for sending.").await;
        wait_text(&c, "ol.entries", "We restarted the relay worker; posts flow again.").await;
        let ticket_url = format!("{base}/console/tickets/{number}");
        wait_for(&c, &ticket_url, "email sent", Duration::from_secs(30)).await;
        let received = sink.received();
        assert!(
            received.iter().any(|m| String::from_utf8_lossy(&m.data).contains("posts flow again")
                && m.rcpt_to.iter().any(|r| r.contains("staff@univ-lyon.example"))),
            "the customer got the reply over SMTP"
        );

        // Internal note: shown as a note, never emailed.
        c.find(Locator::Id("note-body")).await.unwrap().send_keys("Root cause: relay worker OOM.").await.unwrap();
        c.find(Locator::Css("#note-form button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_text(&c, "li.entry-note", "Root cause: relay worker OOM.").await;

        // Change the status to pending.
        c.find(Locator::Css("#status-select option[value=pending]")).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("update-button")).await.unwrap().click().await.unwrap();
        let status = wait_text(&c, "#ticket-status", "pending").await;
        assert_eq!(status, "pending");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            sink.received().iter().all(|m| !String::from_utf8_lossy(&m.data).contains("relay worker OOM")),
            "notes are never sent"
        );
        c.close().await.unwrap();
    });
    drop(server);
}

#[test]
fn customer_html_runs_nothing() {
    if !enabled() {
        return;
    }
    let db = TestDb::sqlite();
    let w = fixtures::world(&mut db.conn());
    let evil = r#"<p>Please look at <b>this</b>.</p><script>window.__xss = 1; alert('script')</script>
<img src="x" onerror="window.__xss = 2; alert('img')"><a id="evil" href="javascript:window.__xss=3">a link</a>
<svg onload="window.__xss = 4"></svg><iframe src="javascript:alert(5)"></iframe>
<form action="https://evil.example"><button>go</button></form><p style="x" onclick="window.__xss=6">click me</p>"#;
    let mut input = MessageInput::new(
        MessageKind::Inbound,
        Author::Contact(w.lyon.customer.id),
        "Please look",
        "xss@univ-lyon.example",
    );
    input.body_html = Some(evil.into());
    input.body_html_sanitized = Some(tusk::mail::inbound::sanitize_html(evil));
    tickets::add_message(&mut db.conn(), w.lyon.ticket.id, input, Actor::Contact(w.lyon.customer.id)).unwrap();
    let server = Server::start(db.dir.path(), Some(&db.url), &[]);
    let driver = Driver::start();
    let base = server.url();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let c = browser(&driver).await;
        sign_in(&c, &base).await;
        c.goto(&format!("{base}/console/tickets/{}", w.lyon.ticket.number)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(c.get_alert_text().await.is_err(), "no alert dialog opened");
        let xss = c.execute("return window.__xss === undefined", vec![]).await.unwrap();
        assert_eq!(xss, serde_json::json!(true), "no customer script ran");
        // The text is there; the dangerous parts are gone or inert.
        let source = c.source().await.unwrap();
        assert!(source.contains("Please look at"));
        let thread = c.find(Locator::Css("ol.entries")).await.unwrap().html(false).await.unwrap();
        for bad in ["<script", "onerror", "onload", "onclick", "javascript:", "<iframe", "<form"] {
            assert!(!thread.contains(bad), "{bad} in the thread: {thread}");
        }
        // Clicking what was the javascript: link runs nothing either.
        if let Ok(link) = c.find(Locator::LinkText("a link")).await {
            let _ = link.click().await;
            let xss = c.execute("return window.__xss === undefined", vec![]).await.unwrap();
            assert_eq!(xss, serde_json::json!(true));
        }
        c.close().await.unwrap();
    });
    drop(server);
}

/// The SLA report page in a real browser: charts and tables render, and a
/// screenshot is kept as a CI artifact (`target/artifacts/sla-report.png`).
#[test]
fn sla_report_page_renders_with_charts() {
    if !enabled() {
        return;
    }
    let db = TestDb::sqlite();
    let w = fixtures::world(&mut db.conn());
    // A reply and a solved ticket give the report something to show.
    let mut conn = db.conn();
    let input = tusk::domain::replies::ReplyInput { body_text: "Fixed.".into(), ..Default::default() };
    tusk::domain::replies::reply_by_email(&mut conn, w.lyon.ticket.id, w.manager.id, &input, "support@tusk.example")
        .unwrap();
    tickets::change_status(&mut conn, w.lyon.ticket.id, tusk::db::TicketStatus::Solved, Actor::Agent(w.manager.id))
        .unwrap();
    drop(conn);
    let server = Server::start(db.dir.path(), Some(&db.url), &[]);
    let driver = Driver::start();
    let base = server.url();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let c = browser(&driver).await;
        sign_in_as(&c, &base, "manager@tusk.example").await;
        // The evaluator measures the solved ticket within its first pass.
        let page = wait_for(&c, &format!("{base}/console/reports/sla"), "<svg", Duration::from_secs(40)).await;
        assert!(page.contains("Compliance by tier") && page.contains("<td>single</td>"), "{page}");
        let charts = c.find_all(Locator::Css("svg")).await.unwrap();
        assert!(charts.len() >= 2, "charts rendered: {}", charts.len());
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sla-report.png"), &png).unwrap();
        c.close().await.unwrap();
    });
    drop(server);
}
