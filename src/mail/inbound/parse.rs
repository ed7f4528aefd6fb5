//! Raw RFC 5322 / MIME bytes → [`InboundEmail`], an owned, database-free
//! description of one inbound message.
//!
//! Built on `mail-parser` 0.11 with `MessageParser::default()` unchanged;
//! headers it does not interpret are read from their raw bytes. `parse`
//! never panics: any input either yields an [`InboundEmail`] or a
//! [`ParseError`] whose reason can be shown to an admin in the quarantine.

use chrono::{DateTime, Utc};
use mail_parser::{
    Address as MpAddress, HeaderValue, Message, MessageParser, MimeHeaders, PartType, decoders::html::html_to_text,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::address::Address;

/// Longest file name (in bytes) kept for an attachment.
pub const MAX_FILENAME_BYTES: usize = 180;

/// Longest Message-ID (in bytes) accepted; longer ones are treated as absent.
pub const MAX_MESSAGE_ID_BYTES: usize = 998;

/// Why some bytes are not an email message at all. Such input goes to the
/// quarantine with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No bytes, or only whitespace.
    #[error("the message is empty")]
    Empty,
    /// Something that is not a message (binary data, text without headers).
    #[error("not an email message: {reason}")]
    NotAMessage {
        /// Human-readable explanation.
        reason: String,
    },
}

/// Raw header facts needed to recognise automatic mail (RFC 3834) and
/// mailing lists. Values are unfolded and trimmed; `Some("")` means the
/// header was present but empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoHeaders {
    /// `Auto-Submitted`
    pub auto_submitted: Option<String>,
    /// `Precedence`
    pub precedence: Option<String>,
    /// `X-Autoreply`
    pub x_autoreply: Option<String>,
    /// `X-Autorespond`
    pub x_autorespond: Option<String>,
    /// `X-Auto-Response-Suppress`
    pub x_auto_response_suppress: Option<String>,
    /// `List-Id`
    pub list_id: Option<String>,
    /// `List-Unsubscribe`
    pub list_unsubscribe: Option<String>,
    /// `List-Post`
    pub list_post: Option<String>,
    /// `X-Failed-Recipients` (Exim and others name the bounced addresses here), lower-cased.
    pub x_failed_recipients: Vec<String>,
}

/// MIME facts of a delivery report, kept raw for the classifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportParts {
    /// `report-type` of a top-level `multipart/report`, lower-cased.
    pub report_type: Option<String>,
    /// Text of the `message/delivery-status` and
    /// `message/global-delivery-status` parts, separated by a blank line.
    pub delivery_status: Option<String>,
    /// Message-ID of the returned message (`message/rfc822` or
    /// `text/rfc822-headers` part), without angle brackets.
    pub returned_message_id: Option<String>,
}

/// One attachment (or inline part) of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedAttachment {
    /// Safe file name: no path separators, control or bidi characters, no
    /// leading dots, at most [`MAX_FILENAME_BYTES`]; generated
    /// (`attachment-N.ext`) when none was declared. Still never use it as a
    /// path on its own.
    pub filename: String,
    /// The name as declared by the sender, decoded, if any. For display and
    /// diagnostics only.
    pub original_name: Option<String>,
    /// `type/subtype`, lower-cased.
    pub content_type: String,
    /// `Content-ID` without angle brackets (to resolve `cid:` references).
    pub content_id: Option<String>,
    /// Displayed inline rather than offered as a download.
    pub inline: bool,
    /// Decoded content.
    pub data: Vec<u8>,
}

/// An inbound message, parsed and owned. Produced by [`parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEmail {
    /// `Message-ID` without angle brackets, trimmed; `None` when absent.
    pub message_id: Option<String>,
    /// The Message-ID, or `sha256-<32 hex>@tusk.invalid` derived from the raw
    /// bytes when there is none: the same bytes always give the same id.
    pub stable_id: String,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, without angle brackets, in header order.
    pub references: Vec<String>,
    /// First `From` mailbox.
    pub from: Option<Address>,
    /// `Sender` mailbox.
    pub sender: Option<Address>,
    /// `Reply-To` mailboxes.
    pub reply_to: Vec<Address>,
    /// `To` mailboxes (all `To` headers, group members flattened).
    pub to: Vec<Address>,
    /// `Cc` mailboxes.
    pub cc: Vec<Address>,
    /// `Delivered-To`, `X-Original-To` and `Envelope-To` values, lower-cased,
    /// without angle brackets, deduplicated, in header order.
    pub delivered_to: Vec<String>,
    /// Topmost `Return-Path`: `None` when absent, `Some("")` for the null
    /// path `<>`, else the lower-cased address.
    pub return_path: Option<String>,
    /// Decoded subject, `""` when absent.
    pub subject: String,
    /// `Date`, when present and valid.
    pub date: Option<DateTime<Utc>>,
    /// Plain-text body: the `text/plain` parts, or text derived from the
    /// HTML when only HTML came, or `""`.
    pub text_body: String,
    /// The HTML body exactly as received (decoded to UTF-8), if any.
    pub html_body: Option<String>,
    /// The HTML body cleaned by [`sanitize_html`], safe to render.
    pub html_sanitized: Option<String>,
    /// Attachments, inline parts and nested messages (as `.eml`).
    pub attachments: Vec<ParsedAttachment>,
    /// Header facts for automatic-mail detection.
    pub headers_auto: AutoHeaders,
    /// Delivery-report facts, when the message has report structure.
    pub report: Option<ReportParts>,
    /// Raw `Authentication-Results` values, topmost first.
    pub authentication_results: Vec<String>,
    /// Size of the raw message in bytes.
    pub size: usize,
    /// The header section contains bytes outside ASCII (raw 8-bit headers,
    /// decoded leniently).
    pub has_raw_8bit_headers: bool,
}

/// Parses raw message bytes. Never panics.
///
/// A leading mbox `From ` envelope line is skipped. Input that is empty,
/// contains NUL bytes in its header section, or does not start with a
/// header field is refused with [`ParseError`].
pub fn parse(raw: &[u8]) -> Result<InboundEmail, ParseError> {
    if raw.trim_ascii().is_empty() {
        return Err(ParseError::Empty);
    }
    let message_bytes = &raw[message_start(raw)..];
    check_looks_like_message(message_bytes)?;
    let message = MessageParser::default()
        .parse(message_bytes)
        .filter(|m| !m.parts.is_empty() && !m.headers().is_empty())
        .ok_or_else(|| not_a_message("no header fields could be parsed"))?;

    let message_id = message.message_id().and_then(clean_message_id);
    let stable_id = message_id.clone().unwrap_or_else(|| content_id(raw));
    let (text_body, html_body) = bodies(&message);
    let html_sanitized = html_body.as_deref().map(sanitize_html);

    Ok(InboundEmail {
        stable_id,
        message_id,
        in_reply_to: id_list(message.in_reply_to()),
        references: id_list(message.references()),
        from: addresses(message.from()).into_iter().next(),
        sender: addresses(message.sender()).into_iter().next(),
        reply_to: addresses(message.reply_to()),
        to: message.all_to().flat_map(|a| addresses(Some(a))).collect(),
        cc: message.all_cc().flat_map(|a| addresses(Some(a))).collect(),
        delivered_to: delivered_to(&message),
        return_path: return_path(&message),
        subject: message.subject().map(str::trim_end).unwrap_or("").to_owned(),
        date: message.date().filter(|d| d.is_valid()).and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        text_body,
        html_body,
        html_sanitized,
        attachments: attachments(&message),
        headers_auto: auto_headers(&message),
        report: report_parts(&message),
        authentication_results: raw_header_values(&message, "Authentication-Results"),
        size: raw.len(),
        has_raw_8bit_headers: header_section(message_bytes).iter().any(|b| *b >= 0x80),
    })
}

fn not_a_message(reason: &str) -> ParseError {
    ParseError::NotAMessage { reason: reason.to_owned() }
}

/// Where the message proper starts. Skipped, in order: a UTF-8 byte order
/// mark, an mbox `From ` envelope line, blank (whitespace-only) lines, and
/// one leading line that is not a header field when the line after it is
/// one (a stray separator such as `---- Original email message ----`).
fn message_start(raw: &[u8]) -> usize {
    let mut start = if raw.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    if raw[start..].starts_with(b"From ") {
        start = next_line(raw, start);
    }
    while start < raw.len() && line_at(raw, start).trim_ascii().is_empty() {
        start = next_line(raw, start);
    }
    if start < raw.len() && !is_header_field(line_at(raw, start)) {
        let next = next_line(raw, start);
        if next < raw.len() && is_header_field(line_at(raw, next)) {
            start = next;
        }
    }
    start.min(raw.len())
}

/// The line starting at `start`, without its line break.
fn line_at(raw: &[u8], start: usize) -> &[u8] {
    let rest = raw.get(start..).unwrap_or_default();
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end])
}

/// Offset of the line after the one starting at `start`.
fn next_line(raw: &[u8], start: usize) -> usize {
    raw.get(start..).and_then(|rest| rest.iter().position(|b| *b == b'\n')).map_or(raw.len(), |p| start + p + 1)
}

/// `name: value` with a field name of printable ASCII (RFC 5322 ftext;
/// whitespace before the colon tolerated, obsolete syntax).
fn is_header_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|b| (33..=126).contains(b))
}

/// The bytes up to (not including) the first empty line.
fn header_section(raw: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < raw.len() {
        let end = raw[start..].iter().position(|b| *b == b'\n').map_or(raw.len(), |p| start + p);
        let line = &raw[start..end];
        if line.is_empty() || line == b"\r" {
            return &raw[..start];
        }
        start = end + 1;
    }
    raw
}

/// Cheap structural checks that tell a message from other data.
fn check_looks_like_message(raw: &[u8]) -> Result<(), ParseError> {
    let headers = header_section(raw);
    if headers.contains(&0) {
        return Err(not_a_message("the header section contains NUL bytes (binary data)"));
    }
    // The first line must be a header field `name: value`.
    let first_line = headers.split(|b| *b == b'\n').map(<[u8]>::trim_ascii).find(|l| !l.is_empty());
    let Some(first_line) = first_line else {
        return Err(not_a_message("there is no header section"));
    };
    if !first_line.contains(&b':') {
        return Err(not_a_message("the first line is not a header field (no colon)"));
    }
    if !is_header_field(first_line) {
        return Err(not_a_message("the first line is not a header field (invalid field name)"));
    }
    Ok(())
}

/// `sha256-<first 32 hex digits>@tusk.invalid` of the raw bytes.
fn content_id(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let hex = hex::encode(digest);
    format!("sha256-{}@tusk.invalid", &hex[..32])
}

/// Trims an id, strips angle brackets and rejects empty or oversized ones.
fn clean_message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!id.is_empty() && id.len() <= MAX_MESSAGE_ID_BYTES && !id.contains(char::is_control)).then(|| id.to_owned())
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => clean_message_id(id).into_iter().collect(),
        HeaderValue::TextList(ids) => ids.iter().filter_map(|id| clean_message_id(id)).collect(),
        _ => Vec::new(),
    }
}

fn addresses(value: Option<&MpAddress<'_>>) -> Vec<Address> {
    let Some(value) = value else {
        return Vec::new();
    };
    value
        .iter()
        .filter_map(|a| match a.address.as_deref() {
            Some(address) => Address::new(a.name.as_deref(), address),
            // `From: "someone@example.org"`: only a quoted name that is
            // itself an address. Take it, as other helpdesks do.
            None => a
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| super::address::is_plausible_email(n))
                .and_then(|n| Address::new(None, n)),
        })
        .collect()
}

/// Unfolds a raw header value: line breaks and the whitespace after them
/// become one space; the result is trimmed.
fn unfold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut folding = false;
    for c in raw.chars() {
        if c == '\r' || c == '\n' {
            folding = true;
            continue;
        }
        if folding {
            if c == ' ' || c == '\t' {
                continue;
            }
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            if !out.is_empty() {
                out.push(' ');
            }
            folding = false;
        }
        out.push(c);
    }
    out.trim().to_owned()
}

/// Raw values of every header named `name` (case-insensitive) at the top
/// level of `message`, in header order, unfolded and trimmed.
pub(crate) fn raw_header_values(message: &Message<'_>, name: &str) -> Vec<String> {
    let raw = message.raw_message.as_ref();
    message
        .headers()
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| raw.get(h.offset_start as usize..h.offset_end as usize))
        .map(|bytes| unfold(&String::from_utf8_lossy(bytes)))
        .collect()
}

fn first_raw_header(message: &Message<'_>, name: &str) -> Option<String> {
    raw_header_values(message, name).into_iter().next()
}

fn delivered_to(message: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let wanted = ["delivered-to", "x-original-to", "envelope-to"];
    let raw = message.raw_message.as_ref();
    for header in message.headers() {
        if !wanted.iter().any(|w| header.name.as_str().eq_ignore_ascii_case(w)) {
            continue;
        }
        let Some(bytes) = raw.get(header.offset_start as usize..header.offset_end as usize) else {
            continue;
        };
        let value = unfold(&String::from_utf8_lossy(bytes));
        for item in value.split(',') {
            let addr = super::address::normalize_email(item);
            if !addr.is_empty() && !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out
}

fn return_path(message: &Message<'_>) -> Option<String> {
    let value = first_raw_header(message, "Return-Path")?;
    // Drop a trailing comment and surrounding brackets: "<>" is the null path.
    let value = value.split('(').next().unwrap_or_default();
    Some(super::address::normalize_email(value))
}

fn auto_headers(message: &Message<'_>) -> AutoHeaders {
    let failed = raw_header_values(message, "X-Failed-Recipients")
        .iter()
        .flat_map(|v| v.split(','))
        .map(super::address::normalize_email)
        .filter(|a| !a.is_empty())
        .collect();
    AutoHeaders {
        auto_submitted: first_raw_header(message, "Auto-Submitted"),
        precedence: first_raw_header(message, "Precedence"),
        x_autoreply: first_raw_header(message, "X-Autoreply"),
        x_autorespond: first_raw_header(message, "X-Autorespond"),
        x_auto_response_suppress: first_raw_header(message, "X-Auto-Response-Suppress"),
        list_id: first_raw_header(message, "List-Id"),
        list_unsubscribe: first_raw_header(message, "List-Unsubscribe"),
        list_post: first_raw_header(message, "List-Post"),
        x_failed_recipients: failed,
    }
}

/// (text body, original HTML body).
fn bodies(message: &Message<'_>) -> (String, Option<String>) {
    let mut html_parts: Vec<&str> = Vec::new();
    for id in &message.html_body {
        if let Some(PartType::Html(html)) = message.parts.get(*id as usize).map(|p| &p.body)
            && !html_parts.contains(&html.as_ref())
        {
            html_parts.push(html.as_ref());
        }
    }
    let html = (!html_parts.is_empty()).then(|| html_parts.join("\n"));

    let mut texts: Vec<String> = Vec::new();
    for id in &message.text_body {
        match message.parts.get(*id as usize).map(|p| &p.body) {
            Some(PartType::Text(text)) => texts.push(text.to_string()),
            Some(PartType::Html(html)) => texts.push(html_to_text(html)),
            _ => {}
        }
    }
    let mut text = texts.join("\n");
    if text.trim().is_empty()
        && let Some(html) = &html
    {
        text = html_to_text(html);
    }
    (text, html)
}

/// Cleans HTML for display: removes scripts, styles, event handlers and
/// unsafe URL schemes (`javascript:` …), adds
/// `rel="noopener noreferrer nofollow"` to links, and keeps `cid:` image
/// sources so inline images can be served later.
pub fn sanitize_html(html: &str) -> String {
    let mut schemes = ammonia::Builder::default().clone_url_schemes();
    schemes.insert("cid");
    ammonia::Builder::default()
        .url_schemes(schemes)
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

fn attachments(message: &Message<'_>) -> Vec<ParsedAttachment> {
    let mut out = Vec::new();
    for (index, id) in message.attachments.iter().enumerate() {
        let Some(part) = message.parts.get(*id as usize) else {
            continue;
        };
        let number = index + 1;
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .map(|ct| ct.to_ascii_lowercase())
            .unwrap_or_else(|| match &part.body {
                PartType::Text(_) => "text/plain".to_owned(),
                PartType::Html(_) => "text/html".to_owned(),
                PartType::Message(_) => "message/rfc822".to_owned(),
                _ => "application/octet-stream".to_owned(),
            });
        let original_name = part.attachment_name().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        let (data, filename) = match &part.body {
            PartType::Message(nested) => {
                // A subject is not a path: keep its slashes as `_`.
                let base = original_name.clone().or_else(|| nested.subject().map(|s| s.replace(['/', '\\'], "_")));
                let mut name = sanitize_filename(base.as_deref().unwrap_or(""), number, "eml");
                if !name.to_ascii_lowercase().ends_with(".eml") {
                    name = truncate_name(&format!("{name}.eml"));
                }
                (nested.raw_message().to_vec(), name)
            }
            _ => (
                part.contents().to_vec(),
                sanitize_filename(original_name.as_deref().unwrap_or(""), number, extension_for(&content_type)),
            ),
        };
        let disposition = part.content_disposition();
        let content_id = part.content_id().and_then(clean_message_id).filter(|c| !c.is_empty());
        let inline = match disposition {
            Some(d) => d.is_inline(),
            None => content_id.is_some(),
        };
        out.push(ParsedAttachment { filename, original_name, content_type, content_id, inline, data });
    }
    out
}

/// A file extension for a generated attachment name.
fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "text/plain"
        | "message/delivery-status"
        | "message/global-delivery-status"
        | "text/rfc822-headers"
        | "message/disposition-notification" => "txt",
        "text/html" => "html",
        "text/calendar" | "application/ics" => "ics",
        "text/csv" => "csv",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "application/pgp-signature" | "application/pgp-encrypted" => "asc",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        "message/rfc822" | "message/global" => "eml",
        _ => "bin",
    }
}

/// Characters that reorder or hide text and are used to disguise file
/// extensions (`invoice` + U+202E + `fdp.exe` displays as `invoiceexe.pdf`).
fn is_bidi_or_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Makes a declared attachment name safe to show and to use as the last
/// component of a download name: keeps only the part after the last `/` or
/// `\`, drops control and bidi characters, replaces characters reserved on
/// Windows with `_`, trims spaces and dots at both ends (no hidden files, no
/// `..`), prefixes reserved Windows device names, and caps the length at
/// [`MAX_FILENAME_BYTES`] keeping a short extension. An empty result becomes
/// `attachment-<number>.<extension>`.
pub fn sanitize_filename(name: &str, number: usize, extension: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_or_invisible(*c))
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            other => other,
        })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c.is_whitespace() || c == '.');
    if cleaned.is_empty() {
        return format!("attachment-{number}.{extension}");
    }
    let stem = cleaned.split('.').next().unwrap_or_default();
    let reserved = [
        "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1",
        "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    ];
    let cleaned =
        if reserved.iter().any(|r| stem.eq_ignore_ascii_case(r)) { format!("_{cleaned}") } else { cleaned.to_owned() };
    truncate_name(&cleaned)
}

/// Caps a name at [`MAX_FILENAME_BYTES`] on a char boundary, keeping an
/// extension of up to 16 bytes.
fn truncate_name(name: &str) -> String {
    if name.len() <= MAX_FILENAME_BYTES {
        return name.to_owned();
    }
    let ext = name.rfind('.').map(|dot| &name[dot..]).filter(|ext| ext.len() <= 16).unwrap_or("");
    let mut cut = MAX_FILENAME_BYTES - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = name[..cut].trim_end_matches(|c: char| c.is_whitespace() || c == '.');
    format!("{stem}{ext}")
}

fn is_type(part: &mail_parser::MessagePart<'_>, ctype: &str, subtypes: &[&str]) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ctype)
            && ct.subtype().is_some_and(|s| subtypes.iter().any(|w| s.eq_ignore_ascii_case(w)))
    })
}

/// Collects delivery-report facts from the top-level MIME structure. Parts of
/// nested (forwarded) messages are not looked at.
fn report_parts(message: &Message<'_>) -> Option<ReportParts> {
    let root = message.parts.first()?;
    let report_type = if is_type(root, "multipart", &["report"]) {
        root.content_type()
            .and_then(|ct| ct.attribute("report-type"))
            .map(|t| t.trim().to_ascii_lowercase())
            .or_else(|| Some(String::new()))
    } else {
        None
    };
    let mut status_parts: Vec<String> = Vec::new();
    let mut returned_message_id = None;
    for part in &message.parts {
        if is_type(part, "message", &["delivery-status", "global-delivery-status"]) {
            status_parts.push(String::from_utf8_lossy(part.contents()).into_owned());
        }
        if returned_message_id.is_none() {
            if let PartType::Message(nested) = &part.body {
                returned_message_id = nested.message_id().and_then(clean_message_id);
            } else if is_type(part, "text", &["rfc822-headers"])
                || is_type(part, "message", &["global-headers", "rfc822-headers"])
            {
                returned_message_id = MessageParser::default()
                    .parse_headers(part.contents())
                    .and_then(|m| m.message_id().and_then(clean_message_id));
            }
        }
    }
    if report_type.is_none() && status_parts.is_empty() {
        return None;
    }
    let delivery_status = (!status_parts.is_empty()).then(|| status_parts.join("\n\n"));
    Some(ReportParts { report_type: report_type.filter(|t| !t.is_empty()), delivery_status, returned_message_id })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    #[test]
    fn parses_plain_message_fields() {
        let raw = msg("Return-Path: <Bounce@Example.edu>\n\
Delivered-To: Support@Tusk.Example\n\
X-Original-To: support+social.example.edu@tusk.example\n\
Message-ID: <abc.123@mail.example.edu>\n\
In-Reply-To: <first@tusk.example>\n\
References: <root@tusk.example>\n  <first@tusk.example>\n\
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Example.EDU>\n\
Sender: list-bounces@example.edu\n\
Reply-To: help@example.edu, other@example.edu\n\
To: Support <support@tusk.example>, undisclosed-recipients:;\n\
Cc: a@example.edu\n\
Subject: =?UTF-8?B?w5xiZXI=?= [#42] down\n\
Date: Tue, 1 Jul 2025 10:00:00 +0200\n\
Authentication-Results: mx.tusk.example; dmarc=pass\n  header.from=example.edu\n\
Content-Type: text/plain; charset=utf-8\n\
\n\
Hello,\nour instance is down.\n");
        let e = parse(&raw).unwrap();
        assert_eq!(e.message_id.as_deref(), Some("abc.123@mail.example.edu"));
        assert_eq!(e.stable_id, "abc.123@mail.example.edu");
        assert_eq!(e.in_reply_to, vec!["first@tusk.example"]);
        assert_eq!(e.references, vec!["root@tusk.example", "first@tusk.example"]);
        let from = e.from.as_ref().unwrap();
        assert_eq!(from.email, "juergen@example.edu");
        assert_eq!(from.name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(e.sender.as_ref().unwrap().email, "list-bounces@example.edu");
        assert_eq!(e.reply_to.len(), 2);
        assert_eq!(e.to.len(), 1);
        assert_eq!(e.to[0].email, "support@tusk.example");
        assert_eq!(e.cc[0].email, "a@example.edu");
        assert_eq!(e.delivered_to, vec!["support@tusk.example", "support+social.example.edu@tusk.example"]);
        assert_eq!(e.return_path.as_deref(), Some("bounce@example.edu"));
        assert_eq!(e.subject, "Über [#42] down");
        assert_eq!(e.date.unwrap().to_rfc3339(), "2025-07-01T08:00:00+00:00");
        assert_eq!(e.text_body, "Hello,\r\nour instance is down.\r\n");
        assert_eq!(e.html_body, None);
        assert_eq!(e.html_sanitized, None);
        assert!(e.attachments.is_empty());
        assert_eq!(e.authentication_results, vec!["mx.tusk.example; dmarc=pass header.from=example.edu"]);
        assert_eq!(e.size, raw.len());
        assert!(!e.has_raw_8bit_headers);
        assert_eq!(e.report, None);
    }

    #[test]
    fn missing_message_id_gets_stable_content_id() {
        let raw = msg("From: a@example.com\nSubject: hi\n\nbody\n");
        let e1 = parse(&raw).unwrap();
        let e2 = parse(&raw).unwrap();
        assert_eq!(e1.message_id, None);
        assert!(e1.stable_id.starts_with("sha256-"));
        assert!(e1.stable_id.ends_with("@tusk.invalid"));
        assert_eq!(e1.stable_id.len(), "sha256-".len() + 32 + "@tusk.invalid".len());
        assert_eq!(e1.stable_id, e2.stable_id);
        let other = parse(&msg("From: a@example.com\nSubject: hi\n\nbody!\n")).unwrap();
        assert_ne!(e1.stable_id, other.stable_id);
        let empty_id = parse(&msg("Message-ID: <>\nFrom: a@b.c\n\nx")).unwrap();
        assert_eq!(empty_id.message_id, None);
    }

    #[test]
    fn null_return_path_and_absent_one() {
        let e = parse(&msg("Return-Path: <>\nFrom: a@b.example\n\nx")).unwrap();
        assert_eq!(e.return_path.as_deref(), Some(""));
        let e = parse(&msg("From: a@b.example\n\nx")).unwrap();
        assert_eq!(e.return_path, None);
        assert_eq!(e.subject, "");
        assert_eq!(e.date, None);
    }

    #[test]
    fn html_only_message_gets_text_and_sanitized_html() {
        let raw = msg("From: a@b.example\nContent-Type: text/html; charset=utf-8\n\n\
<html><head><style>p{}</style><script>alert(1)</script></head><body>\
<p onclick=\"steal()\">Hello <b>world</b></p>\
<a href=\"javascript:alert(1)\">bad</a> <a href=\"https://example.org/\">good</a>\
<img src=\"cid:logo@x\"><img src=\"https://tracker.example/p.gif\"></body></html>\n");
        let e = parse(&raw).unwrap();
        assert!(e.text_body.contains("Hello"), "{:?}", e.text_body);
        assert!(e.text_body.contains("world"));
        assert!(!e.text_body.contains("alert"));
        assert!(!e.text_body.contains('<'));
        let html = e.html_body.as_deref().unwrap();
        assert!(html.contains("<script>"), "original kept as received");
        let clean = e.html_sanitized.as_deref().unwrap();
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("javascript:"), "{clean}");
        assert!(!clean.contains("p{}"), "{clean}");
        assert!(clean.contains("src=\"cid:logo@x\""), "{clean}");
        assert!(clean.contains("<a href=\"https://example.org/\" rel=\"noopener noreferrer nofollow\">"), "{clean}");
    }

    #[test]
    fn alternative_keeps_plain_text_and_html() {
        let raw = msg("From: a@b.example\nContent-Type: multipart/alternative; boundary=\"b\"\n\n\
--b\nContent-Type: text/plain\n\nplain version\n--b\nContent-Type: text/html\n\n<p>html version</p>\n--b--\n");
        let e = parse(&raw).unwrap();
        assert!(e.text_body.starts_with("plain version"));
        assert!(!e.text_body.contains("html version"));
        assert!(e.html_body.unwrap().contains("<p>html version</p>"));
    }

    #[test]
    fn message_without_body_has_empty_text() {
        let e = parse(b"From: a@b.example\r\nSubject: x\r\n\r\n").unwrap();
        assert_eq!(e.text_body, "");
        let e = parse(b"Subject: only headers\r\n").unwrap();
        assert_eq!(e.subject, "only headers");
        assert_eq!(e.text_body, "");
    }

    #[test]
    fn attachments_are_named_safely() {
        let raw = msg("From: a@b.example\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
--b\nContent-Type: text/plain\n\nsee attached\n\
--b\nContent-Type: application/pdf; name=\"x.pdf\"\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n\
--b\nContent-Type: image/png\nContent-ID: <img1@b.example>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n\
--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\".hidden\u{202E}fdp.exe\"\n\nzz\n\
--b\nContent-Type: message/rfc822\n\nSubject: Inner / mail\nFrom: c@d.example\nMessage-ID: <inner@d.example>\n\ninner body\n\
--b--\n");
        let e = parse(&raw).unwrap();
        assert_eq!(e.text_body.trim_end(), "see attached");
        let names: Vec<&str> = e.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, vec!["passwd", "attachment-2.png", "hiddenfdp.exe", "Inner _ mail.eml"]);
        let pdf = &e.attachments[0];
        assert_eq!(pdf.content_type, "application/pdf");
        assert_eq!(pdf.data, b"hello");
        assert_eq!(pdf.original_name.as_deref(), Some("../../etc/passwd"));
        assert!(!pdf.inline);
        let png = &e.attachments[1];
        assert_eq!(png.content_id.as_deref(), Some("img1@b.example"));
        assert!(png.inline);
        assert_eq!(png.original_name, None);
        assert_eq!(&png.data[..4], b"\x89PNG");
        let eml = &e.attachments[3];
        assert_eq!(eml.content_type, "message/rfc822");
        let inner = parse(&eml.data).unwrap();
        assert_eq!(inner.message_id.as_deref(), Some("inner@d.example"));
        assert_eq!(inner.text_body.trim_end(), "inner body");
    }

    #[test]
    fn sanitize_filename_rules() {
        assert_eq!(sanitize_filename("report.pdf", 1, "bin"), "report.pdf");
        assert_eq!(sanitize_filename("C:\\Users\\x\\evil.bat", 1, "bin"), "evil.bat");
        assert_eq!(sanitize_filename("a/b/../..", 1, "bin"), "attachment-1.bin");
        assert_eq!(sanitize_filename("...", 2, "txt"), "attachment-2.txt");
        assert_eq!(sanitize_filename("", 3, "png"), "attachment-3.png");
        assert_eq!(sanitize_filename("bad\u{0}\r\nname?.txt", 1, "bin"), "badname_.txt");
        assert_eq!(sanitize_filename("CON.txt", 1, "bin"), "_CON.txt");
        assert_eq!(sanitize_filename(" Grüße.doc ", 1, "bin"), "Grüße.doc");
        let long = format!("{}.pdf", "ä".repeat(200));
        let cut = sanitize_filename(&long, 1, "bin");
        assert!(cut.len() <= MAX_FILENAME_BYTES);
        assert!(cut.ends_with(".pdf"));
    }

    #[test]
    fn refuses_non_messages_with_reason() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert_eq!(parse(b" \r\n\t "), Err(ParseError::Empty));
        let err = parse(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
        let err = parse(b"just some text\nwithout headers\n").unwrap_err();
        assert!(matches!(err, ParseError::NotAMessage { .. }));
        assert!(err.to_string().contains("not a header field"), "{err}");
        let err = parse(b"bad name: value\n\nbody").unwrap_err();
        assert!(err.to_string().contains("invalid field name"), "{err}");
    }

    #[test]
    fn mbox_envelope_line_is_skipped_but_hashed() {
        let raw = b"From someone@example.com Thu Jan  1 00:00:00 2025\nFrom: a@b.example\nSubject: s\n\nx\n";
        let e = parse(raw).unwrap();
        assert_eq!(e.from.unwrap().email, "a@b.example");
        assert_eq!(e.subject, "s");
        assert_eq!(e.size, raw.len());
    }

    #[test]
    fn tolerates_bom_blank_lines_and_a_stray_first_line() {
        let e = parse(b"\xEF\xBB\xBFFrom: a@b.example\r\nSubject: bom\r\n\r\nx").unwrap();
        assert_eq!(e.subject, "bom");
        let e = parse(b"   \r\n\r\nFrom: a@b.example\r\nSubject: blank\r\n\r\nx").unwrap();
        assert_eq!(e.subject, "blank");
        let e = parse(b"---- Original message ----\r\nFrom: a@b.example\r\nSubject: stray\r\n\r\nx").unwrap();
        assert_eq!(e.subject, "stray");
        assert_eq!(e.from.unwrap().email, "a@b.example");
        // Two lines of prose are still not a message.
        assert!(parse(b"hello there\r\nhow are you\r\nFrom: a@b.example\r\n").is_err());
    }

    #[test]
    fn quoted_address_only_from_is_rescued() {
        let e = parse(b"From: \"Finance@Example.COM\"\r\nSubject: x\r\n\r\nx").unwrap();
        assert_eq!(e.from.unwrap().email, "finance@example.com");
        let e = parse(b"From: \"Some Body\"\r\nSubject: x\r\n\r\nx").unwrap();
        assert_eq!(e.from, None);
    }

    #[test]
    fn auto_headers_and_8bit_are_recorded() {
        let raw = b"From: a@b.example\r\nAuto-Submitted: auto-replied (vacation)\r\nPrecedence: bulk\r\n\
X-Autoreply: yes\r\nX-Autorespond: x\r\nX-Auto-Response-Suppress: All\r\nList-Id: <l.example>\r\n\
List-Unsubscribe: <mailto:u@l.example>\r\nList-Post: NO\r\nX-Failed-Recipients: A@x.example, b@y.example\r\n\
Subject: caf\xc3\xa9\r\n\r\nbody";
        let e = parse(raw).unwrap();
        let h = &e.headers_auto;
        assert_eq!(h.auto_submitted.as_deref(), Some("auto-replied (vacation)"));
        assert_eq!(h.precedence.as_deref(), Some("bulk"));
        assert_eq!(h.x_autoreply.as_deref(), Some("yes"));
        assert_eq!(h.x_autorespond.as_deref(), Some("x"));
        assert_eq!(h.x_auto_response_suppress.as_deref(), Some("All"));
        assert_eq!(h.list_id.as_deref(), Some("<l.example>"));
        assert_eq!(h.list_unsubscribe.as_deref(), Some("<mailto:u@l.example>"));
        assert_eq!(h.list_post.as_deref(), Some("NO"));
        assert_eq!(h.x_failed_recipients, vec!["a@x.example", "b@y.example"]);
        assert!(e.has_raw_8bit_headers);
        assert_eq!(e.subject, "café");
    }

    #[test]
    fn unfold_joins_continuation_lines() {
        assert_eq!(unfold(" a\r\n\tb\r\n   c "), "a b c");
        assert_eq!(unfold("x"), "x");
        assert_eq!(unfold("\r\n"), "");
    }

    #[test]
    fn report_parts_found_in_dsn() {
        let raw = msg("From: MAILER-DAEMON@mx.example\nReturn-Path: <>\n\
Content-Type: multipart/report; report-type=Delivery-Status; boundary=\"r\"\n\n\
--r\nContent-Type: text/plain\n\nfailed\n\
--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; x@y.example\nAction: failed\nStatus: 5.1.1\n\n\
--r\nContent-Type: text/rfc822-headers\n\nMessage-ID: <orig@tusk.example>\nSubject: hi\n\n\
--r--\n");
        let e = parse(&raw).unwrap();
        let r = e.report.unwrap();
        assert_eq!(r.report_type.as_deref(), Some("delivery-status"));
        assert!(r.delivery_status.unwrap().contains("Final-Recipient: rfc822; x@y.example"));
        assert_eq!(r.returned_message_id.as_deref(), Some("orig@tusk.example"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_header_like_input(
            lines in proptest::collection::vec("[A-Za-z-]{1,12}: [ -~]{0,60}", 1..12),
            body in "[ -~\r\n]{0,200}",
        ) {
            let raw = format!("{}\r\n\r\n{body}", lines.join("\r\n"));
            let parsed = parse(raw.as_bytes());
            prop_assert!(parsed.is_ok(), "{:?}", parsed);
        }

        #[test]
        fn sanitized_filenames_are_safe(name in ".{0,300}", n in 1usize..100) {
            let f = sanitize_filename(&name, n, "bin");
            prop_assert!(!f.is_empty());
            prop_assert!(f.len() <= MAX_FILENAME_BYTES);
            prop_assert!(!f.contains('/') && !f.contains('\\'));
            prop_assert!(!f.starts_with('.'));
            prop_assert!(!f.chars().any(|c| c.is_control() || is_bidi_or_invisible(c)));
        }
    }
}
