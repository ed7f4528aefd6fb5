//! The mail outbox worker: a tokio task in `tusk serve` that claims due
//! `mail_outbox` rows, turns each into a message and sends it through the
//! pooled SMTP transport.
//!
//! One batch is three steps: claim (one DB call, see
//! [`crate::domain::mail_queue`] for the lease and the at-least-once rule),
//! compose every row (one blocking DB call: ticket, thread, reply body), send
//! them concurrently (at most `smtp.pool_size` at once), record the results
//! (one DB call).
//!
//! Result handling:
//! - 2xx: `sent`, with `sent_at`.
//! - 4xx, connection, TLS or timeout errors: back to `queued`, due again after
//!   `backoff_initial · 2^(attempts−1)` (at most `backoff_max`, minus up to
//!   20 % jitter so retries of many rows spread out), `last_error` set;
//!   after `max_attempts` tries: `failed`.
//! - 5xx: `failed` at once with the server's answer in `last_error`. A 5xx is
//!   the relay's permanent verdict on this message (unknown mailbox, policy);
//!   repeating it would only be refused again.
//! - A row that cannot be composed (unknown kind, bad payload, invalid
//!   address, template error): `failed` with the reason.
//!
//! Errors are logged and the worker carries on; a panic in a batch is caught.
//!
//! # Payloads by kind
//! The row's `payload` (JSON) plus the configuration and the database give
//! the template context ([`super::templates`]):
//! - `acknowledgement`, `solved`: `{ticket_number, subject, requester_name,
//!   requester_email}` (ticket number and subject are read from the ticket).
//! - `reply`: as above plus `agent_name`; the body is the thread message
//!   `message_ref`, whose stored `In-Reply-To`/`References` are used.
//! - `sla_warning`, `sla_breach`: `{metric, threshold, due_at, plan, priority,
//!   institution, instance, recipient_name}`.
//! - `magic_link`: `{link, expires_in_minutes, recipient_name}`.
//!
//! Every message but `reply` is automatic (`Auto-Submitted: auto-replied`).
//! Ticket mail answers the thread: `In-Reply-To` the customer's last
//! message, `References` the thread.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::compose::{self, Envelope, Recipient};
use super::templates::{
    AgentContext, CommonContext, EmailContext, EmailKind, MagicLinkContext, RecipientContext, ReplyContext, SlaContext,
    SlaWeeklyContext, TemplateError, Templates, TicketContext, TicketEmailContext, WeeklyTierLine,
};
use super::transport::{SmtpUrl, TransportOptions, build_transport};
use crate::config::Config;
use crate::db::models::{MailOutboxRow, Message, Ticket};
use crate::db::schema::messages;
use crate::db::{AnyConnection, Db, now};
use crate::domain::{mail_queue, replies, tickets};
use crate::error::{AppError, AppResult, ErrorKind};

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Written to `locked_by`; unique per process.
    pub worker_id: String,
    pub batch_size: i64,
    /// Messages sent at once (the SMTP pool size).
    pub concurrency: usize,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub max_attempts: i32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl WorkerSettings {
    /// From `[smtp]` and `[smtp.worker]`.
    pub fn from_config(config: &Config) -> WorkerSettings {
        let smtp = &config.smtp;
        WorkerSettings {
            worker_id: default_worker_id(),
            batch_size: i64::from(smtp.worker.batch_size),
            concurrency: usize::try_from(smtp.pool_size).unwrap_or(1).max(1),
            poll_interval: Duration::from_millis(smtp.worker.poll_interval_ms),
            lease: Duration::from_secs(smtp.worker.lease_secs),
            max_attempts: i32::try_from(smtp.max_attempts).unwrap_or(i32::MAX),
            backoff_initial: Duration::from_secs(smtp.backoff_initial_secs),
            backoff_max: Duration::from_secs(smtp.backoff_max_secs),
        }
    }

    /// The delay before the next try, after `attempts` tries (≥ 1), with
    /// `jitter` in `[0, 1)` taking off up to a fifth.
    pub fn backoff(&self, attempts: i32, jitter: f64) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
        let full = self.backoff_initial.saturating_mul(1u32 << exponent).min(self.backoff_max);
        full.mul_f64(1.0 - 0.2 * jitter.clamp(0.0, 1.0))
    }
}

/// `host:pid:random`, so that leases name the process holding them.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    let host = if host.is_empty() { "tusk".to_owned() } else { host };
    format!("{host}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}

/// Who the mail comes from and where links point.
#[derive(Debug, Clone)]
pub struct SenderIdentity {
    /// `support.name`, used in templates.
    pub support_name: String,
    /// `From` display name.
    pub from_name: String,
    /// `From` and `Reply-To` address.
    pub address: String,
    /// `server.public_url` without a trailing slash.
    pub public_url: String,
}

impl SenderIdentity {
    pub fn from_config(config: &Config) -> SenderIdentity {
        let from_name =
            if config.smtp.from_name.trim().is_empty() { &config.support.name } else { &config.smtp.from_name };
        SenderIdentity {
            support_name: config.support.name.clone(),
            from_name: from_name.trim().to_owned(),
            address: config.support.address.trim().to_owned(),
            public_url: config.server.public_url.trim_end_matches('/').to_owned(),
        }
    }

    fn portal_url(&self) -> String {
        format!("{}/support/", self.public_url)
    }

    fn portal_ticket_url(&self, number: i64) -> String {
        format!("{}/support/tickets/{number}", self.public_url)
    }

    fn console_ticket_url(&self, number: i64) -> String {
        format!("{}/console/tickets/{number}", self.public_url)
    }
}

/// Loads the email templates as configured (`smtp.templates_dir`), checking
/// every one: an error names the file and the variable.
pub fn load_templates(config: &Config) -> Result<Templates, TemplateError> {
    let dir = config.smtp.templates_dir.trim();
    Templates::load((!dir.is_empty()).then(|| std::path::Path::new(dir)))
}

/// The SMTP transport as configured. Call it inside a tokio runtime (the
/// pool spawns a task), and drop it inside one too.
pub fn transport_from_config(config: &Config) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let url = SmtpUrl::parse(config.smtp.url.expose()).map_err(|e| anyhow::anyhow!("smtp.url: {e}"))?;
    let hello_name = match config.smtp.hello_name.trim() {
        "" => config.support.address.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_else(|| "localhost".into()),
        name => name.to_owned(),
    };
    if url.tls == super::transport::TlsMode::None && !url.is_loopback() {
        tracing::warn!(relay = %url.display(), "smtp.url uses tls=none with a relay that is not on loopback");
    }
    build_transport(
        &url,
        &TransportOptions {
            hello_name,
            pool_size: config.smtp.pool_size,
            timeout: Duration::from_secs(config.smtp.timeout_secs),
        },
    )
    .map_err(|e| anyhow::anyhow!("smtp.url: {e}"))
}

/// What happened to one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub claimed: usize,
    pub sent: usize,
    /// Queued again for a later try.
    pub retried: usize,
    pub failed: usize,
}

impl BatchReport {
    fn add(&mut self, other: BatchReport) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
    }
}

/// Why a row was not sent this time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Worth another try later.
    Transient(String),
    /// Will not get better: the row fails now.
    Permanent(String),
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Failure {
        let text = match e.cause() {
            Some(cause) => format!("{}: {cause:#}", e.message()),
            None => e.message().to_owned(),
        };
        match e.kind {
            ErrorKind::NotFound | ErrorKind::Invalid => Failure::Permanent(text),
            _ => Failure::Transient(text),
        }
    }
}

/// The outbox worker. Cheap to clone.
#[derive(Clone)]
pub struct MailWorker {
    db: Db,
    templates: Arc<Templates>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    identity: Arc<SenderIdentity>,
    settings: Arc<WorkerSettings>,
}

/// A running worker; [`WorkerHandle::shutdown`] stops it.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Lets the current batch finish, then stops. Rows claimed but not
    /// recorded (if the task is aborted) are resent after their lease.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.join.await {
            tracing::warn!(error = %e, "mail worker task ended abnormally");
        }
    }
}

impl MailWorker {
    pub fn new(
        db: Db,
        templates: Arc<Templates>,
        transport: AsyncSmtpTransport<Tokio1Executor>,
        identity: SenderIdentity,
        settings: WorkerSettings,
    ) -> MailWorker {
        MailWorker { db, templates, transport, identity: Arc::new(identity), settings: Arc::new(settings) }
    }

    /// The worker `tusk serve` runs, from the configuration.
    pub fn from_config(config: &Config, db: Db, templates: Arc<Templates>) -> anyhow::Result<MailWorker> {
        Ok(MailWorker::new(
            db,
            templates,
            transport_from_config(config)?,
            SenderIdentity::from_config(config),
            WorkerSettings::from_config(config),
        ))
    }

    pub fn settings(&self) -> &WorkerSettings {
        &self.settings
    }

    /// Runs batches until told to stop: at once while batches come back
    /// full, else every `poll_interval`.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let join = tokio::spawn(async move {
            tracing::info!(worker = %self.settings.worker_id, "mail worker started");
            loop {
                if *stopped.borrow() {
                    break;
                }
                let worker = self.clone();
                let full = match tokio::spawn(async move { worker.run_once().await }).await {
                    Ok(Ok(report)) => report.claimed as i64 >= self.settings.batch_size,
                    Ok(Err(e)) => {
                        tracing::warn!(error = ?e, "mail worker: batch failed");
                        false
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "mail worker: batch panicked");
                        false
                    }
                };
                if !full {
                    tokio::select! {
                        _ = stopped.changed() => {}
                        _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    }
                }
            }
            tracing::info!(worker = %self.settings.worker_id, "mail worker stopped");
        });
        WorkerHandle { stop, join }
    }

    /// Runs batches until no row is due; returns the totals. Tests and
    /// benchmarks use it; rows waiting for a later retry are left alone.
    pub async fn run_until_idle(&self) -> AppResult<BatchReport> {
        let mut total = BatchReport::default();
        loop {
            let report = self.run_once().await?;
            total.add(report);
            if report.claimed == 0 {
                return Ok(total);
            }
        }
    }

    /// Claims, composes, sends and records one batch.
    pub async fn run_once(&self) -> AppResult<BatchReport> {
        let settings = self.settings.clone();
        let lease = chrono::Duration::from_std(settings.lease).unwrap_or(chrono::Duration::minutes(5));
        let rows = self
            .db
            .run(move |conn| {
                let at = now();
                mail_queue::claim_due(conn, &settings.worker_id, settings.batch_size, at, at + lease)
            })
            .await?;
        if rows.is_empty() {
            return Ok(BatchReport::default());
        }
        let templates = self.templates.clone();
        let identity = self.identity.clone();
        let composed = self
            .db
            .run(move |conn| {
                let prepared: Vec<(MailOutboxRow, Result<lettre::Message, Failure>)> = rows
                    .into_iter()
                    .map(|row| {
                        let message = compose_row(conn, &templates, &identity, &row);
                        (row, message)
                    })
                    .collect();
                Ok(prepared)
            })
            .await?;

        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut sends = JoinSet::new();
        let mut results: Vec<(MailOutboxRow, Result<(), Failure>)> = Vec::with_capacity(composed.len());
        for (row, message) in composed {
            match message {
                Err(f) => results.push((row, Err(f))),
                Ok(message) => {
                    let transport = self.transport.clone();
                    let permits = permits.clone();
                    sends.spawn(async move {
                        let _permit = permits.acquire_owned().await;
                        let outcome = transport.send(message).await.map(|_| ()).map_err(classify_smtp);
                        (row, outcome)
                    });
                }
            }
        }
        while let Some(joined) = sends.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                // The row stays `sending` and is retried once its lease expires.
                Err(e) => tracing::error!(error = %e, "mail worker: a send task panicked"),
            }
        }
        let settings = self.settings.clone();
        self.db.run(move |conn| record(conn, &settings, results)).await
    }
}

/// 5xx and client-side errors are permanent; everything else (4xx,
/// connection refused, TLS, timeouts) may pass.
fn classify_smtp(e: lettre::transport::smtp::Error) -> Failure {
    if e.is_permanent() || e.is_client() {
        Failure::Permanent(e.to_string())
    } else {
        Failure::Transient(e.to_string())
    }
}

fn record(
    conn: &mut AnyConnection,
    settings: &WorkerSettings,
    results: Vec<(MailOutboxRow, Result<(), Failure>)>,
) -> AppResult<BatchReport> {
    let at = now();
    let mut report = BatchReport { claimed: results.len(), ..BatchReport::default() };
    let sent: Vec<i64> = results.iter().filter(|(_, r)| r.is_ok()).map(|(row, _)| row.id).collect();
    crate::db::write_transaction(conn, |conn| {
        report.sent = mail_queue::mark_sent(conn, &settings.worker_id, &sent, at)?;
        for (row, result) in &results {
            match result {
                Ok(()) => tracing::info!(
                    outbox_id = row.id,
                    kind = %row.kind,
                    message_id = %row.rfc_message_id,
                    attempts = row.attempts,
                    "mail sent"
                ),
                Err(Failure::Permanent(reason)) => {
                    tracing::warn!(outbox_id = row.id, kind = %row.kind, %reason, "mail failed permanently");
                    report.failed += mail_queue::mark_failed(conn, &settings.worker_id, row.id, reason, at)?;
                }
                Err(Failure::Transient(reason)) if row.attempts >= settings.max_attempts => {
                    let reason = format!("gave up after {} attempts: {reason}", row.attempts);
                    tracing::warn!(outbox_id = row.id, kind = %row.kind, %reason, "mail failed");
                    report.failed += mail_queue::mark_failed(conn, &settings.worker_id, row.id, &reason, at)?;
                }
                Err(Failure::Transient(reason)) => {
                    let delay = settings.backoff(row.attempts, rand::random::<f64>());
                    let next = at + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
                    tracing::info!(
                        outbox_id = row.id,
                        kind = %row.kind,
                        %reason,
                        retry_in_ms = delay.as_millis() as u64,
                        "mail deferred"
                    );
                    report.retried += mail_queue::retry_later(conn, &settings.worker_id, row.id, reason, next, at)?;
                }
            }
        }
        Ok::<_, AppError>(())
    })?;
    Ok(report)
}

/// `{requester_name, requester_email}` or `{recipient_name}` of a payload.
#[derive(Debug, Default, Deserialize)]
struct PersonPayload {
    #[serde(default)]
    requester_name: Option<String>,
    #[serde(default)]
    requester_email: Option<String>,
    #[serde(default)]
    recipient_name: Option<String>,
    #[serde(default)]
    agent_name: Option<String>,
    #[serde(default)]
    ticket_number: Option<i64>,
    #[serde(default)]
    subject: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SlaPayload {
    metric: String,
    threshold: u32,
    due_at: String,
    plan: String,
    priority: String,
    institution: String,
    #[serde(default)]
    instance: Option<String>,
}

/// The `sla_weekly` payload (see [`SlaWeeklyContext`]).
#[derive(Debug, Deserialize)]
struct WeeklyPayload {
    period: String,
    tickets: i64,
    first_response_percent: String,
    resolution_percent: String,
    breaches: i64,
    backlog: i64,
    #[serde(default)]
    tiers: Vec<WeeklyTierLine>,
    #[serde(default)]
    report_url: Option<String>,
    attachment_name: String,
}

/// A text file attached to an email of any kind: `attachments` in the
/// payload (e.g. the CSV of `sla_weekly`).
#[derive(Debug, Deserialize)]
struct AttachmentPayload {
    filename: String,
    content_type: String,
    /// The file's text, sent as UTF-8 bytes.
    content: String,
}

#[derive(Debug, Default, Deserialize)]
struct AttachmentsPayload {
    #[serde(default)]
    attachments: Vec<AttachmentPayload>,
}

#[derive(Debug, Deserialize)]
struct MagicLinkPayload {
    link: String,
    expires_in_minutes: u32,
}

fn bad_payload(kind: EmailKind, e: serde_json::Error) -> Failure {
    Failure::Permanent(format!("the `{kind}` payload is invalid: {e}"))
}

/// Builds the message for one row.
fn compose_row(
    conn: &mut AnyConnection,
    templates: &Templates,
    identity: &SenderIdentity,
    row: &MailOutboxRow,
) -> Result<lettre::Message, Failure> {
    let kind: EmailKind = row.kind.parse().map_err(|e| Failure::Permanent(format!("{e}")))?;
    let recipients: Vec<String> = serde_json::from_str(&row.recipients)
        .map_err(|e| Failure::Permanent(format!("the recipient list is invalid: {e}")))?;
    if recipients.is_empty() {
        return Err(Failure::Permanent("the message has no recipient".into()));
    }
    let payload: Value =
        serde_json::from_str(&row.payload).map_err(|e| Failure::Permanent(format!("the payload is not JSON: {e}")))?;
    let person: PersonPayload = serde_json::from_value(payload.clone()).map_err(|e| bad_payload(kind, e))?;
    let payload_attachments = serde_json::json!({ "attachments": payload.get("attachments").cloned().unwrap_or_else(|| Value::Array(Vec::new())) });
    let first = &recipients[0];
    let recipient_name = person.recipient_name.clone().or_else(|| {
        person
            .requester_name
            .clone()
            .filter(|_| person.requester_email.as_deref().is_none_or(|e| e.eq_ignore_ascii_case(first)))
    });

    let ticket: Option<Ticket> = match row.ticket_id {
        Some(id) => Some(tickets::get(conn, id)?),
        None => None,
    };
    let without_ticket = matches!(kind, EmailKind::MagicLink | EmailKind::SlaWeekly);
    if !without_ticket && ticket.is_none() && person.ticket_number.is_none() {
        return Err(Failure::Permanent(format!("a `{kind}` email needs a ticket")));
    }
    // A reply's body and threading headers were fixed with its thread
    // message when the agent wrote it.
    let reply_message: Option<Message> = match (kind, row.message_ref) {
        (EmailKind::Reply, Some(message_ref)) => Some(
            messages::table
                .find(message_ref)
                .select(Message::as_select())
                .first(conn)
                .map_err(|e| Failure::from(AppError::from(e)))?,
        ),
        (EmailKind::Reply, None) => return Err(Failure::Permanent("a reply needs its thread message".into())),
        _ => None,
    };
    let (in_reply_to, references) = match (&ticket, kind, &reply_message) {
        (_, _, Some(m)) => (
            m.in_reply_to.clone(),
            m.reference_ids.as_deref().unwrap_or("").split_whitespace().map(str::to_owned).collect(),
        ),
        // Agents' notices are not part of the customer's thread.
        (_, EmailKind::SlaWarning | EmailKind::SlaBreach, _) => (None, Vec::new()),
        (Some(t), _, _) => replies::thread_headers(&tickets::messages_of(conn, t.id)?),
        (None, _, _) => (None, Vec::new()),
    };
    let reply_body = reply_message.map(|m| (m.body_text, m.body_html_sanitized));

    let number = ticket.as_ref().map(|t| t.number).or(person.ticket_number);
    let subject = ticket.as_ref().map(|t| t.subject.clone()).or(person.subject.clone()).unwrap_or_default();
    let common = CommonContext {
        support_name: identity.support_name.clone(),
        portal_url: Some(identity.portal_url()),
        recipient: RecipientContext { name: recipient_name.clone(), email: first.clone() },
    };
    let customer_ticket =
        |n: i64| TicketContext { number: n, subject: subject.clone(), url: Some(identity.portal_ticket_url(n)) };
    let context = match kind {
        EmailKind::Acknowledgement => EmailContext::Acknowledgement(TicketEmailContext {
            common,
            ticket: customer_ticket(number.unwrap_or_default()),
        }),
        EmailKind::Solved => {
            EmailContext::Solved(TicketEmailContext { common, ticket: customer_ticket(number.unwrap_or_default()) })
        }
        EmailKind::Reply => {
            let (body_text, body_html) = reply_body.unwrap_or_default();
            let body_html = body_html.unwrap_or_else(|| replies::text_to_html(&body_text));
            EmailContext::Reply(ReplyContext {
                common,
                ticket: customer_ticket(number.unwrap_or_default()),
                agent: AgentContext {
                    name: person.agent_name.clone().unwrap_or_else(|| identity.support_name.clone()),
                },
                body_text,
                body_html,
            })
        }
        EmailKind::SlaWarning | EmailKind::SlaBreach => {
            let sla: SlaPayload = serde_json::from_value(payload).map_err(|e| bad_payload(kind, e))?;
            let n = number.unwrap_or_default();
            let ctx = SlaContext {
                common,
                ticket: TicketContext {
                    number: n,
                    subject: subject.clone(),
                    url: Some(identity.console_ticket_url(n)),
                },
                metric: sla.metric,
                threshold: sla.threshold,
                due_at: sla.due_at,
                plan: sla.plan,
                priority: sla.priority,
                institution: sla.institution,
                instance: sla.instance,
            };
            if kind == EmailKind::SlaWarning { EmailContext::SlaWarning(ctx) } else { EmailContext::SlaBreach(ctx) }
        }
        EmailKind::SlaWeekly => {
            let w: WeeklyPayload = serde_json::from_value(payload.clone()).map_err(|e| bad_payload(kind, e))?;
            EmailContext::SlaWeekly(SlaWeeklyContext {
                common,
                period: w.period,
                tickets: w.tickets,
                first_response_percent: w.first_response_percent,
                resolution_percent: w.resolution_percent,
                breaches: w.breaches,
                backlog: w.backlog,
                tiers: w.tiers,
                report_url: w.report_url,
                attachment_name: w.attachment_name,
            })
        }
        EmailKind::MagicLink => {
            let link: MagicLinkPayload = serde_json::from_value(payload).map_err(|e| bad_payload(kind, e))?;
            EmailContext::MagicLink(MagicLinkContext {
                common,
                link: link.link,
                expires_in_minutes: link.expires_in_minutes,
            })
        }
    };
    let attachments: Vec<compose::OutAttachment> = serde_json::from_value::<AttachmentsPayload>(payload_attachments)
        .map_err(|e| bad_payload(kind, e))?
        .attachments
        .into_iter()
        .map(|a| compose::OutAttachment {
            filename: a.filename,
            content_type: a.content_type,
            data: a.content.into_bytes(),
        })
        .collect();
    let rendered = templates.render_context(&context).map_err(|e| Failure::Permanent(e.to_string()))?;
    let to = recipients
        .iter()
        .enumerate()
        .map(|(i, email)| Recipient { name: if i == 0 { recipient_name.clone() } else { None }, email: email.clone() })
        .collect();
    let envelope = Envelope {
        from_name: identity.from_name.clone(),
        from_address: identity.address.clone(),
        reply_to: Some(identity.address.clone()),
        to,
        message_id: row.rfc_message_id.clone(),
        in_reply_to,
        references,
        auto_submitted: kind != EmailKind::Reply,
        date: Utc::now(),
        ticket_number: if without_ticket { None } else { number },
    };
    compose::build(&envelope, &rendered, &attachments).map_err(|e| Failure::Permanent(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn settings() -> WorkerSettings {
        WorkerSettings {
            worker_id: "w".into(),
            batch_size: 10,
            concurrency: 2,
            poll_interval: Duration::from_millis(100),
            lease: Duration::from_secs(300),
            max_attempts: 8,
            backoff_initial: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let s = settings();
        assert_eq!(s.backoff(1, 0.0), Duration::from_secs(30));
        assert_eq!(s.backoff(2, 0.0), Duration::from_secs(60));
        assert_eq!(s.backoff(4, 0.0), Duration::from_secs(240));
        assert_eq!(s.backoff(7, 0.0), Duration::from_secs(1920));
        assert_eq!(s.backoff(8, 0.0), Duration::from_secs(3600));
        assert_eq!(s.backoff(40, 0.0), Duration::from_secs(3600));
        assert_eq!(s.backoff(2, 1.0), Duration::from_secs(48));
        // The default ten tries outlast an hour of outage even with the most jitter.
        let total: Duration = (1..10).map(|a| s.backoff(a, 0.999)).sum();
        assert!(total > Duration::from_secs(2 * 3600), "{total:?}");
    }

    #[test]
    fn config_defaults_give_sane_settings() {
        let c = Config::defaults().unwrap();
        let s = WorkerSettings::from_config(&c);
        assert_eq!((s.max_attempts, s.batch_size, s.concurrency), (10, 50, 24));
        assert!(s.lease > Duration::from_secs(c.smtp.timeout_secs * 2));
        let id = SenderIdentity::from_config(&c);
        assert_eq!(id.from_name, "Tusk Support");
        assert_eq!(id.portal_ticket_url(7), "http://127.0.0.1:8080/support/tickets/7");
        load_templates(&c).unwrap();
        // The pooled transport spawns its maintenance task: it needs a runtime.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _rt = rt.enter();
        transport_from_config(&c).unwrap();
    }
}
