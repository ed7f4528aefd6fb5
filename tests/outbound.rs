//! Outbound email through a real SMTP server on loopback (the in-process
//! sink of `tests/support/smtp_sink.rs`, spoken to over TCP by lettre), on
//! SQLite and PostgreSQL: headers, threading, multipart bodies, RFC 2047,
//! the reply round trip through the inbound pipeline, and the fault cases
//! (relay absent, 4xx, 5xx, a crash between sending and sent, two workers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::TestDb;
use diesel::prelude::*;
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use smtp_sink::SmtpSink;
use tusk::config::{Config, Secret};
use tusk::db::models::MailOutboxRow;
use tusk::db::schema::mail_outbox;
use tusk::db::{MailState, MessageKind, Role, TicketId};
use tusk::domain::intake::{IntakeSource, Outcome};
use tusk::domain::outbox::{OutgoingMail, enqueue_mail};
use tusk::domain::replies::{self, ReplyInput};
use tusk::domain::{Actor, agents, tickets};
use tusk::mail::intake::Intake;
use tusk::mail::outbound::Templates;
use tusk::mail::outbound::worker::{MailWorker, SenderIdentity, WorkerSettings, transport_from_config};
use tusk::storage::BlobStore;

on_both_backends!(
    acknowledgement_headers_and_bodies,
    agent_reply_round_trip_and_solved_notice,
    smtp_absent_then_started_delivers_once,
    transient_failure_then_success_delivers_once,
    permanent_failure_is_recorded_with_the_reason,
    crash_between_sending_and_sent_resends_with_the_same_id,
    two_workers_send_each_row_exactly_once,
    sla_notices_from_the_evaluator_are_sent,
);

const SUPPORT: &str = "support@tusk.example";

fn config(db: &TestDb, smtp_url: &str) -> Config {
    let mut c = Config::defaults().unwrap();
    c.data_dir = db.dir.path().to_path_buf();
    c.support.address = SUPPORT.into();
    c.support.name = "Équipe Tusk".into();
    c.server.public_url = "https://desk.tusk.example".into();
    c.smtp.url = Secret::new(smtp_url);
    c.smtp.timeout_secs = 5;
    c
}

/// A worker that retries at once (backoff 0) and gives up after 3 tries.
/// Build it inside a runtime (`rt.enter()`): lettre's pool needs one.
fn worker(db: &TestDb, c: &Config, id: &str) -> MailWorker {
    let mut s = WorkerSettings::from_config(c);
    s.worker_id = id.into();
    s.backoff_initial = Duration::ZERO;
    s.backoff_max = Duration::ZERO;
    s.max_attempts = 3;
    MailWorker::new(
        db.db.clone(),
        Arc::new(Templates::builtin().unwrap()),
        transport_from_config(c).unwrap(),
        SenderIdentity::from_config(c),
        s,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn intake(db: &TestDb, c: &Config) -> Intake {
    Intake::new(c, db.db.clone(), BlobStore::open(&c.data_dir).unwrap())
}

/// A customer's email: from Zoë, non-ASCII name and subject.
fn customer_mail(message_id: &str, sender: &str) -> Vec<u8> {
    format!(
        "From: =?utf-8?q?Zo=C3=AB_=C3=86r=C3=B8sk=C3=B8bing?= <{sender}>\r\n\
         To: Support <{SUPPORT}>\r\n\
         Subject: =?utf-8?q?F=C3=A9d=C3=A9ration_arr=C3=AAt=C3=A9e?=\r\n\
         Message-ID: <{message_id}>\r\n\
         Date: Thu, 26 Nov 2026 09:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Our federation stopped this morning.\r\n"
    )
    .into_bytes()
}

/// Opens a ticket the way customers do; returns its id and number.
fn open_ticket(db: &TestDb, c: &Config, message_id: &str) -> (TicketId, i64) {
    let result =
        intake(db, c).receive(&customer_mail(message_id, "zoe@uni.example"), IntakeSource::Http, None).unwrap();
    assert_eq!(result.outcome, Outcome::Created, "{:?}", result.trace);
    (result.ticket_id.unwrap(), result.ticket_number.unwrap())
}

fn rows(db: &TestDb) -> Vec<MailOutboxRow> {
    mail_outbox::table.order(mail_outbox::id.asc()).select(MailOutboxRow::as_select()).load(&mut *db.conn()).unwrap()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        HeaderValue::Empty => vec![],
        other => panic!("unexpected {other:?}"),
    }
}

/// The raw header lines named `name`, unfolded.
fn raw_headers(raw: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_lowercase());
    unfolded.split("\r\n").filter(|l| l.to_lowercase().starts_with(&prefix)).map(str::to_owned).collect()
}

fn acknowledgement_headers_and_bodies(db: &TestDb) {
    // lettre's pool spawns tasks when built and dropped: inside a runtime.
    let rt = runtime();
    let _rt = rt.enter();
    let sink = SmtpSink::start();
    let c = config(db, &sink.url());
    let (_, number) = open_ticket(db, &c, "first.zoe@uni.example");
    let queued = rows(db);
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].kind.as_str(), queued[0].state), ("acknowledgement", MailState::Queued));

    let report = rt.block_on(worker(db, &c, "w1").run_until_idle()).unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (1, 0, 0));
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.mail_from, SUPPORT);
    assert_eq!(got.rcpt_to, ["zoe@uni.example"]);

    let raw = &got.data;
    assert!(raw.is_ascii(), "7-bit on the wire");
    let msg = MessageParser::default().parse(raw).unwrap();
    assert_eq!(msg.message_id(), Some(queued[0].rfc_message_id.as_str()));
    assert_eq!(ids(msg.in_reply_to()), ["first.zoe@uni.example"]);
    assert_eq!(ids(msg.references()), ["first.zoe@uni.example"]);
    assert_eq!(msg.subject(), Some(format!("[#{number}] We received your request: Fédération arrêtée").as_str()));
    assert!(raw_headers(raw, "Subject")[0].contains("=?utf-8?"), "RFC 2047 subject");
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!((from.name(), from.address()), (Some("Équipe Tusk"), Some(SUPPORT)));
    assert!(raw_headers(raw, "From")[0].contains("=?utf-8?"), "RFC 2047 display name");
    let to = msg.to().unwrap().first().unwrap();
    assert_eq!((to.name(), to.address()), (Some("Zoë Ærøskøbing"), Some("zoe@uni.example")));
    assert_eq!(msg.reply_to().unwrap().first().unwrap().address(), Some(SUPPORT));
    let date = msg.date().unwrap().to_timestamp();
    assert!((chrono::Utc::now().timestamp() - date).abs() < 120, "Date is now");
    assert_eq!(raw_headers(raw, "Auto-Submitted"), ["Auto-Submitted: auto-replied"]);
    let ct = msg.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("alternative")));
    let text = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    for body in [&text, &html] {
        assert!(body.contains(&format!("#{number}")), "{body}");
        assert!(body.contains("Zoë Ærøskøbing"), "{body}");
        assert!(body.contains(&format!("https://desk.tusk.example/support/tickets/{number}")), "{body}");
    }
    assert!(html.contains("</html>"));

    let row = &rows(db)[0];
    assert_eq!(row.state, MailState::Sent);
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_some() && row.locked_by.is_none() && row.last_error.is_none());
}

fn agent_reply_round_trip_and_solved_notice(db: &TestDb) {
    // lettre's pool spawns tasks when built and dropped: inside a runtime.
    let rt = runtime();
    let _rt = rt.enter();
    let sink = SmtpSink::start();
    let c = config(db, &sink.url());
    let w = worker(db, &c, "w1");
    let (ticket_id, number) = open_ticket(db, &c, "first.zoe@uni.example");
    rt.block_on(w.run_until_idle()).unwrap();
    assert_eq!(sink.count(), 1, "the acknowledgement");

    let agent =
        agents::create(&mut db.conn(), "grace@tusk.example", "Grace Hopper", Role::Agent, "pw-12345678", Actor::System)
            .unwrap();
    let reply = replies::reply_by_email(
        &mut db.conn(),
        ticket_id,
        agent.id,
        &ReplyInput { body_text: "Hello Zoë,\n\nWe restarted the federation workers.\n".into(), ..Default::default() },
        SUPPORT,
    )
    .unwrap();
    let outbox = rows(db).into_iter().find(|r| r.id == reply.outbox_id).unwrap();
    assert_eq!(outbox.rfc_message_id, reply.message.message_id, "one id for the thread and the email");
    assert_eq!(outbox.message_ref, Some(reply.message.id));
    assert_eq!(reply.message.kind, MessageKind::Reply);

    rt.block_on(w.run_until_idle()).unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let raw = received[1].data.clone();
    let msg = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(msg.message_id(), Some(reply.message.message_id.as_str()));
    assert_eq!(ids(msg.in_reply_to()), ["first.zoe@uni.example"], "answers the customer's last message");
    assert_eq!(ids(msg.references()), ["first.zoe@uni.example"]);
    assert_eq!(msg.subject(), Some(format!("[#{number}] Re: Fédération arrêtée").as_str()));
    assert!(raw_headers(&raw, "Auto-Submitted").is_empty(), "an agent's reply is not automatic");
    assert!(msg.header("X-Auto-Response-Suppress").is_none());
    let text = msg.body_text(0).unwrap().to_string();
    assert!(text.contains("We restarted the federation workers."), "{text}");
    assert!(text.contains("Grace Hopper"), "{text}");
    assert!(msg.body_html(0).unwrap().contains("<p>Hello Zoë,</p>"));

    // Zoë answers from her mail client: quoting, threading headers from
    // what she received, "Re:" subject.
    let subject = msg.subject().unwrap();
    let mut refs = ids(msg.references());
    refs.push(msg.message_id().unwrap().to_owned());
    let quoted: String = text.lines().map(|l| format!("> {l}\r\n")).collect();
    let answer = format!(
        "From: =?utf-8?q?Zo=C3=AB_=C3=86r=C3=B8sk=C3=B8bing?= <zoe@uni.example>\r\n\
         To: {SUPPORT}\r\n\
         Subject: Re: {}\r\n\
         Message-ID: <answer.zoe@uni.example>\r\n\
         In-Reply-To: <{}>\r\n\
         References: {}\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Thanks, it works again.\r\n\r\nOn Thursday, Équipe Tusk wrote:\r\n{quoted}",
        raw_headers(&raw, "Subject")[0].trim_start_matches("Subject: "),
        msg.message_id().unwrap(),
        refs.iter().map(|r| format!("<{r}>")).collect::<Vec<_>>().join(" "),
    );
    assert!(subject.contains(&format!("[#{number}]")));
    let result = intake(db, &c).receive(answer.as_bytes(), IntakeSource::Http, None).unwrap();
    assert_eq!(result.outcome, Outcome::Appended, "{:?}", result.trace);
    assert_eq!(result.ticket_id, Some(ticket_id), "the answer lands in the same ticket");
    let thread = tickets::messages_of(&mut db.conn(), ticket_id).unwrap();
    let kinds: Vec<MessageKind> = thread.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [MessageKind::Inbound, MessageKind::Reply, MessageKind::Inbound]);
    assert_eq!(thread[2].message_id, "answer.zoe@uni.example");

    // Solving notifies the customer, automatically and in the thread.
    let (ticket, solved_row) =
        replies::solve_and_notify(&mut db.conn(), ticket_id, Actor::Agent(agent.id), SUPPORT).unwrap();
    assert_eq!(ticket.status, tusk::db::TicketStatus::Solved);
    assert!(solved_row.is_some());
    let (_, again) = replies::solve_and_notify(&mut db.conn(), ticket_id, Actor::Agent(agent.id), SUPPORT).unwrap();
    assert_eq!(again, None, "no second notice for an already solved ticket");
    rt.block_on(w.run_until_idle()).unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 3);
    let raw = &received[2].data;
    let msg = MessageParser::default().parse(raw).unwrap();
    assert_eq!(msg.subject(), Some(format!("[#{number}] Solved: Fédération arrêtée").as_str()));
    assert_eq!(ids(msg.in_reply_to()), ["answer.zoe@uni.example"], "the customer's last message");
    assert_eq!(
        ids(msg.references()),
        ["first.zoe@uni.example", reply.message.message_id.as_str(), "answer.zoe@uni.example"]
    );
    assert_eq!(raw_headers(raw, "Auto-Submitted"), ["Auto-Submitted: auto-replied"]);
}

fn smtp_absent_then_started_delivers_once(db: &TestDb) {
    // lettre's pool spawns tasks when built and dropped: inside a runtime.
    let rt = runtime();
    let _rt = rt.enter();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = config(db, &format!("smtp://127.0.0.1:{port}?tls=none"));
    let w = worker(db, &c, "w1");
    open_ticket(db, &c, "first.zoe@uni.example");

    let report = rt.block_on(w.run_once()).unwrap();
    assert_eq!((report.claimed, report.sent, report.retried), (1, 0, 1));
    let row = &rows(db)[0];
    assert_eq!((row.state, row.attempts), (MailState::Queued, 1));
    assert!(row.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{row:?}");
    assert!(row.locked_by.is_none());

    let sink = SmtpSink::start_on(port);
    let report = rt.block_on(w.run_until_idle()).unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(rt.block_on(w.run_until_idle()).unwrap().claimed, 0);
    assert_eq!(sink.count(), 1, "delivered once");
    let row = &rows(db)[0];
    assert_eq!((row.state, row.attempts), (MailState::Sent, 2));
}

fn transient_failure_then_success_delivers_once(db: &TestDb) {
    // lettre's pool spawns tasks when built and dropped: inside a runtime.
    let rt = runtime();
    let _rt = rt.enter();
    let sink = SmtpSink::start();
    let c = config(db, &sink.url());
    let w = worker(db, &c, "w1");
    open_ticket(db, &c, "first.zoe@uni.example");

    sink.fail_next_transient(1);
    let report = rt.block_on(w.run_once()).unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));
    let row = &rows(db)[0];
    assert_eq!(row.state, MailState::Queued);
    assert!(row.last_error.as_deref().unwrap().contains("Temporary failure"), "{row:?}");
    rt.block_on(w.run_until_idle()).unwrap();
    assert_eq!((sink.count(), sink.refused()), (1, 1), "delivered once after one 451");
    assert_eq!(rows(db)[0].state, MailState::Sent);

    // A relay that keeps answering 4xx: failed after max_attempts (3 here).
    open_ticket(db, &c, "second.zoe@uni.example");
    sink.fail_next_transient(10);
    for _ in 0..5 {
        rt.block_on(w.run_once()).unwrap();
    }
    let row = rows(db).pop().unwrap();
    assert_eq!((row.state, row.attempts), (MailState::Failed, 3));
    assert!(row.last_error.as_deref().unwrap().starts_with("gave up after 3 attempts"), "{row:?}");
    assert_eq!(sink.count(), 1);
}

fn permanent_failure_is_recorded_with_the_reason(db: &TestDb) {
    // lettre's pool spawns tasks when built and dropped: inside a runtime.
    let rt = runtime();
    let _rt = rt.enter();
    let sink = SmtpSink::start();
    let c = config(db, &sink.url());
    let w = worker(db, &c, "w1");
    open_ticket(db, &c, "first.zoe@uni.example");
    sink.set_permanent_failure(true);
    let report = rt.block_on(w.run_once()).unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (0, 0, 1));
    let row = &rows(db)[0];
    assert_eq!((row.state, row.attempts), (MailState::Failed, 1));
    let error = row.last_error.as_deref().unwrap();
    assert!(error.contains("550") && error.contains("Recipient refused by sink policy"), "{error}");
    let ack_payload = row.payload.clone();
    // A sign-in link refused for good: its row keeps the reason, not the link.
    let link = enqueue_mail(
        &mut db.conn(),
        &OutgoingMail {
            kind: "magic_link",
            ticket_id: None,
            message_ref: None,
            recipients: &["zoe@uni.example".to_string()],
            rfc_message_id: "link.1@tusk.example",
            payload: serde_json::json!({
                "link": "https://desk.example/support/login/secret-token",
                "expires_in_minutes": 15,
                "recipient_name": "Zoe",
            }),
        },
        tusk::db::now(),
    )
    .unwrap();
    rt.block_on(w.run_until_idle()).unwrap();
    let row = rows(db).into_iter().find(|r| r.id == link).unwrap();
    assert_eq!(row.state, MailState::Failed);
    assert_eq!(row.payload, tusk::domain::mail_queue::SENT_MAGIC_LINK_PAYLOAD);
    assert_eq!(rows(db)[0].payload, ack_payload, "other kinds keep theirs");
    sink.set_permanent_failure(false);
    assert_eq!(rt.block_on(w.run_until_idle()).unwrap().claimed, 0, "a failed row is not retried");
    assert_eq!(sink.count(), 0);

    // A row that cannot be composed fails with the reason, without SMTP.
    let id = enqueue_mail(
        &mut db.conn(),
        &OutgoingMail {
            kind: "carrier_pigeon",
            ticket_id: None,
            message_ref: None,
            recipients: &["zoe@uni.example".to_string()],
            rfc_message_id: "odd.1@tusk.example",
            payload: serde_json::json!({}),
        },
        tusk::db::now(),
    )
    .unwrap();
    rt.block_on(w.run_until_idle()).unwrap();
    let row = rows(db).into_iter().find(|r| r.id == id).unwrap();
    assert_eq!(row.state, MailState::Failed);
    assert!(row.last_error.unwrap().contains("carrier_pigeon"));
}

fn crash_between_sending_and_sent_resends_with_the_same_id(db: &TestDb) {
    // lettre's pool spawns tasks when built and dropped: inside a runtime.
    let rt = runtime();
    let _rt = rt.enter();
    let sink = SmtpSink::start();
    let c = config(db, &sink.url());
    let w = worker(db, &c, "w1");
    open_ticket(db, &c, "first.zoe@uni.example");
    open_ticket(db, &c, "second.zoe@uni.example");
    rt.block_on(w.run_until_idle()).unwrap();
    assert_eq!(sink.count(), 2);
    let [first, second] = <[MailOutboxRow; 2]>::try_from(rows(db)).unwrap();

    // The relay accepted both, but the worker died before writing `sent`:
    // the first one's lease has expired, the second's still runs.
    let now = tusk::db::now();
    for (row, until) in [(&first, now - chrono::Duration::minutes(1)), (&second, now + chrono::Duration::minutes(10))] {
        diesel::update(mail_outbox::table.find(row.id))
            .set((
                mail_outbox::state.eq(MailState::Sending),
                mail_outbox::locked_by.eq(Some("crashed-worker")),
                mail_outbox::locked_until.eq(Some(until)),
                mail_outbox::sent_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(&mut *db.conn())
            .unwrap();
    }
    let report = rt.block_on(w.run_until_idle()).unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1), "only the expired lease is taken over");
    assert_eq!(rt.block_on(w.run_until_idle()).unwrap().claimed, 0);
    let received = sink.received();
    assert_eq!(received.len(), 3, "re-sent once: at-least-once delivery");
    let id_of = |raw: &[u8]| MessageParser::default().parse(raw).unwrap().message_id().unwrap().to_owned();
    let resent: Vec<String> =
        received.iter().map(|r| id_of(&r.data)).filter(|id| *id == first.rfc_message_id).collect();
    assert_eq!(resent.len(), 2, "the same Message-ID both times, so clients show one message");
    let rows = rows(db);
    assert_eq!((rows[0].state, rows[0].attempts), (MailState::Sent, 2));
    assert_eq!((rows[1].state, rows[1].locked_by.as_deref()), (MailState::Sending, Some("crashed-worker")));
}

fn two_workers_send_each_row_exactly_once(db: &TestDb) {
    // lettre's pool spawns tasks when built and dropped: inside a runtime.
    let rt = runtime();
    let _rt = rt.enter();
    let sink = SmtpSink::start();
    let c = config(db, &sink.url());
    let (ticket_id, _) = open_ticket(db, &c, "first.zoe@uni.example");
    {
        let mut conn = db.conn();
        for i in 0..199 {
            enqueue_mail(
                &mut conn,
                &OutgoingMail {
                    kind: "acknowledgement",
                    ticket_id: Some(ticket_id),
                    message_ref: None,
                    recipients: &[format!("user{i}@uni.example")],
                    rfc_message_id: &format!("race.{i}@tusk.example"),
                    payload: serde_json::json!({"requester_name": null, "requester_email": format!("user{i}@uni.example")}),
                },
                tusk::db::now(),
            )
            .unwrap();
        }
    }
    let mut one = worker(db, &c, "w1");
    let mut two = worker(db, &c, "w2");
    for w in [&mut one, &mut two] {
        let mut s = w.settings().clone();
        s.batch_size = 10;
        *w = MailWorker::new(
            db.db.clone(),
            Arc::new(Templates::builtin().unwrap()),
            transport_from_config(&c).unwrap(),
            SenderIdentity::from_config(&c),
            s,
        );
    }
    let (a, b) = rt.block_on(async { tokio::join!(one.run_until_idle(), two.run_until_idle()) });
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 200, "{a:?} {b:?}");
    assert_eq!(a.claimed + b.claimed, 200, "no row claimed twice: {a:?} {b:?}");
    let received = sink.received();
    assert_eq!(received.len(), 200);
    let distinct: HashSet<String> = received
        .iter()
        .map(|r| MessageParser::default().parse(&r.data).unwrap().message_id().unwrap().to_owned())
        .collect();
    assert_eq!(distinct.len(), 200, "each row sent exactly once");
    assert!(rows(db).iter().all(|r| r.state == MailState::Sent && r.attempts == 1));
}

/// `tusk serve` refuses to start with a broken template override, naming
/// the file and the variable.
#[test]
fn broken_template_override_stops_serve() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("email");
    std::fs::create_dir_all(templates.join("reply")).unwrap();
    std::fs::write(templates.join("reply/subject.hbs"), "Re: {{ticket.subjct}}").unwrap();
    let out = common::server::tusk(dir.path(), None)
        .env("TUSK_SMTP_TEMPLATES_DIR", &templates)
        .env("TUSK_SERVER_BIND", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reply/subject.hbs") && stderr.contains("ticket.subjct"), "{stderr}");

    let out = common::server::tusk(dir.path(), None)
        .env("TUSK_SMTP_URL", "smtp://mx:25?tls=sometimes")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("smtp.url") && stderr.contains("tls mode"), "{stderr}");
}

/// The evaluator's breach notice carries what the `sla_breach` templates
/// need, so the worker sends it (it once failed as an invalid payload).
fn sla_notices_from_the_evaluator_are_sent(db: &TestDb) {
    let rt = runtime();
    let _rt = rt.enter();
    let sink = SmtpSink::start();
    let c = config(db, &sink.url());
    let w = worker(db, &c, "w1");
    agents::create(&mut db.conn(), "boss@tusk.example", "Boss", Role::Manager, "a long password", Actor::System)
        .unwrap();
    let (ticket_id, number) = open_ticket(db, &c, "late.zoe@uni.example");
    let policies = tusk::sla::policy::SlaPolicies::from_config(&c).unwrap();
    let options = tusk::sla::evaluator::EvaluatorOptions::from_config(&c);
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let done = tusk::sla::evaluator::evaluate(&mut db.conn(), &policies, &options, later).unwrap();
    assert!(done.breaches >= 1, "{done:?}");
    // Queued "in the future" of the evaluation; make it due now.
    diesel::update(mail_outbox::table)
        .set(mail_outbox::next_attempt_at.eq(chrono::Utc::now().naive_utc()))
        .execute(&mut *db.conn())
        .unwrap();
    let report = rt.block_on(w.run_until_idle()).unwrap();
    assert_eq!(report.failed, 0, "{:?}", rows(db));
    let breach = rows(db).into_iter().find(|r| r.kind == "sla_breach").expect("a breach notice");
    assert_eq!(breach.state, MailState::Sent, "{breach:?}");
    assert_eq!(breach.ticket_id, Some(ticket_id));
    let mail = sink.received().into_iter().find(|m| m.rcpt_to.iter().any(|r| r == "boss@tusk.example")).unwrap();
    let text = String::from_utf8_lossy(&mail.data).to_string();
    assert!(text.contains(&format!("#{number}")), "{text}");
    // The tier by its name (`[plans.single] name`), not its id.
    assert!(text.contains("Plan:        Single Service"), "{text}");
}
