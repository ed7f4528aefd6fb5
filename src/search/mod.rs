//! Search over the whole ticket history, behind one trait with two backends:
//! an embedded tantivy index under `data_dir/search` (the zero-setup
//! default) and Meilisearch (several `tusk serve` processes).
//!
//! # The model
//! One document per ticket ([`TicketDoc`], built from the database by
//! [`document`]): subject, every message body (customer-visible bodies and
//! internal notes in separate fields), requester name and email, institution
//! name, instance domain, tags, the numbers of tickets merged into it, and
//! the filterable facts (status, priority, plan tier, institution, instance,
//! assignee, requester, tags, created/updated time). A merged ticket has no
//! document: its thread moved to the target, whose document carries the
//! merged ticket's number, so searching for that number finds the target.
//!
//! # Permissions
//! A [`SearchRequest`] carries its [`Scope`]. Agents search every field,
//! notes included. Customers search only the customer-visible fields (never
//! the notes, which are neither matched nor shown in snippets) of tickets they
//! requested, or of their whole institution when they are its admin. Each
//! backend applies the scope inside the engine query, so paging and totals
//! count only visible tickets.
//!
//! # Keeping it right
//! The database is the truth. Every change writes a `search_outbox` row in
//! its transaction; the [`indexer`] drains the outbox in batches, rebuilding
//! each named ticket's document from the database (so the operation recorded
//! in the row never matters and replays are harmless). When the engine is
//! down the rows stay, with a growing back-off, and are applied when it is
//! back. `tusk search reindex` ([`reindex`]) rebuilds everything while Tusk
//! serves.
//!
//! Filters are typed ([`Filters`]); no user string ever reaches an engine's
//! filter syntax (the Meilisearch backend quotes the few strings it puts in
//! filters; the embedded one builds term queries).

pub mod document;
pub mod embedded;
pub mod highlight;
pub mod indexer;
pub mod meili;
pub mod reindex;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::config::{Config, SearchBackend};
use crate::db::models::Contact;
use crate::db::{AgentId, ContactId, InstanceId, InstitutionId, Priority, TicketId, TicketStatus};
use crate::error::{AppError, AppResult};

/// A boxed, sendable future (the trait is used as `Arc<dyn Search>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Results per page when the request names none.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// Most results per page.
pub const MAX_PER_PAGE: u32 = 100;
/// Deepest result reachable by paging (both engines bound it).
pub const MAX_RESULT_WINDOW: u32 = 10_000;
/// Longest query text used (characters); the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words of the query text used.
pub const MAX_QUERY_WORDS: usize = 10;

/// A search engine holding ticket documents.
pub trait Search: Send + Sync {
    /// `embedded` or `meilisearch`, for logs.
    fn kind(&self) -> &'static str;

    /// Makes the index ready: creates it and applies its settings
    /// (idempotent; Meilisearch waits for the settings task and reports its
    /// failure). `tusk serve` calls it at start-up, the indexer before its
    /// first batch.
    fn prepare(&self) -> BoxFuture<'_, AppResult<()>>;

    /// Replaces the documents in `batch.upserts` (by ticket id) and removes
    /// those in `batch.deletes`; returns once the change is durable and
    /// visible to searches, or with the engine's error.
    fn apply(&self, batch: IndexBatch) -> BoxFuture<'_, AppResult<()>>;

    /// Runs a query. An engine failure is an `Unavailable` error: callers
    /// degrade the page, nothing else fails.
    fn search(&self, request: SearchRequest) -> BoxFuture<'_, AppResult<SearchResults>>;

    /// Documents in the index (tests, `tusk search reindex`).
    fn count(&self) -> BoxFuture<'_, AppResult<u64>>;

    /// Starts building a complete new index next to the serving one; the
    /// serving one is untouched until [`Rebuild::publish`].
    fn begin_rebuild(&self) -> BoxFuture<'_, AppResult<Box<dyn Rebuild>>>;
}

/// A new index being filled by `tusk search reindex`.
pub trait Rebuild: Send {
    /// Adds documents (each ticket once).
    fn add(&mut self, docs: Vec<TicketDoc>) -> BoxFuture<'_, AppResult<()>>;
    /// Makes the new index the serving one, atomically.
    fn publish(self: Box<Self>) -> BoxFuture<'static, AppResult<()>>;
}

/// Index changes applied together.
#[derive(Debug, Clone, Default)]
pub struct IndexBatch {
    pub upserts: Vec<TicketDoc>,
    pub deletes: Vec<TicketId>,
}

impl IndexBatch {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }
}

/// The indexed form of one ticket. Times are Unix seconds (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDoc {
    /// The ticket id (the document's primary key).
    pub id: i64,
    pub number: i64,
    /// `number` plus the numbers of tickets merged into this one.
    pub numbers: Vec<i64>,
    pub subject: String,
    /// Inbound and reply bodies, oldest first (what the customer sees).
    pub body_public: String,
    /// Internal notes, oldest first (agents only).
    pub body_notes: String,
    pub requester_name: String,
    pub requester_email: String,
    pub institution_name: Option<String>,
    pub instance_domain: Option<String>,
    pub tags: Vec<String>,
    pub status: TicketStatus,
    pub priority: Priority,
    /// Plan tier: the instance's plan, else the institution's default plan,
    /// else the support default.
    pub plan: String,
    pub institution_id: Option<i64>,
    pub instance_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub requester_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who is searching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Staff: every ticket, notes included.
    Agent,
    /// A customer in the portal: tickets they requested, plus every ticket of
    /// `institution_id` when set (set it only for an institution admin, see
    /// [`Scope::for_contact`]); never notes.
    Customer { contact_id: ContactId, institution_id: Option<InstitutionId> },
}

impl Scope {
    /// The customer scope of a contact: the whole institution for its admin.
    pub fn for_contact(contact: &Contact) -> Scope {
        Scope::Customer {
            contact_id: contact.id,
            institution_id: if contact.is_institution_admin { contact.institution_id } else { None },
        }
    }

    pub fn is_agent(self) -> bool {
        matches!(self, Scope::Agent)
    }
}

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Best match first (most recently updated first when there is no text).
    #[default]
    Relevance,
    /// Most recently updated first.
    Recent,
}

/// Filter on the assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Agent(AgentId),
    Unassigned,
}

/// A time range: `from` inclusive, `to` exclusive (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

impl TimeRange {
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// `[from, to)` in Unix seconds; `to` rounded up so that a sub-second
    /// bound keeps its meaning on whole seconds.
    pub(crate) fn secs(&self) -> (Option<i64>, Option<i64>) {
        let from = self.from.map(|t| {
            let s = t.and_utc().timestamp();
            if t.and_utc().timestamp_subsec_nanos() > 0 { s + 1 } else { s }
        });
        let to = self.to.map(|t| {
            let s = t.and_utc().timestamp();
            if t.and_utc().timestamp_subsec_nanos() > 0 { s + 1 } else { s }
        });
        (from, to)
    }
}

/// Typed filters; every listed condition must hold. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Any of these statuses.
    pub statuses: Vec<TicketStatus>,
    /// Any of these priorities.
    pub priorities: Vec<Priority>,
    /// Any of these plan tiers.
    pub plans: Vec<String>,
    pub institution_id: Option<InstitutionId>,
    pub instance_id: Option<InstanceId>,
    pub assignee: Option<AssigneeFilter>,
    pub requester_id: Option<ContactId>,
    /// Every one of these tags.
    pub tags: Vec<String>,
    pub created: TimeRange,
    pub updated: TimeRange,
}

/// A query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// Free text (prefix and typo tolerant); empty lists by the filters.
    pub text: String,
    pub filters: Filters,
    pub sort: SortOrder,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
    pub scope: Scope,
}

impl SearchRequest {
    /// A first page of agent results for `text`.
    pub fn agent(text: impl Into<String>) -> SearchRequest {
        SearchRequest {
            text: text.into(),
            filters: Filters::default(),
            sort: SortOrder::Relevance,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            scope: Scope::Agent,
        }
    }

    /// The request with its text trimmed and bounded, page and page size in
    /// range (the window bounded by [`MAX_RESULT_WINDOW`]), tags and plans
    /// lower-cased. Backends call it first.
    pub fn normalized(&self) -> SearchRequest {
        let mut r = self.clone();
        let text: String = self.text.chars().take(MAX_QUERY_CHARS).collect();
        r.text = text.split_whitespace().take(MAX_QUERY_WORDS).collect::<Vec<_>>().join(" ");
        // A trailing space means the last word is complete (no prefix search).
        if self.text.ends_with(char::is_whitespace) && !r.text.is_empty() {
            r.text.push(' ');
        }
        r.per_page = match self.per_page {
            0 => DEFAULT_PER_PAGE,
            n => n.min(MAX_PER_PAGE),
        };
        let max_page = (MAX_RESULT_WINDOW / r.per_page).max(1);
        r.page = self.page.clamp(1, max_page);
        r.filters.tags = self.filters.tags.iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
        r.filters.plans =
            self.filters.plans.iter().map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()).collect();
        r
    }

    /// Offset of the first result of the page.
    pub fn offset(&self) -> usize {
        (self.page.saturating_sub(1) as usize) * self.per_page as usize
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// Matching tickets in all pages (bounded by [`MAX_RESULT_WINDOW`] on
    /// Meilisearch).
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub hits: Vec<Hit>,
}

/// One matching ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub ticket_id: TicketId,
    pub number: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub institution_name: Option<String>,
    pub instance_domain: Option<String>,
    pub updated_at: NaiveDateTime,
    /// An excerpt around the matches: HTML-escaped text in which only
    /// `<mark>…</mark>` is markup. Safe to insert in a page as is.
    pub snippet_html: String,
}

/// Opens the configured backend. The embedded index is opened (created when
/// missing) now; Meilisearch is not contacted until [`Search::prepare`].
pub fn open(config: &Config) -> AppResult<Arc<dyn Search>> {
    match config.search.backend {
        SearchBackend::Embedded => {
            let index = embedded::Embedded::open(
                &config.data_dir.join("search"),
                embedded::EmbeddedOptions::from_config(config),
            )?;
            Ok(Arc::new(index))
        }
        SearchBackend::Meilisearch => Ok(Arc::new(meili::Meili::from_config(config)?)),
    }
}

/// Unix seconds to a timestamp (out-of-range values become the epoch).
pub(crate) fn from_secs(secs: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.naive_utc()).unwrap_or_default()
}

/// An engine error as an `Unavailable` application error.
pub(crate) fn engine_error(what: &str, cause: impl std::fmt::Display) -> AppError {
    AppError::unavailable("search is unavailable", anyhow::anyhow!("{what}: {cause}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_bounded() {
        let mut r = SearchRequest::agent(format!("  {}  ", "word ".repeat(50)));
        r.page = 0;
        r.per_page = 1000;
        let n = r.normalized();
        assert_eq!(n.text.split_whitespace().count(), MAX_QUERY_WORDS);
        assert!(n.text.ends_with(' '), "a trailing space is kept: the last word is complete");
        assert_eq!((n.page, n.per_page), (1, MAX_PER_PAGE));
        r.page = 500;
        assert_eq!(r.normalized().page, MAX_RESULT_WINDOW / MAX_PER_PAGE);
        r.per_page = 0;
        assert_eq!(r.normalized().per_page, DEFAULT_PER_PAGE);
        let mut t = SearchRequest::agent("relay");
        t.filters.tags = vec![" Federation ".into(), "".into()];
        assert_eq!(t.normalized().filters.tags, vec!["federation".to_string()]);
        assert_eq!(t.normalized().text, "relay");
    }

    #[test]
    fn time_ranges_round_up_to_seconds() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_micro_opt(3, 4, 5, 6).unwrap();
        let r = TimeRange { from: Some(t), to: Some(t) };
        let base = t.and_utc().timestamp();
        assert_eq!(r.secs(), (Some(base + 1), Some(base + 1)));
        assert_eq!(from_secs(base).and_utc().timestamp(), base);
    }
}
