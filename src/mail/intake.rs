//! The inbound pipeline shared by `POST /inbound/email`, `tusk ingest` and
//! replays: store the raw bytes as a blob first, write the receipt, parse,
//! classify, store attachments, then let `domain::intake` decide in one
//! transaction. Blocking: async callers use `spawn_blocking`.

use crate::config::Config;
use crate::db::{AnyConnection, Db};
use crate::domain::intake::{self, IncomingMessage, IntakeResult, IntakeSettings, IntakeSource, MailKind, Outcome};
use crate::domain::tickets::AttachmentInput;
use crate::error::{AppError, AppResult};
use crate::mail::inbound::{self, Classification, InboundEmail};
use crate::storage::{BlobRef, BlobStore, sha256_hex};

/// A message stored and parsed, not yet decided on.
#[derive(Debug)]
pub struct Prepared {
    pub raw_blob: String,
    pub size: u64,
    /// The facts to decide on, or why the message goes to quarantine.
    pub parsed: Result<IncomingMessage, String>,
    pub trace: Vec<String>,
    /// Blobs kept in the database (raw bytes and small attachments), by
    /// address: written with the receipt, in [`Intake::commit`].
    pub inline_blobs: Vec<(String, Vec<u8>)>,
    /// Whether any blob went to a file (which a batch must flush before it
    /// commits).
    pub wrote_files: bool,
}

impl Prepared {
    /// Bytes held for the database.
    pub fn inline_bytes(&self) -> usize {
        self.inline_blobs.iter().map(|(_, b)| b.len()).sum()
    }
}

/// The pipeline with its settings.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    blobs: BlobStore,
    settings: IntakeSettings,
    max_message_bytes: usize,
    authserv_id: String,
    support_local: String,
    /// Refreshes a ticket's SLA clocks right after live mail changed it
    /// (bulk ingest leaves that to the evaluator).
    sla: Option<std::sync::Arc<crate::sla::evaluator::SlaContext>>,
}

impl Intake {
    pub fn new(config: &Config, db: Db, blobs: BlobStore) -> Self {
        let blobs = blobs.with_inline_max(config.mail.inline_blob_max_bytes);
        let support_address = config.support.address.trim().to_lowercase();
        let support_local = support_address.split('@').next().unwrap_or_default().to_string();
        Self {
            sla: crate::sla::evaluator::SlaContext::from_config(config).ok().map(std::sync::Arc::new),
            db,
            blobs,
            settings: IntakeSettings {
                support_address,
                reopen_window_days: i64::from(config.mail.reopen_window_days),
                require_aligned_sender: config.mail.require_aligned_sender,
                loop_limit_per_hour: i64::from(config.mail.loop_limit_per_hour),
                check_loops: true,
                ack_limit_per_hour: i64::from(config.mail.ack_limit_per_hour),
                backfill: false,
            },
            max_message_bytes: config.mail.max_message_bytes,
            authserv_id: config.mail.authserv_id.trim().to_ascii_lowercase(),
            support_local,
        }
    }

    /// The same pipeline importing history (`tusk ingest --backfill`).
    pub fn backfill(mut self, on: bool) -> Self {
        self.settings.backfill = on;
        self
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn settings(&self) -> &IntakeSettings {
        &self.settings
    }

    /// Receives one raw message: durable blob, receipt, then processing.
    /// The answer is given only once the outcome is committed.
    pub fn receive(&self, raw: &[u8], source: IntakeSource, origin: Option<&str>) -> AppResult<IntakeResult> {
        let prepared = self.prepare(raw)?;
        let mut conn = self.db.get()?;
        self.commit(&mut conn, prepared, source, origin)
    }

    /// The part of receiving that needs no database: stores the raw bytes
    /// and the attachments too large for the database durably as files
    /// (small ones are written with the receipt), parses and classifies.
    /// `tusk ingest` runs it on several threads.
    pub fn prepare(&self, raw: &[u8]) -> AppResult<Prepared> {
        self.prepare_with(raw, true)
    }

    /// As [`Intake::prepare`]; with `durable` false the blobs are flushed
    /// later by the caller ([`BlobStore::sync_filesystem`]) before it commits.
    pub fn prepare_with(&self, raw: &[u8], durable: bool) -> AppResult<Prepared> {
        let mut inline_blobs = Vec::new();
        let mut wrote_files = false;
        let blob = self
            .keep(raw, durable, &mut inline_blobs, &mut wrote_files)
            .map_err(|e| AppError::unavailable("cannot store the message", e))?;
        let mut trace = vec![format!("received {} bytes", raw.len()), format!("stored raw as {}", blob.sha256)];
        let parsed = if raw.len() > self.max_message_bytes {
            Err(format!(
                "message of {} bytes is over the limit of {} bytes (mail.max_message_bytes)",
                raw.len(),
                self.max_message_bytes
            ))
        } else {
            match inbound::parse(raw) {
                Err(e) => Err(format!("unparseable: {e}")),
                Ok(email) => {
                    let classification = inbound::classify(&email);
                    let attachments = self
                        .store_attachments(&email, durable, &mut inline_blobs, &mut wrote_files)
                        .map_err(|e| AppError::unavailable("cannot store attachments", e))?;
                    let incoming = self.incoming(&email, classification, attachments, &blob.sha256);
                    trace.push(format!(
                        "parsed: Message-ID <{}>, from {}, {} attachment(s)",
                        incoming.stable_id,
                        incoming.from_email.as_deref().unwrap_or("(none)"),
                        incoming.attachments.len()
                    ));
                    Ok(incoming)
                }
            }
        };
        Ok(Prepared { raw_blob: blob.sha256, size: blob.size, parsed, trace, inline_blobs, wrote_files })
    }

    /// Keeps a blob for the database when it is small enough, else writes
    /// its file.
    fn keep(
        &self,
        bytes: &[u8],
        durable: bool,
        inline: &mut Vec<(String, Vec<u8>)>,
        wrote_files: &mut bool,
    ) -> std::io::Result<BlobRef> {
        if self.blobs.is_inline(bytes.len()) {
            let blob = BlobRef { sha256: sha256_hex(bytes), size: bytes.len() as u64 };
            if !inline.iter().any(|(sha, _)| *sha == blob.sha256) {
                inline.push((blob.sha256.clone(), bytes.to_vec()));
            }
            Ok(blob)
        } else {
            *wrote_files = true;
            self.blobs.put_with(bytes, durable)
        }
    }

    fn store_inline(conn: &mut AnyConnection, blobs: &[(String, Vec<u8>)]) -> AppResult<()> {
        for (sha, bytes) in blobs {
            BlobStore::insert_inline(conn, sha, bytes)?;
        }
        Ok(())
    }

    /// Writes the receipt of a prepared message and decides its outcome.
    pub fn commit(
        &self,
        conn: &mut AnyConnection,
        prepared: Prepared,
        source: IntakeSource,
        origin: Option<&str>,
    ) -> AppResult<IntakeResult> {
        // The raw bytes and the receipt that refers to them commit together,
        // before any processing.
        let inbound_id = crate::db::write_transaction(conn, |conn| {
            Self::store_inline(conn, &prepared.inline_blobs)?;
            intake::record_receipt(conn, &prepared.raw_blob, prepared.size, source, origin)
        })?;
        let mut trace = prepared.trace;
        if let Some(first) = trace.first_mut() {
            first.push_str(&format!(" via {}", source.as_str()));
        }
        let result = match prepared.parsed {
            Ok(incoming) if source == IntakeSource::Ingest => {
                let settings = IntakeSettings { check_loops: false, ..self.settings.clone() };
                return intake::process(conn, inbound_id, &incoming, &settings, trace);
            }
            Ok(incoming) => intake::process(conn, inbound_id, &incoming, &self.settings, trace)?,
            Err(reason) => intake::quarantine(conn, inbound_id, &reason, trace, None)?,
        };
        if let (Some(sla), Some(ticket_id), false) = (&self.sla, result.ticket_id, self.settings.backfill) {
            // The message is committed; a failure here only delays the clock
            // update to the evaluator's next pass.
            if let Err(e) = sla.refresh(conn, ticket_id) {
                tracing::warn!(error = ?e, ticket = ticket_id.0, "SLA refresh after intake failed");
            }
        }
        Ok(result)
    }

    /// Processes a stored message again (quarantine retry, `--replay`).
    /// Idempotent: a message already in a ticket comes out as a duplicate.
    pub fn replay(&self, inbound_id: i64) -> AppResult<IntakeResult> {
        let mut conn = self.db.get()?;
        let receipt = intake::get_receipt(&mut conn, inbound_id)?;
        let raw = self.blobs.load(&mut conn, &receipt.raw_blob)?;
        let prepared = self.prepare(&raw)?;
        Self::store_inline(&mut conn, &prepared.inline_blobs)?;
        let mut trace: Vec<String> = serde_json::from_str(&receipt.trace).unwrap_or_default();
        trace.push(format!("replayed (outcome was {})", receipt.outcome));
        trace.extend(prepared.trace.into_iter().skip(2));
        match prepared.parsed {
            Ok(incoming) => intake::process(&mut conn, inbound_id, &incoming, &self.settings, trace),
            Err(reason) => intake::quarantine(&mut conn, inbound_id, &reason, trace, None),
        }
    }

    /// Processes receipts left unprocessed by a crash, received more than
    /// `min_age` ago (younger ones may still be in another process's hands);
    /// returns how many.
    pub fn recover(&self, min_age: chrono::Duration) -> AppResult<usize> {
        let pending = {
            let mut conn = self.db.get()?;
            intake::unprocessed(&mut conn, crate::db::now() - min_age, 10_000)?
        };
        let n = pending.len();
        for receipt in pending {
            if let Err(e) = self.replay(receipt.id) {
                tracing::warn!(inbound_id = receipt.id, error = ?e, "recovering an unprocessed message failed");
            }
        }
        Ok(n)
    }

    fn store_attachments(
        &self,
        email: &InboundEmail,
        durable: bool,
        inline: &mut Vec<(String, Vec<u8>)>,
        wrote_files: &mut bool,
    ) -> std::io::Result<Vec<AttachmentInput>> {
        email
            .attachments
            .iter()
            .map(|a| {
                let blob = self.keep(&a.data, durable, inline, wrote_files)?;
                Ok(AttachmentInput {
                    sha256: blob.sha256,
                    filename: no_nul(&a.filename),
                    content_type: no_nul(&a.content_type),
                    size_bytes: i64::try_from(blob.size).unwrap_or(i64::MAX),
                    content_id: a.content_id.as_deref().map(no_nul),
                    inline: a.inline,
                })
            })
            .collect()
    }

    fn incoming(
        &self,
        email: &InboundEmail,
        classification: Classification,
        attachments: Vec<AttachmentInput>,
        raw_blob: &str,
    ) -> IncomingMessage {
        let suppress = inbound::is_auto_reply_suppressed(email);
        let kind = match classification {
            Classification::Bounce(info) => MailKind::Bounce {
                original_message_id: info.original_message_id,
                recipient: info.original_recipient.or(info.final_recipient),
                status: info.status,
                action: info.action,
                diagnostic: info.diagnostic,
            },
            Classification::AutoReply { reason } if is_machine_reply(email) => MailKind::AutoReply { reason },
            // List and bulk mail is still somebody writing to support: it
            // becomes a ticket, but is never answered automatically.
            Classification::AutoReply { .. } | Classification::Normal => MailKind::Normal,
        };
        let from_email = email.from.as_ref().map(|a| clean_address(&a.email));
        let from_domain = from_email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_string());
        let sender_aligned = if self.authserv_id.is_empty() {
            None
        } else {
            let trust = inbound::evaluate_auth_results(
                &email.authentication_results,
                &self.authserv_id,
                from_domain.as_deref().unwrap_or(""),
            );
            Some(trust.aligned)
        };
        let mut recipients: Vec<String> = email.to.iter().chain(email.cc.iter()).map(|a| a.email.clone()).collect();
        recipients.extend(email.delivered_to.iter().cloned());
        let mut text = email.subject.clone();
        text.push('\n');
        text.push_str(&email.text_body);
        IncomingMessage {
            stable_id: no_nul(&email.stable_id),
            kind,
            suppress_auto_reply: suppress,
            from_email: from_email.map(|e| no_nul(&e)),
            from_name: email.from.as_ref().and_then(|a| a.name.as_deref()).map(no_nul),
            to: email.to.iter().map(|a| no_nul(&a.email)).collect(),
            cc: email.cc.iter().map(|a| no_nul(&a.email)).collect(),
            subject: no_nul(&email.subject),
            date: email.date.map(|d| d.naive_utc()),
            in_reply_to: email.in_reply_to.iter().map(|s| no_nul(s)).collect(),
            references: email.references.iter().map(|s| no_nul(s)).collect(),
            subject_tag: inbound::subject_ticket_tag(&email.subject),
            plus_detail: inbound::plus_address_detail(&recipients, &self.support_local),
            mentioned_domains: inbound::mentioned_domains(&text, false),
            sender_aligned,
            body_text: no_nul(&email.text_body),
            body_html: email.html_body.as_deref().map(no_nul),
            body_html_sanitized: email.html_sanitized.as_deref().map(no_nul),
            attachments,
            raw_blob: raw_blob.to_string(),
        }
    }
}

/// Text without NUL characters (PostgreSQL text cannot hold them; broken
/// mail can carry them).
fn no_nul(s: &str) -> String {
    s.replace('\0', "")
}

/// Repairs addresses that broken mailers write: `name addr@host` without
/// brackets (the token with `@` is the address), a trailing dot.
pub fn clean_address(raw: &str) -> String {
    let token = raw.split_whitespace().rev().find(|t| t.contains('@')).unwrap_or(raw);
    token.trim_matches(|c: char| matches!(c, '<' | '>' | ',' | ';')).trim_end_matches('.').to_string()
}

/// Machine-generated replies (RFC 3834 and its vendor variants, a null
/// return path), as opposed to list and bulk mail written by people.
fn is_machine_reply(email: &InboundEmail) -> bool {
    let h = &email.headers_auto;
    let auto_submitted = h
        .auto_submitted
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| !v.is_empty() && !v.starts_with("no"));
    let precedence_auto = h.precedence.as_deref().is_some_and(|p| p.trim().eq_ignore_ascii_case("auto_reply"));
    auto_submitted
        || h.x_autoreply.is_some()
        || h.x_autorespond.is_some()
        || precedence_auto
        || email.return_path.as_deref() == Some("")
}

/// Counts of outcomes, for `tusk ingest`'s summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestSummary {
    pub created: u64,
    pub appended: u64,
    pub duplicate: u64,
    pub auto_reply: u64,
    pub bounce: u64,
    pub quarantined: u64,
    pub unreadable: u64,
}

impl IngestSummary {
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Appended => self.appended += 1,
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::AutoReply => self.auto_reply += 1,
            Outcome::Bounce => self.bounce += 1,
            Outcome::Quarantined | Outcome::Discarded | Outcome::Received => self.quarantined += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.created
            + self.appended
            + self.duplicate
            + self.auto_reply
            + self.bounce
            + self.quarantined
            + self.unreadable
    }
}
