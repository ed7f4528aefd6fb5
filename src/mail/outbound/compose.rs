//! Turns a rendered email and its envelope into an RFC 5322 message (pure:
//! no I/O, no clock, no randomness but lettre's MIME boundaries).
//!
//! What every message carries:
//! - `Message-ID: <id>` exactly as given (fixed when the outbox row was
//!   written, so a retry sends the same id);
//! - `In-Reply-To` and one `References` header listing every id in order
//!   (lettre's `.header()` replaces, so the list is built once);
//! - `Subject` prefixed with the ticket tag `[#N]` unless the tag is already
//!   in it; non-ASCII subjects and display names are RFC 2047 encoded by
//!   lettre;
//! - `From` with the display name, `To`, optional `Reply-To`, `Date`;
//! - `Auto-Submitted: auto-replied` (RFC 3834) and
//!   `X-Auto-Response-Suppress: All` on automatic mail, so well-behaved robots
//!   do not answer it;
//! - a `multipart/alternative` body (text, then HTML), inside
//!   `multipart/mixed` when there are attachments.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use email_encoding::headers::writer::EmailWriter;
use lettre::Message;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue, InReplyTo, MessageId, References};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use super::templates::{Rendered, one_line};

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: Option<String>,
    pub email: String,
}

/// Everything about a message except its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Display name of the sender, e.g. `Tusk Support`; empty for none.
    pub from_name: String,
    pub from_address: String,
    /// An address, optionally with a display name (`Support <s@x.org>`).
    pub reply_to: Option<String>,
    pub to: Vec<Recipient>,
    /// Without angle brackets: `1042.abc@support.example.org`.
    pub message_id: String,
    /// The message answered, without angle brackets.
    pub in_reply_to: Option<String>,
    /// The thread's ids, oldest first, without angle brackets. The header
    /// lists them in this order without repeats, then `in_reply_to` if it is
    /// not among them.
    pub references: Vec<String>,
    /// Automatic mail (acknowledgements, notices): adds `Auto-Submitted`.
    pub auto_submitted: bool,
    pub date: DateTime<Utc>,
    /// Adds the `[#N]` tag to the subject.
    pub ticket_number: Option<i64>,
}

/// A file attached to an outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutAttachment {
    /// Shown to the recipient; RFC 2231 encoded when not ASCII.
    pub filename: String,
    /// A MIME type such as `application/pdf`; an unparsable one is sent as
    /// `application/octet-stream` (the bytes matter more than the label).
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Why a message could not be composed.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid {field} address `{address}`: {reason}")]
    InvalidAddress { field: &'static str, address: String, reason: String },
    #[error("invalid {field} message id `{id}`: {reason}")]
    InvalidMessageId { field: &'static str, id: String, reason: &'static str },
    #[error("the message has no recipient")]
    NoRecipients,
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
}

/// `Auto-Submitted` (RFC 3834).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSubmitted(String);

impl AutoSubmitted {
    /// `auto-replied`: what Tusk puts on its automatic mail.
    pub fn auto_replied() -> AutoSubmitted {
        AutoSubmitted("auto-replied".to_owned())
    }
}

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.trim().to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `X-Auto-Response-Suppress` (Microsoft): `All` asks Exchange and Outlook
/// not to send out-of-office and other automatic answers to our automatic
/// mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoResponseSuppress(String);

impl AutoResponseSuppress {
    pub fn all() -> AutoResponseSuppress {
        AutoResponseSuppress("All".to_owned())
    }
}

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoResponseSuppress(s.trim().to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `Subject`, encoded like lettre's own, except that a subject containing
/// `=?` is RFC 2047 encoded as a whole: lettre leaves ASCII words alone, and
/// a literal `=?utf-8?q?…?=` would then be decoded by the reader's client
/// into something else.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SubjectHeader(String);

impl Header for SubjectHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Subject")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SubjectHeader(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        if !self.0.contains("=?") {
            return HeaderValue::new(Self::name(), self.0.clone());
        }
        let mut encoded = String::new();
        let written = {
            let mut writer = EmailWriter::new(&mut encoded, "Subject: ".len(), 0, false);
            email_encoding::headers::rfc2047::encode(&self.0, &mut writer)
        };
        // Writing into a `String` cannot fail; fall back to lettre's encoding if it ever did.
        if written.is_err() {
            return HeaderValue::new(Self::name(), self.0.clone());
        }
        HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), encoded)
    }
}

/// The subject tag of a ticket: `[#1042]`.
pub fn ticket_tag(number: i64) -> String {
    format!("[#{number}]")
}

/// The subject as sent: one line, with the ticket tag in front unless it is
/// already somewhere in it.
pub fn tagged_subject(subject: &str, ticket_number: Option<i64>) -> String {
    let subject = clean_line(subject);
    match ticket_number {
        Some(n) if !subject.contains(&ticket_tag(n)) => {
            if subject.is_empty() {
                ticket_tag(n)
            } else {
                format!("{} {subject}", ticket_tag(n))
            }
        }
        _ => subject,
    }
}

/// One header line: control characters become spaces, whitespace runs
/// collapse. (lettre would encode a CR or LF rather than let it split the
/// header, but a subject has no business containing one.)
fn clean_line(s: &str) -> String {
    let spaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    one_line(&spaced)
}

/// Checks an id for a `Message-ID`, `In-Reply-To` or `References` header:
/// printable ASCII without spaces or angle brackets. Our own ids must also
/// have the `left@right` form; ids of other messages are echoed as received,
/// since real mail carries ids without `@` and threading needs them verbatim.
fn check_id(field: &'static str, id: &str, own: bool) -> Result<(), ComposeError> {
    let fail = |reason| Err(ComposeError::InvalidMessageId { field, id: id.to_owned(), reason });
    if id.is_empty() {
        return fail("it is empty");
    }
    if !id.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>') {
        return fail("only printable ASCII without spaces or angle brackets is allowed");
    }
    if own && !id.split_once('@').is_some_and(|(l, r)| !l.is_empty() && !r.is_empty()) {
        return fail("it must look like `left@right`");
    }
    Ok(())
}

fn mailbox(field: &'static str, name: Option<&str>, address: &str) -> Result<Mailbox, ComposeError> {
    let parsed = address.trim().parse().map_err(|e: lettre::address::AddressError| ComposeError::InvalidAddress {
        field,
        address: address.to_owned(),
        reason: e.to_string(),
    })?;
    let name = name.map(clean_line).filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, parsed))
}

/// Builds the message. See the module docs for what it carries.
pub fn build(envelope: &Envelope, rendered: &Rendered, attachments: &[OutAttachment]) -> Result<Message, ComposeError> {
    check_id("Message-ID", &envelope.message_id, true)?;
    if let Some(id) = &envelope.in_reply_to {
        check_id("In-Reply-To", id, false)?;
    }
    // References: the given thread, then the parent if missing; no repeats.
    let mut references: Vec<&str> = Vec::with_capacity(envelope.references.len() + 1);
    for id in envelope.references.iter().map(String::as_str).chain(envelope.in_reply_to.as_deref()) {
        check_id("References", id, false)?;
        if !references.contains(&id) {
            references.push(id);
        }
    }
    if envelope.to.is_empty() {
        return Err(ComposeError::NoRecipients);
    }

    let mut builder = Message::builder()
        .from(mailbox("From", Some(&envelope.from_name), &envelope.from_address)?)
        .date(SystemTime::from(envelope.date))
        .header(SubjectHeader(tagged_subject(&rendered.subject, envelope.ticket_number)))
        .header(MessageId::from(format!("<{}>", envelope.message_id)));
    for to in &envelope.to {
        builder = builder.to(mailbox("To", to.name.as_deref(), &to.email)?);
    }
    if let Some(reply_to) = &envelope.reply_to {
        let mbox: Mailbox = reply_to.trim().parse().map_err(|e: lettre::address::AddressError| {
            ComposeError::InvalidAddress { field: "Reply-To", address: reply_to.clone(), reason: e.to_string() }
        })?;
        builder = builder.reply_to(mbox);
    }
    if let Some(id) = &envelope.in_reply_to {
        builder = builder.header(InReplyTo::from(format!("<{id}>")));
    }
    if !references.is_empty() {
        let list: Vec<String> = references.iter().map(|id| format!("<{id}>")).collect();
        builder = builder.header(References::from(list.join(" ")));
    }
    if envelope.auto_submitted {
        builder = builder.header(AutoSubmitted::auto_replied()).header(AutoResponseSuppress::all());
    }

    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(rendered.text.clone()))
        .singlepart(SinglePart::html(rendered.html.clone()));
    let message = if attachments.is_empty() {
        builder.multipart(alternative)?
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in attachments {
            // The literal always parses; TEXT_PLAIN only satisfies the types.
            let content_type = ContentType::parse(&a.content_type)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                .unwrap_or(ContentType::TEXT_PLAIN);
            mixed = mixed.singlepart(Attachment::new(clean_line(&a.filename)).body(a.data.clone(), content_type));
        }
        builder.multipart(mixed)?
    };
    Ok(message)
}

/// The message as bytes, ready for SMTP `DATA` or an `.eml` file.
pub fn to_bytes(message: &Message) -> Vec<u8> {
    message.formatted()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mail_parser::{HeaderValue as ParsedValue, MessageParser, MimeHeaders, PartType};

    fn envelope() -> Envelope {
        Envelope {
            from_name: "Tusk Support".into(),
            from_address: "support@support.example.org".into(),
            reply_to: Some("support@support.example.org".into()),
            to: vec![Recipient { name: Some("Ada Lovelace".into()), email: "ada@uni.example.edu".into() }],
            message_id: "1042.7f3a@support.example.org".into(),
            in_reply_to: Some("CAF=abc@mail.uni.example.edu".into()),
            references: vec!["first@uni.example.edu".into(), "CAF=abc@mail.uni.example.edu".into()],
            auto_submitted: false,
            date: Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26).unwrap(),
            ticket_number: Some(1042),
        }
    }

    fn rendered() -> Rendered {
        Rendered {
            subject: "Re: Media uploads fail".into(),
            text: "Hello Ada,\n\nPlease try again.\n".into(),
            html: "<p>Hello Ada,</p><p>Please <strong>try again</strong>.</p>".into(),
        }
    }

    fn bytes(envelope: &Envelope, rendered: &Rendered, attachments: &[OutAttachment]) -> Vec<u8> {
        to_bytes(&build(envelope, rendered, attachments).unwrap())
    }

    /// The raw header lines named `name` (case-insensitive), unfolded.
    fn raw_headers(raw: &[u8], name: &str) -> Vec<String> {
        let text = String::from_utf8_lossy(raw);
        let head = text.split("\r\n\r\n").next().unwrap();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let prefix = format!("{}:", name.to_lowercase());
        unfolded.split("\r\n").filter(|l| l.to_lowercase().starts_with(&prefix)).map(str::to_owned).collect()
    }

    fn text_list(v: &ParsedValue<'_>) -> Vec<String> {
        match v {
            ParsedValue::Text(t) => vec![t.to_string()],
            ParsedValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ticket_tag_format() {
        assert_eq!(ticket_tag(1042), "[#1042]");
        assert_eq!(tagged_subject("Help", Some(7)), "[#7] Help");
        assert_eq!(tagged_subject("Re: [#7] Help", Some(7)), "Re: [#7] Help");
        assert_eq!(tagged_subject("Re: [#71] Help", Some(7)), "[#7] Re: [#71] Help");
        assert_eq!(tagged_subject("Help", None), "Help");
        assert_eq!(tagged_subject("", Some(3)), "[#3]");
        assert_eq!(tagged_subject("a\r\nBcc: x@y\tz", None), "a Bcc: x@y z");
    }

    #[test]
    fn threading_headers_round_trip() {
        let raw = bytes(&envelope(), &rendered(), &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(msg.message_id(), Some("1042.7f3a@support.example.org"));
        assert_eq!(raw_headers(&raw, "Message-ID"), ["Message-ID: <1042.7f3a@support.example.org>"]);
        assert_eq!(text_list(msg.in_reply_to()), ["CAF=abc@mail.uni.example.edu"]);
        assert_eq!(text_list(msg.references()), ["first@uni.example.edu", "CAF=abc@mail.uni.example.edu"]);
        assert_eq!(
            raw_headers(&raw, "References"),
            ["References: <first@uni.example.edu> <CAF=abc@mail.uni.example.edu>"]
        );
        assert_eq!(raw_headers(&raw, "In-Reply-To").len(), 1);
    }

    #[test]
    fn long_references_fold_into_one_header_with_every_id_in_order() {
        let mut env = envelope();
        env.references = (0..40).map(|i| format!("msg-{i:03}.{}@mail.example.org", "x".repeat(i % 7))).collect();
        env.in_reply_to = Some("parent@mail.example.org".into());
        let raw = bytes(&env, &rendered(), &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        let mut expected = env.references.clone();
        expected.push("parent@mail.example.org".into());
        assert_eq!(text_list(msg.references()), expected, "parent appended when missing");
        assert_eq!(raw_headers(&raw, "References").len(), 1);
        let head = String::from_utf8_lossy(&raw);
        assert!(head.split("\r\n").all(|l| l.len() <= 78), "folded to 78 columns");
    }

    #[test]
    fn references_drop_repeats_and_none_when_no_thread() {
        let mut env = envelope();
        env.references = vec!["a@x".into(), "b@x".into(), "a@x".into()];
        env.in_reply_to = Some("b@x".into());
        let raw = bytes(&env, &rendered(), &[]);
        assert_eq!(raw_headers(&raw, "References"), ["References: <a@x> <b@x>"]);

        env.references.clear();
        env.in_reply_to = None;
        let raw = bytes(&env, &rendered(), &[]);
        assert!(raw_headers(&raw, "References").is_empty());
        assert!(raw_headers(&raw, "In-Reply-To").is_empty());
    }

    #[test]
    fn subject_carries_the_tag_exactly_once() {
        let raw = bytes(&envelope(), &rendered(), &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(msg.subject(), Some("[#1042] Re: Media uploads fail"));

        let mut already = rendered();
        already.subject = "Re: [#1042] Media uploads fail".into();
        let raw = bytes(&envelope(), &already, &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(msg.subject(), Some("Re: [#1042] Media uploads fail"));
        assert_eq!(msg.subject().unwrap().matches("[#1042]").count(), 1);

        let mut no_ticket = envelope();
        no_ticket.ticket_number = None;
        let msg_raw = bytes(&no_ticket, &rendered(), &[]);
        let msg = MessageParser::default().parse(&msg_raw).unwrap();
        assert_eq!(msg.subject(), Some("Re: Media uploads fail"));
    }

    #[test]
    fn subject_that_looks_encoded_stays_literal() {
        for literal in ["=?utf-8?q?x?=", "Re: =?utf-8?B?w6k=?= as sent", "=?"] {
            let mut r = rendered();
            r.subject = literal.into();
            let raw = bytes(&envelope(), &r, &[]);
            assert_eq!(raw_headers(&raw, "Subject").len(), 1);
            let msg = MessageParser::default().parse(&raw).unwrap();
            assert_eq!(msg.subject(), Some(format!("[#1042] {literal}").as_str()), "{literal}");
        }
        // Ordinary ASCII subjects stay readable on the wire.
        let raw = bytes(&envelope(), &rendered(), &[]);
        assert_eq!(raw_headers(&raw, "Subject"), ["Subject: [#1042] Re: Media uploads fail"]);
    }

    #[test]
    fn auto_submitted_only_when_asked() {
        let raw = bytes(&envelope(), &rendered(), &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert!(msg.header("Auto-Submitted").is_none());
        assert!(msg.header("X-Auto-Response-Suppress").is_none());

        let mut env = envelope();
        env.auto_submitted = true;
        let raw = bytes(&env, &rendered(), &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(msg.header("Auto-Submitted").and_then(|h| h.as_text()), Some("auto-replied"));
        assert_eq!(msg.header("X-Auto-Response-Suppress").and_then(|h| h.as_text()), Some("All"));
        assert_eq!(raw_headers(&raw, "Auto-Submitted"), ["Auto-Submitted: auto-replied"]);
    }

    #[test]
    fn non_ascii_names_and_subject_are_encoded_and_round_trip() {
        let mut env = envelope();
        env.from_name = "Équipe Tusk".into();
        env.to = vec![Recipient { name: Some("Zoë Ærøskøbing".into()), email: "zoe@uni.example.edu".into() }];
        let mut r = rendered();
        r.subject = "Fédération arrêtée – 東京".into();
        let raw = bytes(&env, &r, &[]);
        assert!(raw.is_ascii(), "headers and bodies are 7-bit on the wire");
        assert!(raw_headers(&raw, "Subject")[0].contains("=?utf-8?"), "RFC 2047 encoded");
        assert!(raw_headers(&raw, "From")[0].contains("=?utf-8?"), "RFC 2047 encoded");

        let msg = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(msg.subject(), Some("[#1042] Fédération arrêtée – 東京"));
        let from = msg.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Équipe Tusk"));
        assert_eq!(from.address(), Some("support@support.example.org"));
        let to = msg.to().unwrap().first().unwrap();
        assert_eq!(to.name(), Some("Zoë Ærøskøbing"));
        assert_eq!(to.address(), Some("zoe@uni.example.edu"));
    }

    #[test]
    fn from_to_reply_to_and_date() {
        let mut env = envelope();
        env.reply_to = Some("Tusk Support <reply+1042@support.example.org>".into());
        env.to.push(Recipient { name: None, email: "it@uni.example.edu".into() });
        let raw = bytes(&env, &rendered(), &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        let from = msg.from().unwrap().first().unwrap();
        assert_eq!((from.name(), from.address()), (Some("Tusk Support"), Some("support@support.example.org")));
        let to: Vec<_> = msg.to().unwrap().iter().map(|a| a.address().unwrap().to_owned()).collect();
        assert_eq!(to, ["ada@uni.example.edu", "it@uni.example.edu"]);
        let reply_to = msg.reply_to().unwrap().first().unwrap();
        assert_eq!(reply_to.address(), Some("reply+1042@support.example.org"));
        assert_eq!(msg.date().unwrap().to_timestamp(), env.date.timestamp());
        assert_eq!(raw_headers(&raw, "Date"), ["Date: Fri, 14 Mar 2025 15:09:26 +0000"]);

        env.reply_to = None;
        let raw = bytes(&env, &rendered(), &[]);
        assert!(raw_headers(&raw, "Reply-To").is_empty());
    }

    #[test]
    fn multipart_alternative_has_text_then_html() {
        let mut r = rendered();
        r.text = "Hello Zoë,\n\nThe limit is now 40 MB — try again.\n".into();
        r.html = "<p>Hello Zoë,</p><p>The limit is now <b>40 MB</b> — try again.</p>".into();
        let raw = bytes(&envelope(), &r, &[]);
        let msg = MessageParser::default().parse(&raw).unwrap();
        let ct = msg.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("alternative")));
        assert_eq!(msg.text_body_count(), 1);
        assert_eq!(msg.html_body_count(), 1);
        assert_eq!(msg.body_text(0).unwrap().replace("\r\n", "\n"), r.text);
        assert_eq!(msg.body_html(0).unwrap().replace("\r\n", "\n"), r.html);
        assert_eq!(msg.attachment_count(), 0);
        let kinds: Vec<_> = msg
            .parts
            .iter()
            .skip(1)
            .map(|p| p.content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))).unwrap())
            .collect();
        assert_eq!(kinds, ["text/plain", "text/html"], "text first: clients show the last part they understand");
    }

    #[test]
    fn attachments_are_wrapped_in_multipart_mixed() {
        let attachments = [
            OutAttachment {
                filename: "report.pdf".into(),
                content_type: "application/pdf".into(),
                data: b"%PDF-1.7 x".to_vec(),
            },
            OutAttachment {
                filename: "capture d’écran.png".into(),
                content_type: "not a type".into(),
                data: vec![0x89, b'P', b'N', b'G', 0, 1, 2, 255],
            },
        ];
        let raw = bytes(&envelope(), &rendered(), &attachments);
        let msg = MessageParser::default().parse(&raw).unwrap();
        let ct = msg.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
        assert_eq!(msg.body_text(0).unwrap().replace("\r\n", "\n"), rendered().text);
        assert!(msg.body_html(0).unwrap().contains("<strong>try again</strong>"));
        assert_eq!(msg.attachment_count(), 2);
        let pdf = msg.attachment(0).unwrap();
        assert_eq!(pdf.attachment_name(), Some("report.pdf"));
        assert_eq!(pdf.content_type().map(|c| (c.ctype(), c.subtype())), Some(("application", Some("pdf"))));
        assert_eq!(pdf.contents(), b"%PDF-1.7 x");
        let png = msg.attachment(1).unwrap();
        assert_eq!(png.attachment_name(), Some("capture d’écran.png"));
        assert_eq!(png.contents(), &[0x89, b'P', b'N', b'G', 0, 1, 2, 255]);
        assert_eq!(png.content_type().map(|c| (c.ctype(), c.subtype())), Some(("application", Some("octet-stream"))));
        assert!(matches!(png.body, PartType::Binary(_)));
    }

    #[test]
    fn invalid_addresses_are_named_in_the_error() {
        let mut env = envelope();
        env.to = vec![Recipient { name: None, email: "not an address".into() }];
        let err = build(&env, &rendered(), &[]).unwrap_err();
        assert!(
            matches!(&err, ComposeError::InvalidAddress { field: "To", address, .. } if address == "not an address")
        );
        assert!(err.to_string().contains("`not an address`"), "{err}");

        let mut env = envelope();
        env.from_address = "support@".into();
        let err = build(&env, &rendered(), &[]).unwrap_err();
        assert!(matches!(&err, ComposeError::InvalidAddress { field: "From", address, .. } if address == "support@"));

        let mut env = envelope();
        env.reply_to = Some("Support <nope>".into());
        let err = build(&env, &rendered(), &[]).unwrap_err();
        assert!(matches!(&err, ComposeError::InvalidAddress { field: "Reply-To", .. }), "{err}");
        assert!(err.to_string().contains("Support <nope>"), "{err}");

        let mut env = envelope();
        env.to.clear();
        assert!(matches!(build(&env, &rendered(), &[]), Err(ComposeError::NoRecipients)));
    }

    #[test]
    fn invalid_message_ids_are_rejected() {
        for (bad, field) in
            [("<x@y>", "Message-ID"), ("no-at-sign", "Message-ID"), ("a b@c", "Message-ID"), ("", "Message-ID")]
        {
            let mut env = envelope();
            env.message_id = bad.into();
            let err = build(&env, &rendered(), &[]).unwrap_err();
            assert!(
                matches!(&err, ComposeError::InvalidMessageId { field: f, id, .. } if *f == field && id == bad),
                "{bad}"
            );
        }
        let mut env = envelope();
        env.references = vec!["ok@x".into(), "bad\r\nBcc: evil@x".into()];
        let err = build(&env, &rendered(), &[]).unwrap_err();
        assert!(matches!(&err, ComposeError::InvalidMessageId { field: "References", .. }), "{err}");
        // Other people's ids without `@` are echoed verbatim.
        let mut env = envelope();
        env.in_reply_to = Some("legacy-id-without-at".into());
        env.references.clear();
        let raw = bytes(&env, &rendered(), &[]);
        assert_eq!(raw_headers(&raw, "In-Reply-To"), ["In-Reply-To: <legacy-id-without-at>"]);
    }

    mod roundtrip {
        use super::*;
        use proptest::prelude::*;

        /// Non-control text, often with pieces that stress header encoding.
        fn text(max: usize) -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                4 => "\\PC{1,12}",
                1 => Just("=?utf-8?q?x?=".to_owned()),
                1 => Just("=?".to_owned()),
                1 => Just("\"\\(),;:<>@".to_owned()),
                1 => Just("  ".to_owned()),
            ];
            proptest::collection::vec(piece, 1..6)
                .prop_map(move |parts| parts.concat().chars().take(max).collect::<String>())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn subject_and_display_names_round_trip(
                subject in text(80),
                from_name in text(40),
                to_name in text(40),
            ) {
                let mut env = envelope();
                env.from_name = from_name.clone();
                env.to = vec![Recipient { name: Some(to_name.clone()), email: "ada@uni.example.edu".into() }];
                env.ticket_number = None;
                let mut r = rendered();
                r.subject = subject.clone();
                let raw = bytes(&env, &r, &[]);
                let msg = MessageParser::default().parse(&raw).unwrap();

                let expected_subject = clean_line(&subject);
                prop_assert_eq!(msg.subject().unwrap_or(""), expected_subject.as_str());
                let from = msg.from().unwrap().first().unwrap();
                let expected_from = clean_line(&from_name);
                prop_assert_eq!(from.name().unwrap_or(""), expected_from.as_str());
                prop_assert_eq!(from.address(), Some("support@support.example.org"));
                let to = msg.to().unwrap().first().unwrap();
                let expected_to = clean_line(&to_name);
                prop_assert_eq!(to.name().unwrap_or(""), expected_to.as_str());
                prop_assert_eq!(to.address(), Some("ada@uni.example.edu"));
            }
        }
    }
}
