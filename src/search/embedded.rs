//! The embedded backend: a tantivy index under `data_dir/search`.
//!
//! # Layout and the rebuild swap
//! ```text
//! data_dir/search/
//!   CURRENT             name of the serving index directory (replaced atomically)
//!   index-<id>/         the serving index
//!   build-<id>/         an index being rebuilt by `tusk search reindex`
//!   .lock               held briefly while CURRENT is created or replaced
//! ```
//! tantivy allows one `IndexWriter` per directory, and `tusk serve`'s indexer
//! holds the writer of the serving index. `tusk search reindex` therefore
//! never writes into it: it builds a complete index in a fresh `build-<id>`
//! directory (its own writer), renames it `index-<id>`, and replaces
//! `CURRENT` (write a temporary file, fsync, rename, fsync the directory).
//! A serving process re-reads `CURRENT` before every indexer batch and at
//! most every [`RECHECK`] before a search: when it names another directory,
//! searches move to it and the indexer drops its old writer, opens one on the
//! new directory and deletes the old one. Changes indexed into the old index
//! while the rebuild ran are replayed by the reindex (see
//! [`super::reindex`]), so nothing is lost across the swap.
//!
//! Only one process may run the indexer over a data directory (the embedded
//! engine is for single-process installs; use Meilisearch to scale out). A
//! second writer fails with tantivy's lock error, which the indexer treats
//! like an engine outage: the rows wait in the outbox.

use std::io::Write as _;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

use super::highlight::{self, QueryWord};
use super::{
    AssigneeFilter, BoxFuture, Hit, IndexBatch, Rebuild, Scope, Search, SearchRequest, SearchResults, SortOrder,
    TicketDoc, engine_error, from_secs,
};
use crate::config::Config;
use crate::db::{TicketId, TicketStatus};
use crate::error::{AppError, AppResult};

/// How often a search checks whether a rebuild replaced the index.
pub const RECHECK: Duration = Duration::from_millis(500);
/// Memory of the serving indexer's writer (one thread).
const INDEXER_HEAP_BYTES: usize = 32 * 1024 * 1024;
/// `assignee_id` stored for an unassigned ticket.
const UNASSIGNED: i64 = -1;
/// Abandoned `build-*` directories older than this are removed at start.
const STALE_BUILD: Duration = Duration::from_secs(24 * 3600);

/// Settings of the embedded engine.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Writer memory of `tusk search reindex` (split over its threads).
    pub rebuild_heap_bytes: usize,
}

impl EmbeddedOptions {
    pub fn from_config(config: &Config) -> EmbeddedOptions {
        EmbeddedOptions { rebuild_heap_bytes: config.search.reindex_heap_mb.saturating_mul(1024 * 1024) }
    }
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions { rebuild_heap_bytes: 256 * 1024 * 1024 }
    }
}

/// The fields of the index.
#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    number: Field,
    numbers: Field,
    subject: Field,
    text_public: Field,
    text_notes: Field,
    body_public: Field,
    body_notes: Field,
    institution_name: Field,
    instance_domain: Field,
    status: Field,
    priority: Field,
    plan: Field,
    tags: Field,
    institution_id: Field,
    instance_id: Field,
    assignee_id: Field,
    requester_id: Field,
    created_at: Field,
    updated_at: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words =
        TextFieldIndexing::default().set_tokenizer(highlight::ANALYZER).set_index_option(IndexRecordOption::WithFreqs);
    let text = TextOptions::default().set_indexing_options(words);
    let stored_text = TextOptions::default().set_stored();
    let fields = Fields {
        id: b.add_i64_field("id", INDEXED | STORED | FAST),
        number: b.add_i64_field("number", STORED),
        numbers: b.add_i64_field("numbers", INDEXED),
        subject: b.add_text_field("subject", text.clone().set_stored()),
        text_public: b.add_text_field("text_public", text.clone()),
        text_notes: b.add_text_field("text_notes", text),
        body_public: b.add_text_field("body_public", stored_text.clone()),
        body_notes: b.add_text_field("body_notes", stored_text.clone()),
        institution_name: b.add_text_field("institution_name", stored_text.clone()),
        instance_domain: b.add_text_field("instance_domain", stored_text),
        status: b.add_text_field("status", STRING | STORED),
        priority: b.add_text_field("priority", STRING | STORED),
        plan: b.add_text_field("plan", STRING),
        tags: b.add_text_field("tags", STRING),
        institution_id: b.add_i64_field("institution_id", INDEXED),
        instance_id: b.add_i64_field("instance_id", INDEXED),
        assignee_id: b.add_i64_field("assignee_id", INDEXED),
        requester_id: b.add_i64_field("requester_id", INDEXED),
        created_at: b.add_i64_field("created_at", INDEXED | FAST),
        updated_at: b.add_i64_field("updated_at", INDEXED | FAST | STORED),
    };
    (b.build(), fields)
}

/// One index directory, open for searching.
struct Generation {
    name: String,
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

struct Inner {
    root: PathBuf,
    options: EmbeddedOptions,
    current: RwLock<Arc<Generation>>,
    /// When `CURRENT` was last read; `None` forces a read.
    checked: Mutex<Option<Instant>>,
    /// The serving writer and the generation it writes.
    writer: Mutex<Option<(String, IndexWriter)>>,
}

/// The embedded engine. Cheap to share (`Arc`).
pub struct Embedded {
    inner: Arc<Inner>,
}

fn io_error(what: &str, path: &Path, e: impl std::fmt::Display) -> AppError {
    engine_error(&format!("{what} {}", path.display()), e)
}

fn lock_root(root: &Path) -> AppResult<std::fs::File> {
    let path = root.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error("cannot open", &path, e))?;
    file.lock().map_err(|e| io_error("cannot lock", &path, e))?;
    Ok(file)
}

fn read_current(root: &Path) -> AppResult<Option<String>> {
    match std::fs::read_to_string(root.join("CURRENT")) {
        Ok(s) => {
            let name = s.trim().to_string();
            let valid = name.starts_with("index-")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && root.join(&name).is_dir();
            Ok(valid.then_some(name))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("cannot read", &root.join("CURRENT"), e)),
    }
}

/// Replaces `CURRENT` atomically and durably.
fn write_current(root: &Path, name: &str) -> AppResult<()> {
    let tmp = root.join("CURRENT.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error("cannot create", &tmp, e))?;
    f.write_all(name.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| io_error("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, root.join("CURRENT")).map_err(|e| io_error("cannot replace", &root.join("CURRENT"), e))?;
    if let Ok(dir) = std::fs::File::open(root) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn new_id() -> String {
    format!("{}-{:08x}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f"), rand::random::<u32>())
}

fn create_index(dir: &Path) -> AppResult<Index> {
    std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create", dir, e))?;
    let (schema, _) = schema();
    let index = Index::create_in_dir(dir, schema).map_err(|e| io_error("cannot create the index in", dir, e))?;
    index.tokenizers().register(highlight::ANALYZER, highlight::analyzer());
    Ok(index)
}

fn open_generation(root: &Path, name: &str) -> AppResult<Generation> {
    let dir = root.join(name);
    let index = Index::open_in_dir(&dir).map_err(|e| io_error("cannot open the index in", &dir, e))?;
    let (expected, fields) = schema();
    if index.schema() != expected {
        return Err(engine_error(
            &format!("the index in {} has another format", dir.display()),
            "run `tusk search reindex`",
        ));
    }
    index.tokenizers().register(highlight::ANALYZER, highlight::analyzer());
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|e| io_error("cannot read the index in", &dir, e))?;
    Ok(Generation { name: name.to_string(), index, reader, fields })
}

/// Removes index directories other than `current`, and stale builds.
fn collect_garbage(root: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale_build = name.starts_with("build-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age > STALE_BUILD);
        if (name.starts_with("index-") && name != current) || stale_build {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => tracing::info!(dir = %entry.path().display(), "removed an old search index"),
                Err(e) => {
                    tracing::warn!(dir = %entry.path().display(), error = %e, "cannot remove an old search index")
                }
            }
        }
    }
}

impl Embedded {
    /// Opens the index under `root`, creating an empty one when there is
    /// none (or when the existing one has an older format: `tusk search
    /// reindex` then fills it).
    pub fn open(root: &Path, options: EmbeddedOptions) -> AppResult<Embedded> {
        std::fs::create_dir_all(root).map_err(|e| io_error("cannot create", root, e))?;
        let lock = lock_root(root)?;
        let generation = match read_current(root)? {
            Some(name) => match open_generation(root, &name) {
                Ok(g) => Some(g),
                Err(e) => {
                    tracing::warn!(error = ?e, "starting a new, empty search index; run `tusk search reindex`");
                    None
                }
            },
            None => None,
        };
        let generation = match generation {
            Some(g) => g,
            None => {
                let name = format!("index-{}", new_id());
                create_index(&root.join(&name))?;
                write_current(root, &name)?;
                open_generation(root, &name)?
            }
        };
        collect_garbage(root, &generation.name);
        drop(lock);
        Ok(Embedded {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                options,
                current: RwLock::new(Arc::new(generation)),
                checked: Mutex::new(Some(Instant::now())),
                writer: Mutex::new(None),
            }),
        })
    }

    /// The directory holding the index generations.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Bytes on disk of the serving index.
    pub fn size_on_disk(&self) -> u64 {
        let name = self.inner.generation(false).map(|g| g.name.clone()).unwrap_or_default();
        dir_size(&self.inner.root.join(name))
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}

impl Inner {
    /// The serving generation, re-reading `CURRENT` when `force`d or when
    /// [`RECHECK`] has passed.
    fn generation(&self, force: bool) -> AppResult<Arc<Generation>> {
        let due = {
            let mut checked = self.checked.lock().map_err(|_| engine_error("search index", "poisoned lock"))?;
            let due = force || checked.is_none_or(|at| at.elapsed() >= RECHECK);
            if due {
                *checked = Some(Instant::now());
            }
            due
        };
        let current = self.current.read().map_err(|_| engine_error("search index", "poisoned lock"))?.clone();
        if !due {
            return Ok(current);
        }
        match read_current(&self.root)? {
            Some(name) if name != current.name => {
                let next = Arc::new(open_generation(&self.root, &name)?);
                tracing::info!(index = %name, "search index replaced by a rebuild");
                *self.current.write().map_err(|_| engine_error("search index", "poisoned lock"))? = next.clone();
                Ok(next)
            }
            _ => Ok(current),
        }
    }

    fn invalidate(&self) {
        if let Ok(mut checked) = self.checked.lock() {
            *checked = None;
        }
    }

    fn apply(&self, batch: &IndexBatch) -> AppResult<()> {
        let mut slot = self.writer.lock().map_err(|_| engine_error("search index", "poisoned lock"))?;
        // Read CURRENT after the rows were claimed: rows queued after a
        // rebuild's swap always go to the new index.
        let generation = self.generation(true)?;
        if slot.as_ref().is_none_or(|(name, _)| *name != generation.name) {
            if let Some((old, writer)) = slot.take() {
                drop(writer);
                if old != generation.name {
                    let dir = self.root.join(&old);
                    if let Err(e) = std::fs::remove_dir_all(&dir) {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the replaced search index");
                    }
                }
            }
            let writer: IndexWriter = generation
                .index
                .writer_with_num_threads(1, INDEXER_HEAP_BYTES)
                .map_err(|e| engine_error("cannot open the search index for writing", e))?;
            *slot = Some((generation.name.clone(), writer));
        }
        let Some((_, writer)) = slot.as_mut() else {
            return Err(engine_error("search index", "no writer"));
        };
        let f = generation.fields;
        let result = (|| -> tantivy::Result<()> {
            for id in batch.deletes.iter().map(|t| t.0).chain(batch.upserts.iter().map(|d| d.id)) {
                writer.delete_term(Term::from_field_i64(f.id, id));
            }
            for doc in &batch.upserts {
                writer.add_document(to_tantivy(&f, doc))?;
            }
            writer.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            // A writer whose commit failed is not reused.
            *slot = None;
            return Err(engine_error("cannot write the search index", e));
        }
        generation.reader.reload().map_err(|e| engine_error("cannot reload the search index", e))?;
        Ok(())
    }

    fn search(&self, request: &SearchRequest) -> AppResult<SearchResults> {
        let request = request.normalized();
        let generation = self.generation(false)?;
        let f = generation.fields;
        let searcher = generation.reader.searcher();
        let words = highlight::query_words(&request.text);
        let query = build_query(&f, &request, &words);
        let limit = request.per_page as usize;
        let offset = request.offset();
        let by_relevance = request.sort == SortOrder::Relevance && !words.is_empty();
        let (total, addresses): (usize, Vec<DocAddress>) = if by_relevance {
            let (total, top) = searcher
                .search(&query, &(Count, TopDocs::with_limit(limit).and_offset(offset)))
                .map_err(|e| engine_error("search failed", e))?;
            (total, top.into_iter().map(|(_, a)| a).collect())
        } else {
            let collector =
                TopDocs::with_limit(limit).and_offset(offset).order_by_fast_field::<i64>("updated_at", Order::Desc);
            let (total, top) =
                searcher.search(&query, &(Count, collector)).map_err(|e| engine_error("search failed", e))?;
            (total, top.into_iter().map(|(_, a)| a).collect())
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| engine_error("search failed", e))?;
            hits.push(to_hit(&f, &doc, &words, request.scope));
        }
        Ok(SearchResults { total: total as u64, page: request.page, per_page: request.per_page, hits })
    }
}

fn to_tantivy(f: &Fields, d: &TicketDoc) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_i64(f.id, d.id);
    doc.add_i64(f.number, d.number);
    for n in &d.numbers {
        doc.add_i64(f.numbers, *n);
    }
    doc.add_text(f.subject, &d.subject);
    for text in [&d.subject, &d.body_public, &d.requester_name, &d.requester_email] {
        doc.add_text(f.text_public, text);
    }
    for text in [&d.institution_name, &d.instance_domain].into_iter().flatten() {
        doc.add_text(f.text_public, text);
    }
    for tag in &d.tags {
        doc.add_text(f.text_public, tag);
        doc.add_text(f.tags, tag);
    }
    doc.add_text(f.text_notes, &d.body_notes);
    doc.add_text(f.body_public, &d.body_public);
    doc.add_text(f.body_notes, &d.body_notes);
    if let Some(name) = &d.institution_name {
        doc.add_text(f.institution_name, name);
    }
    if let Some(domain) = &d.instance_domain {
        doc.add_text(f.instance_domain, domain);
    }
    doc.add_text(f.status, d.status.as_str());
    doc.add_text(f.priority, d.priority.as_str());
    doc.add_text(f.plan, &d.plan);
    if let Some(id) = d.institution_id {
        doc.add_i64(f.institution_id, id);
    }
    if let Some(id) = d.instance_id {
        doc.add_i64(f.instance_id, id);
    }
    doc.add_i64(f.assignee_id, d.assignee_id.unwrap_or(UNASSIGNED));
    doc.add_i64(f.requester_id, d.requester_id);
    doc.add_i64(f.created_at, d.created_at);
    doc.add_i64(f.updated_at, d.updated_at);
    doc
}

fn text_of(doc: &TantivyDocument, field: Field) -> Option<&str> {
    doc.get_first(field).and_then(|v| v.as_str())
}

fn to_hit(f: &Fields, doc: &TantivyDocument, words: &[QueryWord], scope: Scope) -> Hit {
    let subject = text_of(doc, f.subject).unwrap_or_default();
    let body_public = text_of(doc, f.body_public).unwrap_or_default();
    let mut snippet = highlight::snippet(body_public, words);
    if snippet.is_none() && scope.is_agent() {
        snippet = highlight::snippet(text_of(doc, f.body_notes).unwrap_or_default(), words);
    }
    let snippet_html = snippet
        .or_else(|| highlight::snippet(subject, words))
        .unwrap_or_else(|| highlight::lead(if body_public.is_empty() { subject } else { body_public }));
    let id = doc.get_first(f.id).and_then(|v| v.as_i64()).unwrap_or_default();
    Hit {
        ticket_id: TicketId(id),
        number: doc.get_first(f.number).and_then(|v| v.as_i64()).unwrap_or_default(),
        subject: subject.to_string(),
        status: text_of(doc, f.status).and_then(|s| s.parse().ok()).unwrap_or(TicketStatus::Open),
        priority: text_of(doc, f.priority).and_then(|s| s.parse().ok()).unwrap_or(crate::db::Priority::Normal),
        institution_name: text_of(doc, f.institution_name).map(str::to_string),
        instance_domain: text_of(doc, f.instance_domain).map(str::to_string),
        updated_at: from_secs(doc.get_first(f.updated_at).and_then(|v| v.as_i64()).unwrap_or_default()),
        snippet_html,
    }
}

fn term_i64(field: Field, value: i64) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_i64(field, value), IndexRecordOption::Basic))
}

fn term_str(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

fn any_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(queries.into_iter().map(|q| (Occur::Should, q)).collect()))
}

fn range(field: Field, (from, to): (Option<i64>, Option<i64>)) -> Box<dyn Query> {
    let lower = from.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(field, v)));
    let upper = to.map_or(Bound::Unbounded, |v| Bound::Excluded(Term::from_field_i64(field, v)));
    Box::new(RangeQuery::new(lower, upper))
}

/// The engine query for a normalised request: every query word must match
/// (exactly, with typos, or as a prefix) in a searchable field of the scope;
/// filters and the scope are unscored conditions.
fn build_query(f: &Fields, request: &SearchRequest, words: &[QueryWord]) -> Box<dyn Query> {
    let mut must: Vec<Box<dyn Query>> = Vec::new();
    let mut searched = vec![(f.subject, 3.0f32), (f.text_public, 1.0)];
    if request.scope.is_agent() {
        searched.push((f.text_notes, 1.0));
    }
    for word in words {
        let mut alternatives: Vec<Box<dyn Query>> = Vec::new();
        for &(field, boost) in &searched {
            let term = Term::from_field_text(field, &word.text);
            alternatives.push(Box::new(BoostQuery::new(
                Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                boost * 2.0,
            )));
            if word.prefix {
                alternatives.push(Box::new(BoostQuery::new(
                    Box::new(FuzzyTermQuery::new_prefix(term, word.typos, true)),
                    boost,
                )));
            } else if word.typos > 0 {
                alternatives
                    .push(Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(term, word.typos, true)), boost)));
            }
        }
        if let Ok(n) = word.text.parse::<i64>() {
            alternatives.push(Box::new(BoostQuery::new(term_i64(f.numbers, n), 10.0)));
        }
        must.push(any_of(alternatives));
    }
    let mut conditions: Vec<Box<dyn Query>> = Vec::new();
    let filters = &request.filters;
    if !filters.statuses.is_empty() {
        conditions.push(any_of(filters.statuses.iter().map(|s| term_str(f.status, s.as_str())).collect()));
    }
    if !filters.priorities.is_empty() {
        conditions.push(any_of(filters.priorities.iter().map(|p| term_str(f.priority, p.as_str())).collect()));
    }
    if !filters.plans.is_empty() {
        conditions.push(any_of(filters.plans.iter().map(|p| term_str(f.plan, p)).collect()));
    }
    for tag in &filters.tags {
        conditions.push(term_str(f.tags, tag));
    }
    if let Some(id) = filters.institution_id {
        conditions.push(term_i64(f.institution_id, id.0));
    }
    if let Some(id) = filters.instance_id {
        conditions.push(term_i64(f.instance_id, id.0));
    }
    if let Some(id) = filters.requester_id {
        conditions.push(term_i64(f.requester_id, id.0));
    }
    match filters.assignee {
        Some(AssigneeFilter::Agent(id)) => conditions.push(term_i64(f.assignee_id, id.0)),
        Some(AssigneeFilter::Unassigned) => conditions.push(term_i64(f.assignee_id, UNASSIGNED)),
        None => {}
    }
    if !filters.created.is_open() {
        conditions.push(range(f.created_at, filters.created.secs()));
    }
    if !filters.updated.is_open() {
        conditions.push(range(f.updated_at, filters.updated.secs()));
    }
    if let Scope::Customer { contact_id, institution_id } = request.scope {
        let mut own = vec![term_i64(f.requester_id, contact_id.0)];
        if let Some(institution) = institution_id {
            own.push(term_i64(f.institution_id, institution.0));
        }
        conditions.push(any_of(own));
    }
    if must.is_empty() {
        must.push(Box::new(AllQuery));
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = must.into_iter().map(|q| (Occur::Must, q)).collect();
    clauses.extend(
        conditions.into_iter().map(|q| (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>)),
    );
    Box::new(BooleanQuery::new(clauses))
}

impl Search for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn prepare(&self) -> BoxFuture<'_, AppResult<()>> {
        // Opening created the index; the schema is fixed in code.
        Box::pin(async { Ok(()) })
    }

    fn apply(&self, batch: IndexBatch) -> BoxFuture<'_, AppResult<()>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(());
            }
            tokio::task::spawn_blocking(move || inner.apply(&batch))
                .await
                .map_err(|e| engine_error("search index task failed", e))?
        })
    }

    fn search(&self, request: SearchRequest) -> BoxFuture<'_, AppResult<SearchResults>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.search(&request))
                .await
                .map_err(|e| engine_error("search task failed", e))?
        })
    }

    fn count(&self) -> BoxFuture<'_, AppResult<u64>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || Ok(inner.generation(true)?.reader.searcher().num_docs()))
                .await
                .map_err(|e| engine_error("search index task failed", e))?
        })
    }

    fn begin_rebuild(&self) -> BoxFuture<'_, AppResult<Box<dyn Rebuild>>> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let id = new_id();
            let dir = inner.root.join(format!("build-{id}"));
            let index = create_index(&dir)?;
            let writer: IndexWriter = index
                .writer(inner.options.rebuild_heap_bytes.max(30 * 1024 * 1024))
                .map_err(|e| engine_error("cannot write the new search index", e))?;
            let (_, fields) = schema();
            Ok(Box::new(EmbeddedRebuild { inner, id, dir, writer: Some(writer), fields, published: false })
                as Box<dyn Rebuild>)
        })
    }
}

struct EmbeddedRebuild {
    inner: Arc<Inner>,
    id: String,
    dir: PathBuf,
    writer: Option<IndexWriter>,
    fields: Fields,
    published: bool,
}

impl Rebuild for EmbeddedRebuild {
    fn add(&mut self, docs: Vec<TicketDoc>) -> BoxFuture<'_, AppResult<()>> {
        Box::pin(async move {
            let writer = self.writer.take().ok_or_else(|| engine_error("rebuild", "already finished"))?;
            let fields = self.fields;
            let (writer, result) = tokio::task::spawn_blocking(move || {
                let mut result = Ok(());
                for doc in &docs {
                    if let Err(e) = writer.add_document(to_tantivy(&fields, doc)) {
                        result = Err(engine_error("cannot add to the new search index", e));
                        break;
                    }
                }
                (writer, result)
            })
            .await
            .map_err(|e| engine_error("search index task failed", e))?;
            self.writer = Some(writer);
            result
        })
    }

    fn publish(mut self: Box<Self>) -> BoxFuture<'static, AppResult<()>> {
        Box::pin(async move {
            let mut writer = self.writer.take().ok_or_else(|| engine_error("rebuild", "already finished"))?;
            let inner = self.inner.clone();
            let build_dir = self.dir.clone();
            let name = format!("index-{}", self.id);
            let result = tokio::task::spawn_blocking(move || -> AppResult<()> {
                writer.commit().map_err(|e| engine_error("cannot commit the new search index", e))?;
                writer.wait_merging_threads().map_err(|e| engine_error("cannot finish the new search index", e))?;
                let target = inner.root.join(&name);
                std::fs::rename(&build_dir, &target).map_err(|e| io_error("cannot rename", &build_dir, e))?;
                let lock = lock_root(&inner.root)?;
                write_current(&inner.root, &name)?;
                drop(lock);
                inner.invalidate();
                Ok(())
            })
            .await
            .map_err(|e| engine_error("search index task failed", e))?;
            if result.is_ok() {
                self.published = true;
            }
            result
        })
    }
}

impl Drop for EmbeddedRebuild {
    fn drop(&mut self) {
        if !self.published {
            self.writer.take();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_directory_reads_the_same_index() {
        let dir = tempfile::tempdir().unwrap();
        let a = Embedded::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let b = Embedded::open(dir.path(), EmbeddedOptions::default()).unwrap();
        assert_eq!(a.inner.generation(true).unwrap().name, b.inner.generation(true).unwrap().name);
        let current = std::fs::read_to_string(dir.path().join("CURRENT")).unwrap();
        assert!(current.starts_with("index-"));
    }
}
