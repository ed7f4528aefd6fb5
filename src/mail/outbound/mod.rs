//! Outbound email, the pure part: handlebars templates per email kind
//! ([`templates`]) and RFC 5322 message composition with lettre
//! ([`compose`]). Sending (the outbox worker and the SMTP transport) builds
//! on these and lives beside them.
//!
//! ```text
//! EmailContext ──Templates::render_context──▶ Rendered ──compose::build(Envelope, …)──▶ lettre::Message ──to_bytes──▶ bytes
//! ```

pub mod compose;
pub mod templates;
pub mod transport;
pub mod worker;

pub use compose::{ComposeError, Envelope, OutAttachment, Recipient, build, tagged_subject, ticket_tag, to_bytes};
pub use templates::{EmailContext, EmailKind, Rendered, TemplateError, Templates};
