//! Mail outbox throughput: queues N acknowledgements for one ticket, then
//! times the real worker (claim, compose with the built-in templates, send
//! over the pooled lettre transport, record) draining them to an SMTP sink on
//! loopback (`tests/support/smtp_sink.rs`, a real TCP server).
//!
//! ```text
//! cargo run --release --example outbox_bench -- [MESSAGES] [POOL_SIZE] [BATCH_SIZE] [DATABASE_URL]
//! ```
//! Defaults: 5000 messages, pool 4, batch 50, a fresh SQLite file in a
//! temporary directory. A PostgreSQL URL must name an empty database (the
//! rows are added to it). `benches/outbox.sh` wraps this.

#[path = "../tests/support/smtp_sink.rs"]
mod smtp_sink;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::Connection;
use tusk::config::{Config, Secret};
use tusk::db::{Channel, MessageKind, Priority};
use tusk::domain::outbox::{OutgoingMail, enqueue_mail};
use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
use tusk::domain::{Actor, contacts};
use tusk::mail::outbound::worker::{MailWorker, load_templates};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let pool: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    let batch: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(50);
    let dir = tempfile::tempdir()?;
    let url = args.next().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));

    let sink = smtp_sink::SmtpSink::start();
    let mut config = Config::defaults()?;
    config.data_dir = dir.path().to_path_buf();
    config.smtp.url = Secret::new(sink.url());
    config.smtp.pool_size = pool;
    config.smtp.worker.batch_size = batch;

    let db = tusk::db::Db::connect(&url, &tusk::db::DbOptions::default())?;
    db.migrate()?;
    let mut conn = db.get()?;
    let requester = contacts::find_or_create(&mut conn, "ada@uni.example", Some("Ada Lovelace"), Actor::System)?;
    let (ticket, _) = tickets::create(
        &mut conn,
        TicketInput {
            subject: "Media uploads fail on our instance".into(),
            requester: requester.id,
            institution: None,
            institution_from_requester: false,
            instance: None,
            priority: Priority::Normal,
            category: None,
            channel: Channel::Email,
            status: None,
            assignee: None,
            tags: Vec::new(),
            triage_reason: None,
            first_message: MessageInput::new(
                MessageKind::Inbound,
                Author::Contact(requester.id),
                "Uploads fail.",
                format!("bench.{}@uni.example", rand::random::<u64>()),
            ),
        },
        Actor::System,
    )?;
    let queued = Instant::now();
    conn.transaction(|conn| {
        for i in 0..messages {
            let to = format!("user{i}@uni.example");
            enqueue_mail(
                conn,
                &OutgoingMail {
                    kind: "acknowledgement",
                    ticket_id: Some(ticket.id),
                    message_ref: None,
                    recipients: std::slice::from_ref(&to),
                    rfc_message_id: &tickets::generate_message_id("tusk.example"),
                    payload: serde_json::json!({"requester_name": format!("User {i}"), "requester_email": to}),
                },
                tusk::db::now(),
            )?;
        }
        Ok::<_, tusk::AppError>(())
    })?;
    drop(conn);
    println!("queued {messages} rows in {:.2} s", queued.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let _runtime = runtime.enter();
    let worker = MailWorker::from_config(&config, db, Arc::new(load_templates(&config)?))?;
    let started = Instant::now();
    let report = runtime.block_on(worker.run_until_idle())?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(report.sent == messages, "sent {} of {messages}: {report:?}", report.sent);
    anyhow::ensure!(sink.wait_for(messages, Duration::from_secs(5)), "the sink got {} messages", sink.count());
    println!(
        "sent {messages} messages in {secs:.2} s: {:.0} messages/s (pool {pool}, batch {batch}, {} SMTP connections, {})",
        messages as f64 / secs,
        sink.connections(),
        url.split("://").next().context("database URL")?,
    );
    Ok(())
}
