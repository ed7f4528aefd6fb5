//! The Meilisearch backend (meilisearch-sdk).
//!
//! [`Meili::prepare`] creates the index when missing (primary key `id`) and
//! applies its settings — searchable, filterable and sortable attributes,
//! ranking rules, typo tolerance, the pagination window — in one settings
//! update, every start: Meilisearch treats an unchanged setting as a no-op,
//! so this is idempotent. Every write task is awaited (bounded by
//! `meilisearch.timeout_secs`) and a failed task is an error carrying
//! Meilisearch's message, so the indexer keeps the outbox rows and retries.
//!
//! Queries: the text goes to `q` (it is never part of a filter); filters are
//! built from the typed [`Filters`] with numbers and quoted, escaped strings.
//! Customers search `attributesToSearchOn` without `body_notes`, and notes
//! are neither retrieved nor highlighted for them. Highlights use two
//! private-use characters as tags (stripped from documents when they are
//! built), so the snippet can be HTML-escaped first and marked after.
//!
//! Ranking rules put `sort` first: a request sorted by recency is ordered by
//! `updated_at` only (as the embedded engine does); without a sort the rule
//! is inert and relevance (`words`, `typo`, `proximity`, `attribute`,
//! `exactness`) decides.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{MinWordSizeForTypos, PaginationSetting, Settings, TypoToleranceSettings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::Deserialize;

use super::highlight::escape_html;
use super::{
    AssigneeFilter, BoxFuture, Filters, Hit, IndexBatch, MAX_RESULT_WINDOW, Rebuild, Scope, Search, SearchRequest,
    SearchResults, SortOrder, TicketDoc, engine_error, from_secs,
};
use crate::config::Config;
use crate::db::{Priority, TicketId, TicketStatus};
use crate::error::{AppError, AppResult};

const PRE: &str = "\u{E000}";
const POST: &str = "\u{E001}";
/// Words kept around the matches in a snippet.
const CROP_WORDS: usize = 30;
/// Interval between polls of a task's status.
const TASK_POLL: Duration = Duration::from_millis(50);

const SEARCHABLE: &[&str] = &[
    "subject",
    "numbers",
    "body_public",
    "requester_name",
    "requester_email",
    "institution_name",
    "instance_domain",
    "tags",
    "body_notes",
];
const SEARCHABLE_BY_CUSTOMERS: &[&str] = &[
    "subject",
    "numbers",
    "body_public",
    "requester_name",
    "requester_email",
    "institution_name",
    "instance_domain",
    "tags",
];
const FILTERABLE: &[&str] = &[
    "status",
    "priority",
    "plan",
    "institution_id",
    "instance_id",
    "assignee_id",
    "requester_id",
    "tags",
    "created_at",
    "updated_at",
];
const SORTABLE: &[&str] = &["updated_at", "created_at"];
const RANKING: &[&str] = &["sort", "words", "typo", "proximity", "attribute", "exactness"];
const RETRIEVED: &[&str] =
    &["id", "number", "subject", "status", "priority", "institution_name", "instance_domain", "updated_at"];

/// The index settings applied at start-up.
pub fn settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(SEARCHABLE)
        .with_filterable_attributes(FILTERABLE)
        .with_sortable_attributes(SORTABLE)
        .with_ranking_rules(RANKING)
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            disable_on_attributes: Some(Vec::new()),
            disable_on_words: Some(Vec::new()),
            min_word_size_for_typos: Some(MinWordSizeForTypos { one_typo: Some(5), two_typos: Some(9) }),
            disable_on_numbers: None,
        })
        .with_pagination(PaginationSetting { max_total_hits: MAX_RESULT_WINDOW as usize })
}

/// The Meilisearch engine.
pub struct Meili {
    client: Client,
    index: String,
    timeout: Duration,
    prepared: AtomicBool,
}

fn meili_error(what: &str, e: MeiliError) -> AppError {
    engine_error(&format!("meilisearch: {what}"), e)
}

impl Meili {
    /// A client for `url` (no request is made yet).
    pub fn new(url: &str, key: Option<&str>, index: &str, timeout: Duration) -> AppResult<Meili> {
        let client = Client::new(url.trim_end_matches('/'), key.filter(|k| !k.is_empty()))
            .map_err(|e| meili_error("cannot create the client", e))?;
        Ok(Meili { client, index: index.to_string(), timeout, prepared: AtomicBool::new(false) })
    }

    pub fn from_config(config: &Config) -> AppResult<Meili> {
        let m = &config.meilisearch;
        Meili::new(&m.url, Some(m.key.expose()), &m.index, Duration::from_secs(m.timeout_secs))
    }

    /// The index name.
    pub fn index_name(&self) -> &str {
        &self.index
    }

    /// Runs `f` within the timeout.
    async fn timed<T>(&self, what: &str, f: impl Future<Output = Result<T, MeiliError>>) -> AppResult<T> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(result) => result.map_err(|e| meili_error(what, e)),
            Err(_) => Err(engine_error(&format!("meilisearch: {what}"), "timed out")),
        }
    }

    /// Waits for a task; a failed task is an error with Meilisearch's message.
    async fn wait(&self, what: &str, task: TaskInfo) -> AppResult<()> {
        let task = self.timed(what, self.client.wait_for_task(task, Some(TASK_POLL), Some(self.timeout))).await?;
        match task {
            Task::Failed { content } => Err(engine_error(
                &format!("meilisearch: {what}"),
                format!("task failed: {} ({:?})", content.error.error_message, content.error.error_code),
            )),
            _ => Ok(()),
        }
    }

    /// Creates `uid` when missing and applies [`settings`] to it.
    async fn ensure_index(&self, uid: &str) -> AppResult<()> {
        match self.client.get_index(uid).await {
            Ok(_) => {}
            Err(MeiliError::Meilisearch(e)) if e.error_code == ErrorCode::IndexNotFound => {
                let task = self.timed("create index", self.client.create_index(uid, Some("id"))).await?;
                let done = self
                    .timed("create index", self.client.wait_for_task(task, Some(TASK_POLL), Some(self.timeout)))
                    .await?;
                if let Task::Failed { content } = done
                    && content.error.error_code != ErrorCode::IndexAlreadyExists
                {
                    return Err(engine_error("meilisearch: create index", content.error.error_message));
                }
            }
            Err(e) => return Err(meili_error("get index", e)),
        }
        let index = self.client.index(uid);
        let task = self.timed("apply settings", index.set_settings(&settings())).await?;
        self.wait("apply settings", task).await
    }

    async fn write(&self, index: &Index, docs: &[TicketDoc], deletes: &[i64]) -> AppResult<()> {
        let mut tasks = Vec::new();
        if !docs.is_empty() {
            tasks.push(self.timed("add documents", index.add_or_replace(docs, Some("id"))).await?);
        }
        if !deletes.is_empty() {
            tasks.push(self.timed("delete documents", index.delete_documents(deletes)).await?);
        }
        for task in tasks {
            self.wait("index documents", task).await?;
        }
        Ok(())
    }

    async fn run_search(&self, request: SearchRequest) -> AppResult<SearchResults> {
        let request = request.normalized();
        let index = self.client.index(&self.index);
        let filter = filter_expression(&request.filters, request.scope);
        let agent = request.scope.is_agent();
        // Normalised: trimmed at the start; a trailing space (the last word
        // is complete, no prefix search) is kept, as Meilisearch reads it.
        let text = request.text.clone();
        let sort: &[&str] = &["updated_at:desc"];
        let crop_agent = [("body_public", None), ("body_notes", None)];
        let crop_customer = [("body_public", None)];
        let highlight_agent = ["subject", "body_public", "body_notes"];
        let highlight_customer = ["subject", "body_public"];
        let mut retrieve: Vec<&str> = RETRIEVED.to_vec();
        retrieve.push("body_public");
        if agent {
            retrieve.push("body_notes");
        }
        let mut query = index.search();
        query
            .with_query(&text)
            .with_page(request.page as usize)
            .with_hits_per_page(request.per_page as usize)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_attributes_to_retrieve(Selectors::Some(&retrieve))
            .with_attributes_to_search_on(if agent { SEARCHABLE } else { SEARCHABLE_BY_CUSTOMERS })
            .with_attributes_to_crop(Selectors::Some(if agent { &crop_agent[..] } else { &crop_customer[..] }))
            .with_crop_length(CROP_WORDS)
            .with_crop_marker("…")
            .with_attributes_to_highlight(Selectors::Some(if agent {
                &highlight_agent[..]
            } else {
                &highlight_customer[..]
            }))
            .with_highlight_pre_tag(PRE)
            .with_highlight_post_tag(POST);
        if !filter.is_empty() {
            query.with_filter(&filter);
        }
        if request.sort == SortOrder::Recent || text.trim().is_empty() {
            query.with_sort(sort);
        }
        let results = self.timed("search", query.execute::<StoredHit>()).await?;
        let hits = results
            .hits
            .into_iter()
            .map(|h| {
                let formatted = h.formatted_result.unwrap_or_default();
                let field = |name: &str| formatted.get(name).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let marked = |s: &String| s.contains(PRE);
                let public = field("body_public");
                let notes = if agent { field("body_notes") } else { String::new() };
                let subject = field("subject");
                let source = if marked(&public) || (!marked(&notes) && !marked(&subject) && !public.is_empty()) {
                    public
                } else if marked(&notes) {
                    notes
                } else {
                    subject
                };
                let doc = h.result;
                Hit {
                    ticket_id: TicketId(doc.id),
                    number: doc.number,
                    subject: doc.subject,
                    status: doc.status,
                    priority: doc.priority,
                    institution_name: doc.institution_name,
                    instance_domain: doc.instance_domain,
                    updated_at: from_secs(doc.updated_at),
                    snippet_html: marked_html(&source),
                }
            })
            .collect();
        Ok(SearchResults {
            total: results.total_hits.or(results.estimated_total_hits).unwrap_or(0) as u64,
            page: request.page,
            per_page: request.per_page,
            hits,
        })
    }
}

/// The stored fields a hit needs.
#[derive(Debug, Deserialize)]
struct StoredHit {
    id: i64,
    number: i64,
    subject: String,
    status: TicketStatus,
    priority: Priority,
    #[serde(default)]
    institution_name: Option<String>,
    #[serde(default)]
    instance_domain: Option<String>,
    updated_at: i64,
}

/// Escapes highlighted text and turns the private-use tags into `<mark>`.
pub fn marked_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut open = false;
    for c in text.chars() {
        match c {
            '\u{E000}' if !open => {
                out.push_str("<mark>");
                open = true;
            }
            '\u{E001}' if open => {
                out.push_str("</mark>");
                open = false;
            }
            '\u{E000}' | '\u{E001}' => {}
            c => {
                let mut buf = [0u8; 4];
                escape_html(c.encode_utf8(&mut buf), &mut out);
            }
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A filter string value, quoted and escaped.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The Meilisearch filter for typed filters and a scope (empty: none).
pub fn filter_expression(filters: &Filters, scope: Scope) -> String {
    let mut parts: Vec<String> = Vec::new();
    let list = |field: &str, values: Vec<String>| format!("{field} IN [{}]", values.join(", "));
    if !filters.statuses.is_empty() {
        parts.push(list("status", filters.statuses.iter().map(|s| quote(s.as_str())).collect()));
    }
    if !filters.priorities.is_empty() {
        parts.push(list("priority", filters.priorities.iter().map(|p| quote(p.as_str())).collect()));
    }
    if !filters.plans.is_empty() {
        parts.push(list("plan", filters.plans.iter().map(|p| quote(p)).collect()));
    }
    for tag in &filters.tags {
        parts.push(format!("tags = {}", quote(tag)));
    }
    if let Some(id) = filters.institution_id {
        parts.push(format!("institution_id = {}", id.0));
    }
    if let Some(id) = filters.instance_id {
        parts.push(format!("instance_id = {}", id.0));
    }
    if let Some(id) = filters.requester_id {
        parts.push(format!("requester_id = {}", id.0));
    }
    match filters.assignee {
        Some(AssigneeFilter::Agent(id)) => parts.push(format!("assignee_id = {}", id.0)),
        Some(AssigneeFilter::Unassigned) => parts.push("assignee_id IS NULL".to_string()),
        None => {}
    }
    for (field, range) in [("created_at", filters.created), ("updated_at", filters.updated)] {
        let (from, to) = range.secs();
        if let Some(from) = from {
            parts.push(format!("{field} >= {from}"));
        }
        if let Some(to) = to {
            parts.push(format!("{field} < {to}"));
        }
    }
    if let Scope::Customer { contact_id, institution_id } = scope {
        parts.push(match institution_id {
            Some(i) => format!("requester_id = {} OR institution_id = {}", contact_id.0, i.0),
            None => format!("requester_id = {}", contact_id.0),
        });
    }
    parts.into_iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(" AND ")
}

impl Search for Meili {
    fn kind(&self) -> &'static str {
        "meilisearch"
    }

    fn prepare(&self) -> BoxFuture<'_, AppResult<()>> {
        Box::pin(async move {
            self.ensure_index(&self.index).await?;
            self.prepared.store(true, Ordering::Release);
            Ok(())
        })
    }

    fn apply(&self, batch: IndexBatch) -> BoxFuture<'_, AppResult<()>> {
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(());
            }
            let deletes: Vec<i64> = batch.deletes.iter().map(|t| t.0).collect();
            self.write(&self.client.index(&self.index), &batch.upserts, &deletes).await
        })
    }

    fn search(&self, request: SearchRequest) -> BoxFuture<'_, AppResult<SearchResults>> {
        Box::pin(self.run_search(request))
    }

    fn count(&self) -> BoxFuture<'_, AppResult<u64>> {
        Box::pin(async move {
            let stats = self.timed("index stats", self.client.index(&self.index).get_stats()).await?;
            Ok(stats.number_of_documents as u64)
        })
    }

    fn begin_rebuild(&self) -> BoxFuture<'_, AppResult<Box<dyn Rebuild>>> {
        Box::pin(async move {
            let uid = format!("{}_rebuild_{:08x}", self.index, rand::random::<u32>());
            self.ensure_index(&self.index).await?;
            self.ensure_index(&uid).await?;
            let meili = Meili {
                client: self.client.clone(),
                index: self.index.clone(),
                timeout: self.timeout,
                prepared: AtomicBool::new(true),
            };
            Ok(Box::new(MeiliRebuild { meili, uid, pending: Vec::new() }) as Box<dyn Rebuild>)
        })
    }
}

struct MeiliRebuild {
    meili: Meili,
    uid: String,
    pending: Vec<TaskInfo>,
}

impl Rebuild for MeiliRebuild {
    fn add(&mut self, docs: Vec<TicketDoc>) -> BoxFuture<'_, AppResult<()>> {
        Box::pin(async move {
            if docs.is_empty() {
                return Ok(());
            }
            let index = self.meili.client.index(&self.uid);
            let task = self.meili.timed("add documents", index.add_or_replace(&docs, Some("id"))).await?;
            self.pending.push(task);
            // Bound the queue: wait for the oldest tasks as we go.
            while self.pending.len() > 4 {
                let oldest = self.pending.remove(0);
                self.meili.wait("add documents to the new index", oldest).await?;
            }
            Ok(())
        })
    }

    fn publish(mut self: Box<Self>) -> BoxFuture<'static, AppResult<()>> {
        Box::pin(async move {
            for task in std::mem::take(&mut self.pending) {
                self.meili.wait("add documents to the new index", task).await?;
            }
            let swap = SwapIndexes { indexes: (self.meili.index.clone(), self.uid.clone()), rename: None };
            let task = self.meili.timed("swap indexes", self.meili.client.swap_indexes([&swap])).await?;
            self.meili.wait("swap indexes", task).await?;
            // After the swap `uid` holds the old documents.
            let task = self.meili.timed("delete the old index", self.meili.client.delete_index(&self.uid)).await?;
            self.meili.wait("delete the old index", task).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{AgentId, ContactId, InstitutionId};

    #[test]
    fn filters_are_typed_and_quoted() {
        let filters = Filters {
            statuses: vec![TicketStatus::Open, TicketStatus::OnHold],
            plans: vec!["managed\" OR id > 0".into()],
            tags: vec!["relay".into()],
            assignee: Some(AssigneeFilter::Unassigned),
            institution_id: Some(InstitutionId(4)),
            ..Filters::default()
        };
        let scope = Scope::Customer { contact_id: ContactId(9), institution_id: Some(InstitutionId(4)) };
        assert_eq!(
            filter_expression(&filters, scope),
            "(status IN [\"open\", \"on_hold\"]) AND (plan IN [\"managed\\\" OR id > 0\"]) AND (tags = \"relay\") \
             AND (institution_id = 4) AND (assignee_id IS NULL) AND (requester_id = 9 OR institution_id = 4)"
        );
        let agent = Filters { assignee: Some(AssigneeFilter::Agent(AgentId(2))), ..Filters::default() };
        assert_eq!(filter_expression(&agent, Scope::Agent), "(assignee_id = 2)");
        assert_eq!(filter_expression(&Filters::default(), Scope::Agent), "");
    }

    #[test]
    fn highlights_become_marks_in_escaped_text() {
        assert_eq!(
            marked_html("a <b> \u{E000}relay\u{E001} & \u{E001}x\u{E000}lyon"),
            "a &lt;b&gt; <mark>relay</mark> &amp; x<mark>lyon</mark>"
        );
    }

    /// A stand-in for Meilisearch answering with canned JSON in the
    /// server's documented formats, to check the client side: a failed
    /// settings task must come back as an error with the server's message.
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

    fn stub(routes: Vec<(&'static str, &'static str, u16, &'static str)>) -> (u16, Seen) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Seen = Default::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let mut length = 0usize;
                let mut chunked = false;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                while chunked {
                    let mut size = String::new();
                    reader.read_line(&mut size).unwrap();
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0; n + 2];
                    reader.read_exact(&mut chunk).unwrap();
                    body.extend_from_slice(&chunk[..n]);
                    chunked = n > 0;
                }
                let mut parts = first.split_whitespace();
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                log.lock().unwrap().push((format!("{method} {path}"), String::from_utf8_lossy(&body).into_owned()));
                let (status, json) = routes
                    .iter()
                    .find(|(m, p, _, _)| *m == method && path.starts_with(p))
                    .map(|(_, _, s, j)| (*s, *j))
                    .unwrap_or((
                        404,
                        r#"{"message":"no route","code":"not_found","type":"invalid_request","link":""}"#,
                    ));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
            }
        });
        (port, seen)
    }

    #[test]
    fn a_failed_settings_task_is_an_error_with_the_server_message() {
        const INDEX: &str = r#"{"uid":"tusk_t","primaryKey":"id","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}"#;
        const ENQUEUED: &str = r#"{"taskUid":7,"indexUid":"tusk_t","status":"enqueued","type":"settingsUpdate","enqueuedAt":"2026-01-01T00:00:00Z"}"#;
        const FAILED: &str = r#"{"uid":7,"indexUid":"tusk_t","status":"failed","type":"settingsUpdate","canceledBy":null,"details":{},"error":{"message":"Invalid ranking rule `sorted`.","code":"invalid_settings_ranking_rules","type":"invalid_request","link":"https://docs.meilisearch.com/errors#invalid_settings_ranking_rules"},"duration":"PT0.001S","enqueuedAt":"2026-01-01T00:00:00Z","startedAt":"2026-01-01T00:00:00Z","finishedAt":"2026-01-01T00:00:01Z"}"#;
        const SUCCEEDED: &str = r#"{"uid":7,"indexUid":"tusk_t","status":"succeeded","type":"settingsUpdate","canceledBy":null,"details":{},"error":null,"duration":"PT0.001S","enqueuedAt":"2026-01-01T00:00:00Z","startedAt":"2026-01-01T00:00:00Z","finishedAt":"2026-01-01T00:00:01Z"}"#;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for (task, ok) in [(FAILED, false), (SUCCEEDED, true)] {
            let (port, _) = stub(vec![
                ("GET", "/indexes/tusk_t", 200, INDEX),
                ("PATCH", "/indexes/tusk_t/settings", 202, ENQUEUED),
                ("GET", "/tasks/7", 200, task),
            ]);
            let meili =
                Meili::new(&format!("http://127.0.0.1:{port}"), Some("key"), "tusk_t", Duration::from_secs(5)).unwrap();
            let result = rt.block_on(meili.prepare());
            if ok {
                result.unwrap();
            } else {
                let e = result.unwrap_err();
                assert_eq!(e.kind, crate::ErrorKind::Unavailable);
                let cause = format!("{:#}", e.cause().unwrap());
                assert!(cause.contains("Invalid ranking rule `sorted`."), "{cause}");
            }
        }
    }

    #[test]
    fn customer_queries_exclude_notes_and_hits_are_escaped() {
        const RESULTS: &str = r#"{"hits":[{"id":5,"number":1005,"subject":"Relay <b>down</b>","status":"open","priority":"high","institution_name":"Lyon","instance_domain":null,"updated_at":1767225600,"body_public":"x","_formatted":{"subject":"Relay <b>down</b>","body_public":"…the \ue000relay\ue001 <script> is…"}}],"query":"relay","processingTimeMs":1,"hitsPerPage":20,"page":1,"totalPages":1,"totalHits":1}"#;
        let (port, seen) = stub(vec![("POST", "/indexes/tusk_t/search", 200, RESULTS)]);
        let meili = Meili::new(&format!("http://127.0.0.1:{port}"), None, "tusk_t", Duration::from_secs(5)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut request = SearchRequest::agent("relay");
        request.scope = Scope::Customer { contact_id: crate::db::ContactId(3), institution_id: None };
        let results = rt.block_on(meili.search(request)).unwrap();
        assert_eq!(results.total, 1);
        let hit = &results.hits[0];
        assert_eq!((hit.ticket_id, hit.number, hit.status), (TicketId(5), 1005, TicketStatus::Open));
        assert_eq!(hit.snippet_html, "…the <mark>relay</mark> &lt;script&gt; is…");
        assert_eq!(hit.updated_at.and_utc().timestamp(), 1_767_225_600);
        let seen = seen.lock().unwrap();
        let body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
        assert_eq!(body["q"], "relay");
        assert_eq!(body["filter"], "(requester_id = 3)");
        assert_eq!(body["matchingStrategy"], "all");
        let on: Vec<&str> =
            body["attributesToSearchOn"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(on, SEARCHABLE_BY_CUSTOMERS);
        assert!(!seen[0].1.contains("body_notes"), "notes are not searched, retrieved or highlighted: {}", seen[0].1);
        assert!(body.get("sort").is_none(), "relevance order");
    }

    #[test]
    fn settings_name_every_filter_used() {
        let s = settings();
        assert_eq!(s.sortable_attributes.as_deref(), Some(&["updated_at".to_string(), "created_at".to_string()][..]));
        assert_eq!(s.ranking_rules.as_ref().map(|r| r[0].as_str()), Some("sort"));
        let json = serde_json::to_value(&s).unwrap();
        for f in FILTERABLE {
            assert!(json["filterableAttributes"].as_array().unwrap().iter().any(|v| v == f), "{f}");
        }
        assert!(!SEARCHABLE_BY_CUSTOMERS.contains(&"body_notes"));
    }
}
