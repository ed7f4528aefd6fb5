//! Inbound email, the pure part: raw bytes in, owned facts out. Nothing in
//! this module touches the database, the network or the clock; only
//! [`source`] reads files.
//!
//! * [`parse`](parse::parse) turns raw RFC 5322 bytes into an [`InboundEmail`];
//! * [`classify`](classify::classify) tells normal mail from automatic replies and bounces;
//! * [`auth_results`] evaluates `Authentication-Results` from our own MTA;
//! * [`address`] and [`subject`] hold the helpers threading and linking use;
//! * [`source`] streams messages out of files, mboxes and Maildirs.

pub mod address;
pub mod auth_results;
pub mod classify;
pub mod parse;
pub mod source;
pub mod subject;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod corpus_tests;

pub use address::{
    Address, domains_aligned, is_valid_domain, mentioned_domains, normalize_email, organizational_domain,
    plus_address_detail,
};
pub use auth_results::{AuthOutcome, SenderTrust, evaluate as evaluate_auth_results};
pub use classify::{BounceInfo, Classification, DsnRecipient, classify, is_auto_reply_suppressed};
pub use parse::{
    AutoHeaders, InboundEmail, ParseError, ParsedAttachment, ReportParts, parse, sanitize_filename, sanitize_html,
};
pub use source::{SourceError, SourceMessage, messages};
pub use subject::{format_ticket_tag, subject_ticket_tag};
