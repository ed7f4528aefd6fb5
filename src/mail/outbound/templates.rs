//! Email templates: one handlebars template per part (`subject`, `text`,
//! `html`) and email kind, plus shared partials, under `templates/email/`.
//!
//! ```text
//! templates/email/<kind>/subject.hbs   one line once rendered (newlines collapse to spaces)
//! templates/email/<kind>/text.hbs      text/plain body
//! templates/email/<kind>/html.hbs      text/html body
//! templates/email/partials/*.hbs       partials, available to every template by file stem
//!                                      (`layout_html`, `layout_text`, `signature`, …)
//! ```
//!
//! The built-in set is embedded in the binary, so Tusk runs without the
//! directory. An operator may override any single file by putting a file with
//! the same relative path in a configured directory ([`Templates::load`]), and
//! may add partials of their own under `partials/`. Any other `.hbs` file in
//! that directory is an error: a misspelt override would otherwise be ignored
//! without a word.
//!
//! Handlebars runs in strict mode: a template that refers to a variable the
//! context does not hold is an error, never an empty string. Loading renders
//! every kind with its sample contexts ([`EmailKind::sample_context`], and once
//! more with every nullable variable null), so a typo such as
//! `{{ticket_numbr}}` stops Tusk at start-up with an error that names the file
//! and the variable.
//!
//! Escaping: `html` templates and the partials they use escape every
//! `{{value}}` for HTML; `{{{triple_stash}}}` inserts raw HTML and is meant
//! only for `body_html`, which the domain has already sanitized. `subject` and
//! `text` templates do not escape at all (they are not HTML).
//!
//! # Context variables
//!
//! Every kind gets:
//!
//! | variable | type | meaning |
//! |---|---|---|
//! | `support_name` | string | the desk's name, e.g. `Tusk Support` |
//! | `portal_url` | string or null | customer portal base URL; null when the portal is off |
//! | `recipient.name` | string or null | the recipient's display name, when known |
//! | `recipient.email` | string | the recipient's address |
//!
//! Every kind but `magic_link` also gets the ticket:
//!
//! | variable | type | meaning |
//! |---|---|---|
//! | `ticket.number` | integer | public ticket number (the `[#N]` tag is added to the subject by [`super::compose::build`]) |
//! | `ticket.subject` | string | the ticket's subject |
//! | `ticket.url` | string or null | link to the ticket for this recipient: the portal for customers, the console for agents; null when there is none |
//!
//! Per kind:
//!
//! - `acknowledgement`, `solved` (to the customer): nothing more.
//! - `reply` (to the customer): `agent.name` (string), `body_text` (the reply
//!   as plain text, used by `text.hbs`), `body_html` (the reply as sanitized
//!   HTML, inserted raw with `{{{body_html}}}` by `html.hbs`).
//! - `sla_warning`, `sla_breach` (to agents and managers): `metric`
//!   (`first response`, `next response` or `resolution`), `threshold`
//!   (integer percent of the target used when the notice fires, e.g. `75`;
//!   `100` for a breach), `due_at` (the deadline, already formatted for the
//!   reader), `plan` (the plan tier's display name, e.g. `Single Service`),
//!   `priority` (`low`, `normal`, `high`, `urgent`), `institution` (name),
//!   `instance` (the Mastodon domain, or null when none is linked).
//! - `magic_link` (portal sign-in): `link` (the one-time sign-in URL),
//!   `expires_in_minutes` (integer).
//! - `sla_weekly` (weekly SLA summary to managers; no ticket): `period`
//!   (e.g. `2026-11-16 to 2026-11-22`), `tickets` (integer, opened in the
//!   period), `first_response_percent` and `resolution_percent` (compliance,
//!   formatted, `-` when nothing was decided), `breaches` (integer),
//!   `backlog` (integer, open tickets now), `tiers` (list of `{name,
//!   tickets, first_response_percent, resolution_percent}`), `report_url`
//!   (console report page, or null), `attachment_name` (the CSV file
//!   attached).
//!
//! The typed structs below ([`EmailContext`] and friends) serialize to exactly
//! these shapes; prefer them to hand-written JSON.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use handlebars::{Handlebars, RenderError, RenderErrorReason};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of email Tusk sends; each has a folder of templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// Sent to a customer when their message opens a new ticket.
    Acknowledgement,
    /// An agent's public reply to the customer.
    Reply,
    /// Tells the customer the ticket was marked solved.
    Solved,
    /// To agents/managers: an SLA target is close to its deadline.
    SlaWarning,
    /// To agents/managers: an SLA target was missed.
    SlaBreach,
    /// A one-time sign-in link to the customer portal.
    MagicLink,
    /// To managers: the weekly SLA summary, with the CSV attached.
    SlaWeekly,
}

impl EmailKind {
    /// Every kind, in a stable order.
    pub const ALL: [EmailKind; 7] = [
        EmailKind::Acknowledgement,
        EmailKind::Reply,
        EmailKind::Solved,
        EmailKind::SlaWarning,
        EmailKind::SlaBreach,
        EmailKind::MagicLink,
        EmailKind::SlaWeekly,
    ];

    /// The kind's name: its template folder and its value in the mail outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Acknowledgement => "acknowledgement",
            EmailKind::Reply => "reply",
            EmailKind::Solved => "solved",
            EmailKind::SlaWarning => "sla_warning",
            EmailKind::SlaBreach => "sla_breach",
            EmailKind::MagicLink => "magic_link",
            EmailKind::SlaWeekly => "sla_weekly",
        }
    }

    /// The documented sample context for this kind, with every nullable
    /// variable filled in. Start-up validation renders each template with it
    /// (and with [`EmailContext::without_optionals`] of it).
    pub fn sample_context(self) -> Value {
        EmailContext::sample(self).to_value()
    }
}

impl fmt::Display for EmailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`EmailKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown email kind `{0}`")]
pub struct UnknownEmailKind(pub String);

impl FromStr for EmailKind {
    type Err = UnknownEmailKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownEmailKind(s.to_owned()))
    }
}

/// Context shared by every kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommonContext {
    /// The desk's name, e.g. `Tusk Support`.
    pub support_name: String,
    /// Customer portal base URL; `None` when the portal is off.
    pub portal_url: Option<String>,
    pub recipient: RecipientContext,
}

/// `recipient.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipientContext {
    pub name: Option<String>,
    pub email: String,
}

/// `ticket.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketContext {
    pub number: i64,
    pub subject: String,
    /// Link to the ticket for this recipient (portal or console), if any.
    pub url: Option<String>,
}

/// Context of `acknowledgement` and `solved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEmailContext {
    #[serde(flatten)]
    pub common: CommonContext,
    pub ticket: TicketContext,
}

/// `agent.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentContext {
    pub name: String,
}

/// Context of `reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyContext {
    #[serde(flatten)]
    pub common: CommonContext,
    pub ticket: TicketContext,
    pub agent: AgentContext,
    /// The reply as plain text.
    pub body_text: String,
    /// The reply as HTML, already sanitized: inserted without escaping.
    pub body_html: String,
}

/// Context of `sla_warning` and `sla_breach`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaContext {
    #[serde(flatten)]
    pub common: CommonContext,
    pub ticket: TicketContext,
    /// `first response`, `next response` or `resolution`.
    pub metric: String,
    /// Percent of the target used when the notice fires (100 for a breach).
    pub threshold: u32,
    /// The deadline, formatted for the reader.
    pub due_at: String,
    /// The plan tier's display name.
    pub plan: String,
    pub priority: String,
    pub institution: String,
    /// The Mastodon instance's domain, when one is linked.
    pub instance: Option<String>,
}

/// Context of `magic_link`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MagicLinkContext {
    #[serde(flatten)]
    pub common: CommonContext,
    /// The one-time sign-in URL.
    pub link: String,
    pub expires_in_minutes: u32,
}

/// One plan tier's line in `sla_weekly`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyTierLine {
    pub name: String,
    pub tickets: i64,
    pub first_response_percent: String,
    pub resolution_percent: String,
}

/// Context of `sla_weekly`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaWeeklyContext {
    #[serde(flatten)]
    pub common: CommonContext,
    /// The reported week, e.g. `2026-11-16 to 2026-11-22`.
    pub period: String,
    /// Tickets opened in the period.
    pub tickets: i64,
    /// First-response compliance, formatted (`93.5 %`, `-`).
    pub first_response_percent: String,
    /// Resolution compliance, formatted.
    pub resolution_percent: String,
    /// Missed targets of the period's tickets.
    pub breaches: i64,
    /// Open tickets now.
    pub backlog: i64,
    pub tiers: Vec<WeeklyTierLine>,
    /// The console report page, when known.
    pub report_url: Option<String>,
    /// Name of the attached CSV.
    pub attachment_name: String,
}

/// A kind together with its typed context.
#[derive(Debug, Clone, PartialEq)]
pub enum EmailContext {
    Acknowledgement(TicketEmailContext),
    Reply(ReplyContext),
    Solved(TicketEmailContext),
    SlaWarning(SlaContext),
    SlaBreach(SlaContext),
    MagicLink(MagicLinkContext),
    SlaWeekly(SlaWeeklyContext),
}

impl EmailContext {
    /// The kind this context is for.
    pub fn kind(&self) -> EmailKind {
        match self {
            EmailContext::Acknowledgement(_) => EmailKind::Acknowledgement,
            EmailContext::Reply(_) => EmailKind::Reply,
            EmailContext::Solved(_) => EmailKind::Solved,
            EmailContext::SlaWarning(_) => EmailKind::SlaWarning,
            EmailContext::SlaBreach(_) => EmailKind::SlaBreach,
            EmailContext::MagicLink(_) => EmailKind::MagicLink,
            EmailContext::SlaWeekly(_) => EmailKind::SlaWeekly,
        }
    }

    /// The context as the JSON value the templates see.
    pub fn to_value(&self) -> Value {
        // Serializing these plain structs of strings, integers and options
        // cannot fail; were it ever to, `Null` makes every template fail in
        // strict mode rather than render an empty email.
        let value = match self {
            EmailContext::Acknowledgement(c) | EmailContext::Solved(c) => serde_json::to_value(c),
            EmailContext::Reply(c) => serde_json::to_value(c),
            EmailContext::SlaWarning(c) | EmailContext::SlaBreach(c) => serde_json::to_value(c),
            EmailContext::MagicLink(c) => serde_json::to_value(c),
            EmailContext::SlaWeekly(c) => serde_json::to_value(c),
        };
        value.unwrap_or(Value::Null)
    }

    /// The documented sample for `kind`, every nullable variable filled in.
    pub fn sample(kind: EmailKind) -> EmailContext {
        let customer = CommonContext {
            support_name: "Tusk Support".into(),
            portal_url: Some("https://support.example.org/portal".into()),
            recipient: RecipientContext { name: Some("Ada Lovelace".into()), email: "ada@uni.example.edu".into() },
        };
        let ticket = TicketContext {
            number: 1042,
            subject: "Media uploads fail on our instance".into(),
            url: Some("https://support.example.org/portal/tickets/1042".into()),
        };
        let sla = |threshold: u32| SlaContext {
            common: CommonContext {
                recipient: RecipientContext {
                    name: Some("Grace Hopper".into()),
                    email: "grace@support.example.org".into(),
                },
                ..customer.clone()
            },
            ticket: TicketContext {
                url: Some("https://support.example.org/console/tickets/1042".into()),
                ..ticket.clone()
            },
            metric: "first response".into(),
            threshold,
            due_at: "2025-03-14 16:30 UTC".into(),
            plan: "All-in-One Managed".into(),
            priority: "high".into(),
            institution: "University of Example".into(),
            instance: Some("social.uni.example.edu".into()),
        };
        match kind {
            EmailKind::Acknowledgement => {
                EmailContext::Acknowledgement(TicketEmailContext { common: customer, ticket })
            }
            EmailKind::Reply => EmailContext::Reply(ReplyContext {
                common: customer,
                ticket,
                agent: AgentContext { name: "Grace Hopper".into() },
                body_text: "Hello Ada,\n\nWe raised the upload limit; please try again.\n\nBest regards".into(),
                body_html: "<p>Hello Ada,</p><p>We raised the <strong>upload limit</strong>; please try again.</p>"
                    .into(),
            }),
            EmailKind::Solved => EmailContext::Solved(TicketEmailContext { common: customer, ticket }),
            EmailKind::SlaWarning => EmailContext::SlaWarning(sla(75)),
            EmailKind::SlaBreach => EmailContext::SlaBreach(sla(100)),
            EmailKind::MagicLink => EmailContext::MagicLink(MagicLinkContext {
                common: customer,
                link: "https://support.example.org/portal/login/3q2+7w==".into(),
                expires_in_minutes: 15,
            }),
            EmailKind::SlaWeekly => EmailContext::SlaWeekly(SlaWeeklyContext {
                common: CommonContext {
                    recipient: RecipientContext {
                        name: Some("Grace Hopper".into()),
                        email: "grace@support.example.org".into(),
                    },
                    ..customer
                },
                period: "2026-11-16 to 2026-11-22".into(),
                tickets: 42,
                first_response_percent: "92.9 %".into(),
                resolution_percent: "85.0 %".into(),
                breaches: 5,
                backlog: 17,
                tiers: vec![WeeklyTierLine {
                    name: "All-in-One Managed".into(),
                    tickets: 12,
                    first_response_percent: "100.0 %".into(),
                    resolution_percent: "90.0 %".into(),
                }],
                report_url: Some("https://support.example.org/console/reports/sla".into()),
                attachment_name: "sla-summary-2026-11-16.csv".into(),
            }),
        }
    }

    /// The same context with every nullable variable set to null, so that
    /// validation also walks the `{{else}}` side of each `{{#if}}`.
    pub fn without_optionals(mut self) -> EmailContext {
        fn common(c: &mut CommonContext) {
            c.portal_url = None;
            c.recipient.name = None;
        }
        match &mut self {
            EmailContext::Acknowledgement(c) | EmailContext::Solved(c) => {
                common(&mut c.common);
                c.ticket.url = None;
            }
            EmailContext::Reply(c) => {
                common(&mut c.common);
                c.ticket.url = None;
            }
            EmailContext::SlaWarning(c) | EmailContext::SlaBreach(c) => {
                common(&mut c.common);
                c.ticket.url = None;
                c.instance = None;
            }
            EmailContext::MagicLink(c) => common(&mut c.common),
            EmailContext::SlaWeekly(c) => {
                common(&mut c.common);
                c.report_url = None;
                c.tiers.clear();
            }
        }
        self
    }
}

/// A rendered email: what [`super::compose::build`] turns into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line, whitespace collapsed, trimmed; without the ticket tag.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why templates could not be loaded or rendered. `file` is the template's
/// path on disk, or `built-in:<kind>/<part>.hbs` for an embedded one.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read email template {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("unexpected file {} in the email template directory: only <kind>/subject.hbs, <kind>/text.hbs, <kind>/html.hbs (kinds: {}) and partials/*.hbs are read", path.display(), kind_list())]
    UnexpectedFile { path: PathBuf },
    #[error("syntax error in email template {file}{}: {reason}", at(*line, *column))]
    Syntax { file: String, line: Option<usize>, column: Option<usize>, reason: String },
    #[error("email template {file}{} uses the variable `{variable}`, which the `{kind}` email does not provide", at(*line, None))]
    UnknownVariable { file: String, line: Option<usize>, variable: String, kind: EmailKind },
    #[error("cannot render email template {file}{} for the `{kind}` email: {reason}", at(*line, None))]
    Render { file: String, line: Option<usize>, kind: EmailKind, reason: String },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

fn kind_list() -> String {
    EmailKind::ALL.map(EmailKind::as_str).join(", ")
}

/// The parts of an email, each one template per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    #[cfg(test)]
    const ALL: [Part; 3] = [Part::Subject, Part::Text, Part::Html];

    fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "text",
            Part::Html => "html",
        }
    }
}

/// Registry name of a kind's part, e.g. `reply/html` (also its path below
/// the template directory, without `.hbs`).
fn part_name(kind: EmailKind, part: Part) -> String {
    format!("{}/{}", kind.as_str(), part.as_str())
}

const PARTIALS_DIR: &str = "partials";

/// The built-in templates, by path below `templates/email/` without `.hbs`.
const BUILTIN: &[(&str, &str)] = &[
    ("acknowledgement/subject", include_str!("../../../templates/email/acknowledgement/subject.hbs")),
    ("acknowledgement/text", include_str!("../../../templates/email/acknowledgement/text.hbs")),
    ("acknowledgement/html", include_str!("../../../templates/email/acknowledgement/html.hbs")),
    ("reply/subject", include_str!("../../../templates/email/reply/subject.hbs")),
    ("reply/text", include_str!("../../../templates/email/reply/text.hbs")),
    ("reply/html", include_str!("../../../templates/email/reply/html.hbs")),
    ("solved/subject", include_str!("../../../templates/email/solved/subject.hbs")),
    ("solved/text", include_str!("../../../templates/email/solved/text.hbs")),
    ("solved/html", include_str!("../../../templates/email/solved/html.hbs")),
    ("sla_warning/subject", include_str!("../../../templates/email/sla_warning/subject.hbs")),
    ("sla_warning/text", include_str!("../../../templates/email/sla_warning/text.hbs")),
    ("sla_warning/html", include_str!("../../../templates/email/sla_warning/html.hbs")),
    ("sla_breach/subject", include_str!("../../../templates/email/sla_breach/subject.hbs")),
    ("sla_breach/text", include_str!("../../../templates/email/sla_breach/text.hbs")),
    ("sla_breach/html", include_str!("../../../templates/email/sla_breach/html.hbs")),
    ("magic_link/subject", include_str!("../../../templates/email/magic_link/subject.hbs")),
    ("magic_link/text", include_str!("../../../templates/email/magic_link/text.hbs")),
    ("magic_link/html", include_str!("../../../templates/email/magic_link/html.hbs")),
    ("sla_weekly/subject", include_str!("../../../templates/email/sla_weekly/subject.hbs")),
    ("sla_weekly/text", include_str!("../../../templates/email/sla_weekly/text.hbs")),
    ("sla_weekly/html", include_str!("../../../templates/email/sla_weekly/html.hbs")),
    ("partials/layout_html", include_str!("../../../templates/email/partials/layout_html.hbs")),
    ("partials/layout_text", include_str!("../../../templates/email/partials/layout_text.hbs")),
    ("partials/signature", include_str!("../../../templates/email/partials/signature.hbs")),
];

/// One template source and where it came from (for error messages).
#[derive(Debug, Clone)]
struct Source {
    text: String,
    origin: String,
}

/// The loaded, validated templates. Cheap to share behind an `Arc`.
pub struct Templates {
    /// `subject` and `text` templates: no escaping.
    plain: Handlebars<'static>,
    /// `html` templates: HTML escaping.
    html: Handlebars<'static>,
    /// Registry name (`reply/html`, or a partial's stem) → file, for errors.
    origins: HashMap<String, String>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut files: Vec<_> = self.origins.values().collect();
        files.sort();
        f.debug_struct("Templates").field("files", &files).finish_non_exhaustive()
    }
}

impl Templates {
    /// The embedded built-in templates, validated.
    pub fn builtin() -> Result<Templates, TemplateError> {
        Templates::load(None)
    }

    /// The embedded built-in templates with any file from `override_dir`
    /// (same layout as `templates/email/`) taking the place of its built-in
    /// twin, validated against every kind's sample contexts.
    pub fn load(override_dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut sources = builtin_sources();
        if let Some(dir) = override_dir {
            apply_overrides(&mut sources, dir)?;
        }
        Templates::from_sources(sources)
    }

    /// Like [`Templates::load`], but the base set is read from `base_dir`
    /// (which must hold every built-in file, e.g.
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/templates/email")` while
    /// developing templates) instead of the embedded copy.
    pub fn load_from(base_dir: &Path, override_dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut sources = BTreeMap::new();
        for (name, _) in BUILTIN {
            let path = base_dir.join(format!("{name}.hbs"));
            sources.insert((*name).to_owned(), read_source(&path)?);
        }
        if let Some(dir) = override_dir {
            apply_overrides(&mut sources, dir)?;
        }
        Templates::from_sources(sources)
    }

    fn from_sources(sources: BTreeMap<String, Source>) -> Result<Templates, TemplateError> {
        let mut plain = Handlebars::new();
        plain.set_strict_mode(true);
        plain.register_escape_fn(handlebars::no_escape);
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        html.register_escape_fn(handlebars::html_escape);

        let mut origins = HashMap::new();
        for (name, source) in &sources {
            let syntax = |e: handlebars::TemplateError| {
                let (line, column) = e.pos().unzip();
                TemplateError::Syntax { file: source.origin.clone(), line, column, reason: e.reason().to_string() }
            };
            if let Some(partial) = name.strip_prefix("partials/") {
                // Partials serve both registries, so `{{> signature}}` works in
                // text and (escaped) in HTML.
                plain.register_partial(partial, &source.text).map_err(syntax)?;
                html.register_partial(partial, &source.text).map_err(syntax)?;
                origins.insert(partial.to_owned(), source.origin.clone());
            } else {
                let registry = if name.ends_with("/html") { &mut html } else { &mut plain };
                registry.register_template_string(name, &source.text).map_err(syntax)?;
                origins.insert(name.clone(), source.origin.clone());
            }
        }

        let templates = Templates { plain, html, origins };
        for kind in EmailKind::ALL {
            let sample = EmailContext::sample(kind);
            templates.render(kind, &sample.to_value())?;
            templates.render(kind, &sample.without_optionals().to_value())?;
        }
        Ok(templates)
    }

    /// Renders the three parts of `kind` with `ctx` (see the module docs for
    /// each kind's variables). A variable the templates use but `ctx` lacks
    /// is an error.
    pub fn render(&self, kind: EmailKind, ctx: &Value) -> Result<Rendered, TemplateError> {
        let render = |part: Part| {
            let name = part_name(kind, part);
            let registry = if part == Part::Html { &self.html } else { &self.plain };
            registry.render(&name, ctx).map_err(|e| self.render_error(kind, &name, e))
        };
        Ok(Rendered {
            subject: one_line(&render(Part::Subject)?),
            text: render(Part::Text)?,
            html: render(Part::Html)?,
        })
    }

    /// Renders a typed context; see [`Templates::render`].
    pub fn render_context(&self, ctx: &EmailContext) -> Result<Rendered, TemplateError> {
        self.render(ctx.kind(), &ctx.to_value())
    }

    fn render_error(&self, kind: EmailKind, name: &str, e: RenderError) -> TemplateError {
        // Errors inside a partial carry the partial's name; fall back to the
        // template being rendered.
        let template = e.template_name.as_deref().unwrap_or(name);
        let file = self.origins.get(template).cloned().unwrap_or_else(|| template.to_owned());
        let line = e.line_no;
        match e.reason() {
            RenderErrorReason::MissingVariable(path) => TemplateError::UnknownVariable {
                file,
                line,
                variable: path.clone().unwrap_or_else(|| "?".to_owned()),
                kind,
            },
            RenderErrorReason::TemplateError(t) => {
                let (line, column) = t.pos().unzip();
                TemplateError::Syntax { file, line, column, reason: t.reason().to_string() }
            }
            reason => TemplateError::Render { file, line, kind, reason: reason.to_string() },
        }
    }
}

/// Collapses every run of whitespace (newlines included) to one space and
/// trims: a subject is a single header line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn builtin_sources() -> BTreeMap<String, Source> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            ((*name).to_owned(), Source { text: (*text).to_owned(), origin: format!("built-in:{name}.hbs") })
        })
        .collect()
}

fn read_source(path: &Path) -> Result<Source, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io { path: path.to_owned(), source })?;
    Ok(Source { text, origin: path.display().to_string() })
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let io = |source| TemplateError::Io { path: dir.to_owned(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort();
    Ok(paths)
}

fn is_template(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "hbs")
}

/// Replaces built-in sources by the files found in `dir`, and adds extra
/// partials from `dir/partials/`. Files not ending in `.hbs` are ignored.
fn apply_overrides(sources: &mut BTreeMap<String, Source>, dir: &Path) -> Result<(), TemplateError> {
    for entry in read_dir(dir)? {
        if is_template(&entry) {
            return Err(TemplateError::UnexpectedFile { path: entry });
        }
        if !entry.is_dir() {
            continue;
        }
        let folder = entry.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        for file in read_dir(&entry)? {
            if !is_template(&file) {
                continue;
            }
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let name = format!("{folder}/{stem}");
            if folder == PARTIALS_DIR || sources.contains_key(&name) {
                sources.insert(name, read_source(&file)?);
            } else {
                return Err(TemplateError::UnexpectedFile { path: file });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_sample(kind: EmailKind) -> Rendered {
        Templates::builtin().unwrap().render(kind, &kind.sample_context()).unwrap()
    }

    /// Writes `files` (relative path → content) into a fresh directory.
    fn override_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn templates_can_be_shared_between_workers() {
        fn shared<T: Send + Sync + 'static>(_: &T) {}
        shared(&Templates::builtin().unwrap());
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in EmailKind::ALL {
            assert_eq!(kind.as_str().parse::<EmailKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
        assert_eq!("sla_warning".parse::<EmailKind>().unwrap(), EmailKind::SlaWarning);
        assert_eq!("Reply".parse::<EmailKind>(), Err(UnknownEmailKind("Reply".into())));
    }

    #[test]
    fn builtin_list_covers_every_kind_and_part() {
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        for kind in EmailKind::ALL {
            for part in Part::ALL {
                assert!(names.contains(&part_name(kind, part).as_str()), "{kind}/{}", part.as_str());
            }
        }
        assert_eq!(names.len(), EmailKind::ALL.len() * Part::ALL.len() + 3);
    }

    #[test]
    fn sample_context_has_the_documented_shape() {
        let reply = EmailKind::Reply.sample_context();
        for path in [
            "/support_name",
            "/portal_url",
            "/recipient/name",
            "/recipient/email",
            "/ticket/number",
            "/ticket/subject",
            "/ticket/url",
            "/agent/name",
            "/body_text",
            "/body_html",
        ] {
            assert!(reply.pointer(path).is_some(), "reply sample lacks {path}");
        }
        let sla = EmailKind::SlaBreach.sample_context();
        for path in ["/metric", "/threshold", "/due_at", "/plan", "/priority", "/institution", "/instance", "/ticket"] {
            assert!(sla.pointer(path).is_some(), "sla sample lacks {path}");
        }
        let link = EmailKind::MagicLink.sample_context();
        assert!(link.pointer("/link").is_some() && link.pointer("/expires_in_minutes").is_some());
        assert!(link.get("ticket").is_none(), "magic links are not about a ticket");
        let sparse = EmailContext::sample(EmailKind::SlaWarning).without_optionals().to_value();
        assert_eq!(sparse["instance"], Value::Null);
        assert_eq!(sparse["portal_url"], Value::Null);
        assert_eq!(sparse["recipient"]["name"], Value::Null);
    }

    #[test]
    fn acknowledgement_mentions_ticket_and_replying() {
        let r = render_sample(EmailKind::Acknowledgement);
        assert_eq!(r.subject, "We received your request: Media uploads fail on our instance");
        for body in [&r.text, &r.html] {
            assert!(body.contains("Hello Ada Lovelace,"), "{body}");
            assert!(body.contains("#1042"), "{body}");
            assert!(body.contains("reply to this email"), "{body}");
            assert!(body.contains("Media uploads fail on our instance"), "{body}");
            assert!(body.contains("https://support.example.org/portal/tickets/1042"), "{body}");
            assert!(body.contains("Tusk Support"), "signature: {body}");
        }
        assert!(r.html.starts_with("<!DOCTYPE html>"));
        assert!(r.text.contains("\n-- \nTusk Support\nhttps://support.example.org/portal\n"), "{}", r.text);
    }

    #[test]
    fn html_layout_is_self_contained() {
        for kind in EmailKind::ALL {
            let html = render_sample(kind).html;
            let lower = html.to_lowercase();
            assert!(!lower.contains("<script"), "{kind}");
            assert!(!lower.contains("<link"), "{kind}: no external stylesheet");
            assert!(!lower.contains("src="), "{kind}: no external images");
            assert!(lower.contains("</html>"), "{kind}");
        }
    }

    #[test]
    fn every_kind_renders_its_key_facts() {
        let reply = render_sample(EmailKind::Reply);
        assert_eq!(reply.subject, "Re: Media uploads fail on our instance");
        assert!(reply.text.contains("We raised the upload limit; please try again."));
        assert!(reply.text.contains("Grace Hopper"));
        assert!(!reply.text.contains("<strong>"), "text uses body_text, not the HTML");
        assert!(reply.html.contains("<p>We raised the <strong>upload limit</strong>; please try again.</p>"));

        let solved = render_sample(EmailKind::Solved);
        assert_eq!(solved.subject, "Solved: Media uploads fail on our instance");
        assert!(solved.text.contains("ticket #1042 as solved"));
        assert!(solved.text.contains("reply to this email"));

        let warning = render_sample(EmailKind::SlaWarning);
        assert_eq!(
            warning.subject,
            "SLA warning: first response due 2025-03-14 16:30 UTC on \"Media uploads fail on our instance\""
        );
        for needle in ["75%", "first response is due by 2025-03-14 16:30 UTC", "University of Example"] {
            assert!(warning.text.contains(needle), "{needle}: {}", warning.text);
        }
        for needle in ["social.uni.example.edu", "All-in-One Managed", "high", "/console/tickets/1042"] {
            assert!(warning.text.contains(needle) && warning.html.contains(needle), "{needle}");
        }
        assert!(warning.html.contains("<strong>75%</strong>"));

        let breach = render_sample(EmailKind::SlaBreach);
        assert!(breach.subject.starts_with("SLA breached: first response was due 2025-03-14 16:30 UTC"));
        assert!(breach.text.contains("has breached its first response target"));
        assert!(breach.html.contains("is now overdue"));

        let link = render_sample(EmailKind::MagicLink);
        assert_eq!(link.subject, "Your sign-in link for Tusk Support");
        assert!(link.text.contains("\nhttps://support.example.org/portal/login/3q2+7w==\n"));
        assert!(link.html.contains("href=\"https://support.example.org/portal/login/3q2+7w&#x3D;&#x3D;\""));
        for body in [&link.text, &link.html] {
            assert!(body.contains("expires in 15 minutes"), "{body}");
            assert!(body.contains("only once"), "{body}");
        }
    }

    #[test]
    fn nullable_variables_take_the_else_branches() {
        let t = Templates::builtin().unwrap();
        let ctx = EmailContext::sample(EmailKind::SlaWarning).without_optionals();
        let r = t.render_context(&ctx).unwrap();
        assert!(!r.text.contains("Instance:"), "{}", r.text);
        assert!(!r.text.contains("Open the ticket"), "{}", r.text);
        assert!(r.text.ends_with("-- \nTusk Support\n"), "{:?}", r.text);

        let ack = t.render_context(&EmailContext::sample(EmailKind::Acknowledgement).without_optionals()).unwrap();
        assert!(ack.text.starts_with("Hello,\n"), "{:?}", ack.text);
        assert!(!ack.text.contains("online"), "{}", ack.text);
        assert!(!ack.html.contains("href="), "{}", ack.html);
    }

    #[test]
    fn html_escapes_customer_strings_and_text_does_not() {
        let t = Templates::builtin().unwrap();
        let mut ctx = EmailKind::Acknowledgement.sample_context();
        ctx["ticket"]["subject"] = json!("<script>alert(1)</script> & \"more\"");
        ctx["recipient"]["name"] = json!("Bob <b>Bold</b>");
        let r = t.render(EmailKind::Acknowledgement, &ctx).unwrap();
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;"), "{}", r.html);
        assert!(r.html.contains("Hello Bob &lt;b&gt;Bold&lt;/b&gt;,"));
        assert!(!r.html.contains("<script>"));
        assert!(r.text.contains("<script>alert(1)</script> & \"more\""), "{}", r.text);
        assert!(r.text.contains("Hello Bob <b>Bold</b>,"));
        assert_eq!(r.subject, "We received your request: <script>alert(1)</script> & \"more\"");
    }

    #[test]
    fn body_html_passes_through_unescaped() {
        let t = Templates::builtin().unwrap();
        let mut ctx = EmailKind::Reply.sample_context();
        ctx["body_html"] = json!("<p>Line <em>one</em> &amp; <a href=\"https://x.example\">two</a></p>");
        ctx["body_text"] = json!("Line one & two <3");
        let r = t.render(EmailKind::Reply, &ctx).unwrap();
        assert!(r.html.contains("<p>Line <em>one</em> &amp; <a href=\"https://x.example\">two</a></p>"));
        assert!(r.text.contains("Line one & two <3"));
    }

    #[test]
    fn subject_is_one_line() {
        let t = Templates::builtin().unwrap();
        let mut ctx = EmailKind::Solved.sample_context();
        ctx["ticket"]["subject"] = json!("  two\r\nlines\tand   tabs  ");
        assert_eq!(t.render(EmailKind::Solved, &ctx).unwrap().subject, "Solved: two lines and tabs");
        assert_eq!(one_line("\n a \n\n b \u{2028} c "), "a b c");
    }

    #[test]
    fn missing_runtime_variable_is_an_error_not_an_empty_email() {
        let t = Templates::builtin().unwrap();
        let mut ctx = EmailKind::Reply.sample_context();
        ctx.as_object_mut().unwrap().remove("agent");
        let err = t.render(EmailKind::Reply, &ctx).unwrap_err();
        match &err {
            TemplateError::UnknownVariable { variable, kind, .. } => {
                assert!(variable.starts_with("agent"), "{variable}");
                assert_eq!(*kind, EmailKind::Reply);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn typo_in_override_fails_load_naming_file_and_variable() {
        let dir = override_dir(&[("acknowledgement/text.hbs", "Ticket {{ticket_numbr}}\n")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        let file = dir.path().join("acknowledgement/text.hbs").display().to_string();
        match &err {
            TemplateError::UnknownVariable { file: f, variable, kind, line } => {
                assert_eq!(f, &file);
                assert_eq!(variable, "ticket_numbr");
                assert_eq!(*kind, EmailKind::Acknowledgement);
                assert_eq!(*line, Some(1));
            }
            other => panic!("unexpected {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains(&file) && message.contains("`ticket_numbr`"), "{message}");
    }

    #[test]
    fn typo_inside_an_if_branch_is_caught_too() {
        // The full sample fills `portal_url`, so the branch is rendered.
        let dir = override_dir(&[("solved/html.hbs", "{{#if portal_url}}{{portal_ulr}}{{/if}}")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(matches!(&err, TemplateError::UnknownVariable { variable, .. } if variable == "portal_ulr"), "{err}");
        // …and the `else` side, through the sample without optionals.
        let dir = override_dir(&[("solved/text.hbs", "{{#if recipient.name}}hi{{else}}{{recipient.nmae}}{{/if}}")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnknownVariable { variable, .. } if variable == "recipient.nmae"),
            "{err}"
        );
    }

    #[test]
    fn variable_of_another_kind_is_rejected() {
        // `agent.name` exists for replies only.
        let dir = override_dir(&[("solved/text.hbs", "{{agent.name}}")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnknownVariable { variable, kind: EmailKind::Solved, .. } if variable.starts_with("agent")),
            "{err}"
        );
    }

    #[test]
    fn typo_in_an_overridden_partial_names_the_partial_file() {
        let dir = override_dir(&[("partials/signature.hbs", "{{suport_name}}\n")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        let file = dir.path().join("partials/signature.hbs").display().to_string();
        match &err {
            TemplateError::UnknownVariable { file: f, variable, .. } => {
                assert_eq!(f, &file);
                assert_eq!(variable, "suport_name");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let dir = override_dir(&[("reply/html.hbs", "<p>ok</p>\n<p>{{#if ticket.url}}open</p>\n")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        let file = dir.path().join("reply/html.hbs").display().to_string();
        match &err {
            TemplateError::Syntax { file: f, line, .. } => {
                assert_eq!(f, &file);
                assert!(line.is_some(), "{err}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains(&file), "{err}");

        let dir = override_dir(&[("magic_link/subject.hbs", "Sign in\n{{link}\n")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        match &err {
            TemplateError::Syntax { file, line, .. } => {
                assert!(file.ends_with("magic_link/subject.hbs"), "{file}");
                assert_eq!(*line, Some(2), "{err}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn override_of_one_file_changes_only_that_part_of_that_kind() {
        let builtin = Templates::builtin().unwrap();
        let dir = override_dir(&[
            ("solved/subject.hbs", "All done: {{ticket.subject}} ({{support_name}})"),
            ("README.txt", "non-template files are ignored"),
        ]);
        let custom = Templates::load(Some(dir.path())).unwrap();
        let solved = custom.render(EmailKind::Solved, &EmailKind::Solved.sample_context()).unwrap();
        assert_eq!(solved.subject, "All done: Media uploads fail on our instance (Tusk Support)");
        let builtin_solved = render_sample(EmailKind::Solved);
        assert_eq!(solved.text, builtin_solved.text);
        assert_eq!(solved.html, builtin_solved.html);
        for kind in EmailKind::ALL.into_iter().filter(|k| *k != EmailKind::Solved) {
            let ctx = kind.sample_context();
            assert_eq!(custom.render(kind, &ctx).unwrap(), builtin.render(kind, &ctx).unwrap(), "{kind}");
        }
    }

    #[test]
    fn overridden_partial_applies_to_every_kind_and_extra_partials_work() {
        let dir = override_dir(&[
            ("partials/signature.hbs", "{{> team}}, {{support_name}}\n"),
            ("partials/team.hbs", "The hosting team"),
        ]);
        let t = Templates::load(Some(dir.path())).unwrap();
        for kind in EmailKind::ALL {
            let r = t.render(kind, &kind.sample_context()).unwrap();
            assert!(r.text.ends_with("-- \nThe hosting team, Tusk Support\n"), "{kind}: {:?}", r.text);
            assert!(r.html.contains("The hosting team, Tusk Support"), "{kind}");
        }
    }

    #[test]
    fn unknown_override_file_is_an_error() {
        let dir = override_dir(&[("acknowledgment/text.hbs", "misspelt kind folder")]);
        let err = Templates::load(Some(dir.path())).unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnexpectedFile { path } if path.ends_with("acknowledgment/text.hbs")),
            "{err}"
        );
        let dir = override_dir(&[("reply/body.hbs", "unknown part")]);
        assert!(matches!(Templates::load(Some(dir.path())), Err(TemplateError::UnexpectedFile { .. })));
    }

    #[test]
    fn missing_override_dir_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = Templates::load(Some(&missing)).unwrap_err();
        assert!(matches!(&err, TemplateError::Io { path, .. } if path == &missing), "{err}");
    }

    #[test]
    fn load_from_a_directory_matches_the_embedded_set() {
        let files: Vec<(String, &str)> = BUILTIN.iter().map(|(n, t)| (format!("{n}.hbs"), *t)).collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let base = override_dir(&refs);
        let from_dir = Templates::load_from(base.path(), None).unwrap();
        let builtin = Templates::builtin().unwrap();
        for kind in EmailKind::ALL {
            let ctx = kind.sample_context();
            assert_eq!(from_dir.render(kind, &ctx).unwrap(), builtin.render(kind, &ctx).unwrap());
        }
        // A base directory without a file fails and names that file.
        std::fs::remove_file(base.path().join("reply/text.hbs")).unwrap();
        let err = Templates::load_from(base.path(), None).unwrap_err();
        assert!(matches!(&err, TemplateError::Io { path, .. } if path.ends_with("reply/text.hbs")), "{err}");
    }
}
