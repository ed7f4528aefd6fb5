//! What kind of mail is this: a person writing, an automatic reply (RFC 3834,
//! mailing lists, null senders) or a delivery failure report (RFC 3464)?
//!
//! Decisions are made from the facts [`parse`](super::parse::parse)
//! collected; nothing here touches the database.

use serde::{Deserialize, Serialize};

use super::parse::InboundEmail;

/// The kind of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Classification {
    /// Written by a person (as far as the headers tell).
    Normal,
    /// Automatic mail or list traffic: never answer it automatically.
    AutoReply {
        /// Which rule matched, e.g. `Auto-Submitted: auto-replied`.
        reason: String,
    },
    /// A delivery failure/status report about a message we sent.
    Bounce(BounceInfo),
}

impl Classification {
    /// A short stable label (`normal`, `auto-reply`, `bounce`) for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::AutoReply { .. } => "auto-reply",
            Self::Bounce(_) => "bounce",
        }
    }
}

/// One per-recipient block of a delivery status notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsnRecipient {
    /// `Original-Recipient`, address type (`rfc822;`) removed, lower-cased.
    pub original_recipient: Option<String>,
    /// `Final-Recipient`, address type removed, lower-cased.
    pub final_recipient: Option<String>,
    /// `Action` (`failed`, `delayed`, `delivered`, `relayed`, `expanded`), lower-cased.
    pub action: Option<String>,
    /// `Status` code such as `5.1.1`.
    pub status: Option<String>,
    /// `Diagnostic-Code` text, diagnostic type (`smtp;`) removed.
    pub diagnostic: Option<String>,
    /// `Remote-MTA`, type removed.
    pub remote_mta: Option<String>,
}

/// What a bounce says. The top-level fields describe the first failed
/// recipient block that names an address (else the first naming one, else
/// the first block); `recipients` lists them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceInfo {
    /// `Reporting-MTA`, type removed.
    pub reporting_mta: Option<String>,
    /// See [`DsnRecipient::original_recipient`].
    pub original_recipient: Option<String>,
    /// See [`DsnRecipient::final_recipient`].
    pub final_recipient: Option<String>,
    /// See [`DsnRecipient::action`].
    pub action: Option<String>,
    /// See [`DsnRecipient::status`].
    pub status: Option<String>,
    /// See [`DsnRecipient::diagnostic`].
    pub diagnostic: Option<String>,
    /// Message-ID of the message that bounced (from the returned message or
    /// headers, else the first `Message-ID:` line in the report text),
    /// without angle brackets. This is how the bounce finds its ticket.
    pub original_message_id: Option<String>,
    /// Every recipient block of the report.
    pub recipients: Vec<DsnRecipient>,
}

/// Classifies a parsed message. Bounces are recognised first (a DSN often
/// also carries `Auto-Submitted` and a null return path), then automatic
/// replies and list mail.
///
/// Bounce: a top-level `multipart/report; report-type=delivery-status`, a
/// `message/delivery-status` or `message/global-delivery-status` part, or an
/// `X-Failed-Recipients` header (Exim-style non-DSN bounces).
///
/// Auto-reply, first match wins: `Auto-Submitted` other than `no`;
/// `X-Autoreply`; `X-Autorespond`; `X-Auto-Response-Suppress` (any value);
/// `Precedence: bulk | junk | list | auto_reply`; `List-Id`,
/// `List-Unsubscribe` or `List-Post`; the null return path `<>`.
pub fn classify(email: &InboundEmail) -> Classification {
    if let Some(info) = bounce_info(email) {
        return Classification::Bounce(info);
    }
    match auto_reply_reason(email) {
        Some(reason) => Classification::AutoReply { reason },
        None => Classification::Normal,
    }
}

/// "Never send an automatic reply to this": true for automatic replies,
/// bounces, list mail, null senders (`Return-Path: <>` or a `MAILER-DAEMON`
/// sender) and messages without a usable `From`.
pub fn is_auto_reply_suppressed(email: &InboundEmail) -> bool {
    let Some(from) = &email.from else {
        return true;
    };
    if !from.email.contains('@') {
        return true;
    }
    if from.local_part().eq_ignore_ascii_case("mailer-daemon") {
        return true;
    }
    !matches!(classify(email), Classification::Normal)
}

/// The first keyword of a header value: up to whitespace, `;` or `(`, lower-cased.
fn keyword(value: &str) -> String {
    value
        .trim()
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn auto_reply_reason(email: &InboundEmail) -> Option<String> {
    let h = &email.headers_auto;
    if let Some(value) = &h.auto_submitted {
        let kw = keyword(value);
        if !kw.is_empty() && kw != "no" {
            return Some(format!("Auto-Submitted: {kw}"));
        }
    }
    let flags = [
        ("X-Autoreply", &h.x_autoreply),
        ("X-Autorespond", &h.x_autorespond),
        ("X-Auto-Response-Suppress", &h.x_auto_response_suppress),
    ];
    for (name, value) in flags {
        if value.is_some() {
            return Some(format!("{name} header present"));
        }
    }
    if let Some(value) = &h.precedence {
        let kw = keyword(value);
        if matches!(kw.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return Some(format!("Precedence: {kw}"));
        }
    }
    let lists = [("List-Id", &h.list_id), ("List-Unsubscribe", &h.list_unsubscribe), ("List-Post", &h.list_post)];
    for (name, value) in lists {
        if value.is_some() {
            return Some(format!("mailing list ({name})"));
        }
    }
    if email.return_path.as_deref() == Some("") {
        return Some("null return path <>".to_owned());
    }
    None
}

fn bounce_info(email: &InboundEmail) -> Option<BounceInfo> {
    let report = email.report.as_ref();
    let is_dsn_report = report.is_some_and(|r| {
        r.delivery_status.is_some()
            || r.report_type.as_deref().is_some_and(|t| {
                t.eq_ignore_ascii_case("delivery-status") || t.eq_ignore_ascii_case("global-delivery-status")
            })
    });
    let failed_header = &email.headers_auto.x_failed_recipients;
    if !is_dsn_report && failed_header.is_empty() {
        return None;
    }

    let mut info = BounceInfo::default();
    if let Some(status) = report.and_then(|r| r.delivery_status.as_deref()) {
        parse_delivery_status(status, FieldSource::StatusPart, &mut info);
    }
    if info.recipients.is_empty() {
        // Broken MIME or a report whose fields ended up in the text: look
        // for DSN field blocks in the text body and text attachments.
        let texts = std::iter::once(email.text_body.clone()).chain(
            email
                .attachments
                .iter()
                .filter(|a| {
                    a.content_type.starts_with("text/")
                        || a.content_type.starts_with("multipart/")
                        || a.content_type == "message/delivery-status"
                })
                .map(|a| String::from_utf8_lossy(&a.data).into_owned()),
        );
        for text in texts {
            parse_delivery_status(&text, FieldSource::FreeText, &mut info);
            if !info.recipients.is_empty() {
                break;
            }
        }
    }
    if info.recipients.is_empty() {
        info.recipients = failed_header
            .iter()
            .map(|addr| DsnRecipient {
                final_recipient: Some(addr.clone()),
                action: Some("failed".to_owned()),
                ..DsnRecipient::default()
            })
            .collect();
    }
    let names_recipient = |r: &&DsnRecipient| r.final_recipient.is_some() || r.original_recipient.is_some();
    let failed = |r: &&DsnRecipient| r.action.as_deref() == Some("failed");
    let primary = info
        .recipients
        .iter()
        .find(|r| failed(r) && names_recipient(r))
        .or_else(|| info.recipients.iter().find(names_recipient))
        .or_else(|| info.recipients.first())
        .cloned();
    if let Some(p) = primary {
        info.original_recipient = p.original_recipient;
        info.final_recipient = p.final_recipient;
        info.action = p.action;
        info.status = p.status;
        info.diagnostic = p.diagnostic;
    }
    info.original_message_id = report
        .and_then(|r| r.returned_message_id.clone())
        .or_else(|| scan_message_id(&email.text_body))
        .or_else(|| {
            email
                .attachments
                .iter()
                .filter(|a| a.content_type.starts_with("text/"))
                .find_map(|a| scan_message_id(&String::from_utf8_lossy(&a.data)))
        });
    Some(info)
}

/// Where DSN fields are read from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldSource {
    /// A `message/delivery-status` part: any block with recipient fields counts.
    StatusPart,
    /// Free text: only blocks naming a recipient count (prose may say "Action:").
    FreeText,
}

/// Splits `message/delivery-status` content into field blocks (RFC 3464:
/// one per-message block, then per-recipient blocks, separated by blank
/// lines) and fills `info`.
fn parse_delivery_status(text: &str, source: FieldSource, info: &mut BounceInfo) {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }

    for block in blocks {
        let field = |name: &str| block.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        if info.reporting_mta.is_none() {
            info.reporting_mta = field("reporting-mta").map(strip_type).filter(|v| !v.is_empty());
        }
        let names_recipient = field("final-recipient").is_some() || field("original-recipient").is_some();
        let is_recipient_block = names_recipient || (source == FieldSource::StatusPart && field("action").is_some());
        if !is_recipient_block {
            continue;
        }
        let address =
            |name: &str| field(name).map(|v| super::address::normalize_email(&strip_type(v))).filter(|v| !v.is_empty());
        info.recipients.push(DsnRecipient {
            original_recipient: address("original-recipient"),
            final_recipient: address("final-recipient"),
            action: field("action").map(keyword).filter(|a| !a.is_empty()),
            status: field("status").and_then(status_code),
            diagnostic: field("diagnostic-code").map(strip_type).filter(|d| !d.is_empty()),
            remote_mta: field("remote-mta").map(strip_type).filter(|v| !v.is_empty()),
        });
    }
}

/// Removes a leading `type;` (`rfc822;`, `dns;`, `smtp;`) from a DSN value.
fn strip_type(value: &str) -> String {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.trim().is_empty()
                && kind.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
        {
            rest.trim().to_owned()
        }
        _ => value.trim().to_owned(),
    }
}

/// The first `d.d.d` token of a `Status` value.
fn status_code(value: &str) -> Option<String> {
    value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|t| {
            let parts: Vec<&str> = t.split('.').collect();
            parts.len() == 3
                && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
}

/// Finds the first `Message-ID:` line in free text (a bounce body quoting
/// the original headers) and returns the id without angle brackets.
fn scan_message_id(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start().trim_start_matches('>').trim_start();
        let Some((name, value)) = trimmed.split_once(':') else {
            continue;
        };
        if !name.trim_end().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let value = if value.trim().is_empty() { lines.next().unwrap_or_default() } else { value };
        let value = value.trim();
        let id = match (value.find('<'), value.find('>')) {
            (Some(open), Some(close)) if open < close => &value[open + 1..close],
            _ => value.split_whitespace().next().unwrap_or_default(),
        };
        let id = id.trim();
        if !id.is_empty() && id.contains('@') {
            return Some(id.to_owned());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::mail::inbound::parse::parse;

    fn email(headers: &str) -> InboundEmail {
        let raw = format!("{headers}\r\nSubject: test\r\n\r\nbody\r\n");
        parse(raw.as_bytes()).unwrap()
    }

    fn reason(headers: &str) -> String {
        match classify(&email(headers)) {
            Classification::AutoReply { reason } => reason,
            other => panic!("expected auto-reply for {headers:?}, got {other:?}"),
        }
    }

    #[test]
    fn normal_mail_is_normal_and_may_be_answered() {
        let e = email("From: a@example.edu\r\nReturn-Path: <a@example.edu>\r\nPrecedence: first-class");
        assert_eq!(classify(&e), Classification::Normal);
        assert_eq!(classify(&e).label(), "normal");
        assert!(!is_auto_reply_suppressed(&e));
    }

    #[test]
    fn auto_submitted_rules() {
        assert_eq!(reason("From: a@x.example\r\nAuto-Submitted: auto-replied"), "Auto-Submitted: auto-replied");
        assert_eq!(
            reason("From: a@x.example\r\nAuto-Submitted: Auto-Generated (daily report)"),
            "Auto-Submitted: auto-generated"
        );
        let no = email("From: a@x.example\r\nAuto-Submitted: no");
        assert_eq!(classify(&no), Classification::Normal);
        let no_comment = email("From: a@x.example\r\nAuto-Submitted: no (manual)");
        assert_eq!(classify(&no_comment), Classification::Normal);
    }

    #[test]
    fn x_headers_rules() {
        assert_eq!(reason("From: a@x.example\r\nX-Autoreply: yes"), "X-Autoreply header present");
        assert_eq!(reason("From: a@x.example\r\nX-Autorespond: 1"), "X-Autorespond header present");
        assert_eq!(
            reason("From: a@x.example\r\nX-Auto-Response-Suppress: OOF, AutoReply"),
            "X-Auto-Response-Suppress header present"
        );
    }

    #[test]
    fn precedence_rules() {
        for (value, kw) in [("bulk", "bulk"), ("JUNK", "junk"), ("list", "list"), ("auto_reply", "auto_reply")] {
            assert_eq!(reason(&format!("From: a@x.example\r\nPrecedence: {value}")), format!("Precedence: {kw}"));
        }
        let urgent = email("From: a@x.example\r\nPrecedence: urgent");
        assert_eq!(classify(&urgent), Classification::Normal);
    }

    #[test]
    fn list_header_rules() {
        assert_eq!(reason("From: a@x.example\r\nList-Id: <dev.lists.example>"), "mailing list (List-Id)");
        assert_eq!(
            reason("From: a@x.example\r\nList-Unsubscribe: <mailto:u@x.example>"),
            "mailing list (List-Unsubscribe)"
        );
        assert_eq!(reason("From: a@x.example\r\nList-Post: NO"), "mailing list (List-Post)");
    }

    #[test]
    fn null_return_path_rule() {
        let e = email("From: a@x.example\r\nReturn-Path: <>");
        assert_eq!(classify(&e), Classification::AutoReply { reason: "null return path <>".to_owned() });
        assert!(is_auto_reply_suppressed(&e));
    }

    #[test]
    fn suppression_for_missing_or_daemon_sender() {
        assert!(is_auto_reply_suppressed(&email("To: support@tusk.example")));
        assert!(is_auto_reply_suppressed(&email("From: MAILER-DAEMON@mx.example")));
        assert!(is_auto_reply_suppressed(&email("From: undisclosed")));
        assert!(is_auto_reply_suppressed(&email("From: a@x.example\r\nList-Id: <l.example>")));
        assert!(is_auto_reply_suppressed(&email("From: a@x.example\r\nAuto-Submitted: auto-generated")));
    }

    const DSN: &str = "From: Mail Delivery System <MAILER-DAEMON@mx.example>\r
Return-Path: <>\r
Auto-Submitted: auto-replied\r
To: support@tusk.example\r
Subject: Undelivered Mail Returned to Sender\r
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r
\r
--B\r
Content-Type: text/plain\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example\r
Arrival-Date: Tue, 1 Jul 2025 10:00:00 +0200\r
\r
Final-Recipient: rfc822; ok@example.edu\r
Action: delivered\r
Status: 2.0.0\r
\r
Original-Recipient: rfc822;Alice@Example.EDU\r
Final-Recipient: RFC822; <alice@mail.example.edu>\r
Action: failed\r
Status: 5.1.1 (user unknown)\r
Remote-MTA: dns; mail.example.edu\r
Diagnostic-Code: smtp; 550 5.1.1 <alice@mail.example.edu>: Recipient address\r
    rejected: User unknown\r
\r
--B\r
Content-Type: message/rfc822\r
\r
From: support@tusk.example\r
Message-ID: <reply-17@tusk.example>\r
Subject: Re: [#17] down\r
\r
We are on it.\r
--B--\r
";

    #[test]
    fn dsn_is_bounce_with_failed_recipient_details() {
        let e = parse(DSN.as_bytes()).unwrap();
        let Classification::Bounce(info) = classify(&e) else {
            panic!("expected bounce");
        };
        assert_eq!(info.reporting_mta.as_deref(), Some("mx.example"));
        assert_eq!(info.recipients.len(), 2);
        assert_eq!(info.original_recipient.as_deref(), Some("alice@example.edu"));
        assert_eq!(info.final_recipient.as_deref(), Some("alice@mail.example.edu"));
        assert_eq!(info.action.as_deref(), Some("failed"));
        assert_eq!(info.status.as_deref(), Some("5.1.1"));
        assert_eq!(
            info.diagnostic.as_deref(),
            Some("550 5.1.1 <alice@mail.example.edu>: Recipient address rejected: User unknown")
        );
        assert_eq!(info.recipients[1].remote_mta.as_deref(), Some("mail.example.edu"));
        assert_eq!(info.original_message_id.as_deref(), Some("reply-17@tusk.example"));
        assert!(is_auto_reply_suppressed(&e));
    }

    #[test]
    fn delivery_status_part_without_report_type_is_bounce() {
        let raw = DSN.replace("multipart/report; report-type=delivery-status;", "multipart/mixed;");
        let e = parse(raw.as_bytes()).unwrap();
        assert!(matches!(classify(&e), Classification::Bounce(_)));
    }

    #[test]
    fn global_delivery_status_is_bounce() {
        let raw = DSN.replace("message/delivery-status", "message/global-delivery-status");
        let e = parse(raw.as_bytes()).unwrap();
        let Classification::Bounce(info) = classify(&e) else {
            panic!("expected bounce");
        };
        assert_eq!(info.final_recipient.as_deref(), Some("alice@mail.example.edu"));
    }

    #[test]
    fn message_id_found_by_scanning_report_text() {
        let raw = "From: postmaster@mx.example\r\nX-Failed-Recipients: Bob@example.edu\r\n\
Subject: Mail delivery failed\r\n\r\nThis message was created automatically.\r\n\r\n\
------ This is a copy of the message, including all the headers. ------\r\n\
From: support@tusk.example\r\nMessage-ID:\r\n <ack-9@tusk.example>\r\n\r\nhello\r\n";
        let e = parse(raw.as_bytes()).unwrap();
        let Classification::Bounce(info) = classify(&e) else {
            panic!("expected bounce");
        };
        assert_eq!(info.final_recipient.as_deref(), Some("bob@example.edu"));
        assert_eq!(info.action.as_deref(), Some("failed"));
        assert_eq!(info.original_message_id.as_deref(), Some("ack-9@tusk.example"));
    }

    #[test]
    fn returned_headers_part_gives_message_id() {
        let raw = DSN.replace(
            "Content-Type: message/rfc822\r\n\r\nFrom: support@tusk.example\r\nMessage-ID: <reply-17@tusk.example>",
            "Content-Type: text/rfc822-headers\r\n\r\nFrom: support@tusk.example\r\nMessage-ID: <hdr-only@tusk.example>",
        );
        let e = parse(raw.as_bytes()).unwrap();
        let Classification::Bounce(info) = classify(&e) else {
            panic!("expected bounce");
        };
        assert_eq!(info.original_message_id.as_deref(), Some("hdr-only@tusk.example"));
    }

    #[test]
    fn dsn_fields_in_text_are_used_when_mime_is_broken() {
        // The report part lost its headers, so its fields became body text.
        let raw = "From: MAILER-DAEMON@mx.example\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
The following addresses had permanent fatal errors. Action: none needed.\r\n\r\n\
Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: RFC822; carol@example.edu\r\n\
Action: failed\r\nStatus: 5.5.0\r\n";
        let e = parse(raw.as_bytes()).unwrap();
        let Classification::Bounce(info) = classify(&e) else {
            panic!("expected bounce");
        };
        assert_eq!(info.recipients.len(), 1, "{info:?}");
        assert_eq!(info.final_recipient.as_deref(), Some("carol@example.edu"));
        assert_eq!(info.status.as_deref(), Some("5.5.0"));
        assert_eq!(info.reporting_mta.as_deref(), Some("mx.example"));
    }

    #[test]
    fn several_delivery_status_parts_are_all_read() {
        let raw = DSN.replace(
            "--B\r\nContent-Type: message/delivery-status\r\n",
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nThis is prose, not fields.\r\n--B\r\nContent-Type: message/delivery-status\r\n",
        );
        let e = parse(raw.as_bytes()).unwrap();
        let Classification::Bounce(info) = classify(&e) else {
            panic!("expected bounce");
        };
        assert_eq!(info.final_recipient.as_deref(), Some("alice@mail.example.edu"));
    }

    #[test]
    fn feedback_report_is_not_a_bounce() {
        let raw = "From: abuse@isp.example\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
--F\r\nContent-Type: text/plain\r\n\r\nspam complaint\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n--F--\r\n";
        let e = parse(raw.as_bytes()).unwrap();
        assert_eq!(classify(&e), Classification::Normal);
    }

    #[test]
    fn helpers() {
        assert_eq!(strip_type("rfc822; a@b"), "a@b");
        assert_eq!(strip_type("a@b"), "a@b");
        assert_eq!(strip_type("x-local;host;weird"), "host;weird");
        assert_eq!(status_code("5.7.1 (delivery not authorized)"), Some("5.7.1".to_owned()));
        assert_eq!(status_code("failed"), None);
        assert_eq!(scan_message_id("x\n> Message-Id: <a@b>\n"), Some("a@b".to_owned()));
        assert_eq!(scan_message_id("Message-ID: none"), None);
    }
}
