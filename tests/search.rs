//! Search: one contract suite run against both engines (embedded always;
//! Meilisearch when `TUSK_TEST_MEILISEARCH_URL` and `TUSK_TEST_MEILISEARCH_KEY`
//! are set), on both databases; the outbox queue; faults; reindex while
//! serving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use common::{TestDb, plans};
use diesel::prelude::*;
use tusk::db::models::Ticket;
use tusk::db::schema::{search_outbox, tickets as tickets_t};
use tusk::db::{
    AgentId, AnyConnection, Channel, ContactId, MessageKind, Priority, Role, SearchOp, TicketId, TicketStatus,
};
use tusk::domain::instances::{self, InstanceInput};
use tusk::domain::institutions::{self, InstitutionInput};
use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
use tusk::domain::{Actor, agents, contacts, merge, outbox};
use tusk::search::embedded::{Embedded, EmbeddedOptions};
use tusk::search::indexer::{self, Indexer, IndexerSettings};
use tusk::search::meili::Meili;
use tusk::search::{AssigneeFilter, Filters, Scope, Search, SearchRequest, SearchResults, SortOrder, TimeRange};

on_both_backends!(
    contract_embedded,
    contract_meilisearch,
    embedded_outage_converges,
    meilisearch_outage_keeps_the_outbox,
    outbox_claims_are_exclusive_and_token_bound,
    reindex_while_serving_embedded,
    reindex_cli_builds_the_index,
    serve_indexes_and_reindex_runs_beside_it,
    api_search_answers_with_snippets_and_problems,
);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn settings() -> IndexerSettings {
    IndexerSettings {
        batch_size: 50,
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(60),
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_secs(1),
        default_plan: "single".into(),
    }
}

fn embedded(db: &TestDb) -> Arc<dyn Search> {
    Arc::new(Embedded::open(&db.dir.path().join("search"), EmbeddedOptions::default()).unwrap())
}

/// A Meilisearch engine on a fresh index, or `None` (reported SKIPPED).
fn meilisearch(test: &str) -> Option<(Arc<Meili>, String)> {
    let (Ok(url), Ok(key)) = (std::env::var("TUSK_TEST_MEILISEARCH_URL"), std::env::var("TUSK_TEST_MEILISEARCH_KEY"))
    else {
        eprintln!(
            "SKIPPED {test}: Meilisearch contract not run (set TUSK_TEST_MEILISEARCH_URL and TUSK_TEST_MEILISEARCH_KEY)"
        );
        return None;
    };
    let index = format!("tusk_test_{:016x}", rand::random::<u64>());
    Some((Arc::new(Meili::new(&url, Some(&key), &index, Duration::from_secs(60)).unwrap()), index))
}

// ---------------------------------------------------------------------------
// A small world.

struct World {
    agent: AgentId,
    alice: ContactId, // Lyon, plain contact
    bob: ContactId,   // Lyon, institution admin
    carol: ContactId, // Northvale
    lyon: tusk::db::InstitutionId,
    northvale: tusk::db::InstitutionId,
    t1: Ticket, // alice, Lyon, instance (plan single), high, assigned, tag federation, with a note
    t2: Ticket, // bob, Lyon, no instance (plan managed), normal
    t3: Ticket, // carol, Northvale, low, html in body
    t4: Ticket, // carol, Northvale, duplicate of t3 (merged later)
}

/// Day `n` of the world's history (fixed dates, so filters can name them).
fn day(n: u64) -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap().and_hms_opt(9, 0, 0).unwrap() + chrono::Days::new(n)
}

fn message(kind: MessageKind, author: Author, body: &str, at: NaiveDateTime) -> MessageInput {
    let mut m = MessageInput::new(kind, author, body, tickets::generate_message_id("test.example"));
    m.at = Some(at);
    m
}

fn open_ticket(requester: ContactId, subject: &str, body: &str, priority: Priority, at: NaiveDateTime) -> TicketInput {
    TicketInput {
        subject: subject.into(),
        requester,
        institution: None,
        institution_from_requester: true,
        instance: None,
        priority,
        category: None,
        channel: Channel::Email,
        status: None,
        assignee: None,
        tags: Vec::new(),
        triage_reason: None,
        first_message: message(MessageKind::Inbound, Author::Contact(requester), body, at),
    }
}

fn world(conn: &mut AnyConnection) -> World {
    let institution = |conn: &mut AnyConnection, slug: &str, name: &str, plan: &str, domain: &str| {
        institutions::upsert(
            conn,
            &plans(),
            &InstitutionInput {
                slug: slug.into(),
                name: name.into(),
                default_plan: Some(plan.into()),
                status: None,
                domains: Some(vec![domain.into()]),
            },
            Actor::System,
        )
        .unwrap()
        .0
    };
    let lyon = institution(conn, "uni-lyon", "Université de Lyon", "managed", "univ-lyon.example");
    let northvale = institution(conn, "northvale", "Northvale College", "single", "northvale.example");
    let (instance, _) = instances::upsert(
        conn,
        &plans(),
        &InstanceInput {
            domain: "social.univ-lyon.example".into(),
            institution_slug: "uni-lyon".into(),
            plan: Some("single".into()),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap();
    let alice = contacts::find_or_create(conn, "alice@univ-lyon.example", Some("Alice Martin"), Actor::System).unwrap();
    let bob = contacts::find_or_create(conn, "bob@univ-lyon.example", Some("Bob Durand"), Actor::System).unwrap();
    contacts::set_institution_admin(conn, bob.id, true, Actor::System).unwrap();
    let carol = contacts::find_or_create(conn, "carol@northvale.example", Some("Carol Reed"), Actor::System).unwrap();
    let agent = agents::create(conn, "agent@tusk.example", "Ada Agent", Role::Agent, "pw-long-enough", Actor::System)
        .unwrap()
        .id;

    let mut input = open_ticket(
        alice.id,
        "Federation relay problem",
        "Our posts no longer reach the federation relay since spring.",
        Priority::High,
        day(1),
    );
    input.instance = Some(instance.id);
    input.assignee = Some(agent);
    input.tags = vec!["federation".into()];
    let (t1, _) = tickets::create(conn, input, Actor::System).unwrap();
    tickets::add_message(
        conn,
        t1.id,
        message(MessageKind::Reply, Author::Agent(agent), "We restarted the relay worker.", day(2)),
        Actor::Agent(agent),
    )
    .unwrap();
    tickets::add_message(
        conn,
        t1.id,
        message(MessageKind::Note, Author::Agent(agent), "Internal: zanzibar cluster is on an old version.", day(2)),
        Actor::Agent(agent),
    )
    .unwrap();
    let (t2, _) = tickets::create(
        conn,
        open_ticket(
            bob.id,
            "Media uploads failing",
            "Uploading images fails with error 413.",
            Priority::Normal,
            day(3),
        ),
        Actor::System,
    )
    .unwrap();
    let (t3, _) = tickets::create(
        conn,
        open_ticket(
            carol.id,
            "Relay subscription question",
            "How do we subscribe to a relay? <script>alert('x')</script>",
            Priority::Low,
            day(4),
        ),
        Actor::System,
    )
    .unwrap();
    let (t4, _) = tickets::create(
        conn,
        open_ticket(
            carol.id,
            "Duplicate relay question",
            "Same question about the quokka relay.",
            Priority::Low,
            day(5),
        ),
        Actor::System,
    )
    .unwrap();
    World {
        agent,
        alice: alice.id,
        bob: bob.id,
        carol: carol.id,
        lyon: lyon.id,
        northvale: northvale.id,
        t1: tickets::get(conn, t1.id).unwrap(),
        t2,
        t3,
        t4,
    }
}

// ---------------------------------------------------------------------------
// Helpers.

fn agent(text: &str) -> SearchRequest {
    SearchRequest::agent(text)
}

fn customer(text: &str, contact: ContactId, institution: Option<tusk::db::InstitutionId>) -> SearchRequest {
    SearchRequest { scope: Scope::Customer { contact_id: contact, institution_id: institution }, ..agent(text) }
}

fn filtered(text: &str, filters: Filters) -> SearchRequest {
    SearchRequest { filters, ..agent(text) }
}

fn ids(results: &SearchResults) -> BTreeSet<i64> {
    results.hits.iter().map(|h| h.ticket_id.0).collect()
}

fn set(tickets: &[&Ticket]) -> BTreeSet<i64> {
    tickets.iter().map(|t| t.id.0).collect()
}

async fn drain(db: &TestDb, engine: &Arc<dyn Search>) -> indexer::BatchReport {
    Indexer::new(db.db.clone(), engine.clone(), settings()).run_until_idle().await.unwrap()
}

/// Every live ticket is in the index exactly once, with the database's
/// subject and status, and nothing else is.
async fn assert_index_matches_db(db: &TestDb, engine: &Arc<dyn Search>) {
    let live: Vec<Ticket> = tickets_t::table
        .filter(tickets_t::merged_into_id.is_null())
        .select(Ticket::as_select())
        .load(&mut *db.conn())
        .unwrap();
    let mut all = agent("");
    all.per_page = 100;
    let found = engine.search(all).await.unwrap();
    assert_eq!(found.total as usize, live.len(), "index size");
    assert_eq!(engine.count().await.unwrap() as usize, live.len(), "documents in the index");
    for t in &live {
        let hit = found.hits.iter().find(|h| h.ticket_id == t.id).unwrap_or_else(|| panic!("#{} missing", t.number));
        assert_eq!((hit.number, &hit.subject, hit.status, hit.priority), (t.number, &t.subject, t.status, t.priority));
        assert_eq!(hit.updated_at.and_utc().timestamp(), t.updated_at.and_utc().timestamp());
    }
}

// ---------------------------------------------------------------------------
// The contract.

fn contract_embedded(db: &TestDb) {
    contract(db, embedded(db));
}

fn contract_meilisearch(db: &TestDb) {
    let Some((meili, index)) = meilisearch("contract_meilisearch") else { return };
    contract(db, meili.clone());
    runtime().block_on(async {
        let _ = meilisearch_sdk_cleanup(&index).await;
    });
}

/// Deletes a test index (best effort).
async fn meilisearch_sdk_cleanup(index: &str) -> Option<()> {
    let url = std::env::var("TUSK_TEST_MEILISEARCH_URL").ok()?;
    let key = std::env::var("TUSK_TEST_MEILISEARCH_KEY").ok()?;
    let client = meilisearch_sdk::client::Client::new(url, Some(key)).ok()?;
    client.delete_index(index).await.ok()?;
    Some(())
}

fn contract(db: &TestDb, engine: Arc<dyn Search>) {
    let w = world(&mut db.conn());
    let rt = runtime();
    rt.block_on(async {
        engine.prepare().await.unwrap();
        engine.prepare().await.expect("settings apply idempotently");
        let report = drain(db, &engine).await;
        assert_eq!(report.indexed, 4, "{report:?}");
        assert_eq!(search_outbox::table.count().get_result::<i64>(&mut *db.conn()).unwrap(), 0, "outbox drained");
        assert_index_matches_db(db, &engine).await;
        let run = |r: SearchRequest| {
            let engine = engine.clone();
            async move { engine.search(r).await.unwrap() }
        };

        // Full text over subject and every message, highlighted.
        let relay = run(agent("relay")).await;
        assert_eq!(ids(&relay), set(&[&w.t1, &w.t3, &w.t4]));
        assert_eq!(relay.total, 3);
        let h1 = relay.hits.iter().find(|h| h.ticket_id == w.t1.id).unwrap();
        assert!(h1.snippet_html.contains("<mark>relay</mark>"), "{}", h1.snippet_html);
        assert_eq!(h1.institution_name.as_deref(), Some("Université de Lyon"));
        assert_eq!(h1.instance_domain.as_deref(), Some("social.univ-lyon.example"));
        // Agents' replies are indexed too.
        assert_eq!(ids(&run(agent("restarted worker")).await), set(&[&w.t1]));
        // Typos, prefixes, accents, people, domains, tags.
        assert_eq!(ids(&run(agent("federatoin")).await), set(&[&w.t1]), "one typo");
        assert_eq!(ids(&run(agent("subscriptoin")).await), set(&[&w.t3]), "typo in a long word");
        assert_eq!(ids(&run(agent("uplo")).await), set(&[&w.t2]), "prefix");
        assert_eq!(ids(&run(agent("universite lyon")).await), set(&[&w.t1, &w.t2]), "institution, accent-folded");
        assert_eq!(ids(&run(agent("carol")).await), set(&[&w.t3, &w.t4]), "requester name");
        assert_eq!(ids(&run(agent("bob@univ-lyon.example")).await), set(&[&w.t2]), "requester email");
        assert_eq!(ids(&run(agent("social.univ-lyon.example")).await), set(&[&w.t1]), "instance domain");
        assert!(run(agent("relay zebra ")).await.hits.is_empty(), "every word must match");

        // Snippets are escaped text with only <mark> added.
        let html = run(agent("subscribe ")).await;
        let s = &html.hits[0].snippet_html;
        assert!(s.contains("<mark>subscribe</mark>") && s.contains("&lt;script&gt;"), "{s}");
        assert!(!s.replace("<mark>", "").replace("</mark>", "").contains('<'), "{s}");

        // Notes: agents find them; customers never do, nor see them.
        let note = run(agent("zanzibar")).await;
        assert_eq!(ids(&note), set(&[&w.t1]));
        assert!(note.hits[0].snippet_html.contains("<mark>zanzibar</mark>"), "{}", note.hits[0].snippet_html);
        assert!(run(customer("zanzibar", w.alice, None)).await.hits.is_empty(), "notes never leak to customers");
        let own = run(customer("relay", w.alice, None)).await;
        assert_eq!(ids(&own), set(&[&w.t1]), "a customer sees only their tickets");
        assert_eq!(own.total, 1, "totals count only visible tickets");
        assert!(!own.hits[0].snippet_html.contains("zanzibar") && !own.hits[0].snippet_html.contains("Internal"));
        let cluster = run(customer("cluster", w.alice, None)).await;
        assert!(cluster.hits.is_empty(), "note words do not match for customers");
        // Institution scope: the admin sees the institution's tickets, others not.
        assert!(run(customer("uploads", w.alice, None)).await.hits.is_empty());
        assert_eq!(ids(&run(customer("uploads", w.bob, Some(w.lyon))).await), set(&[&w.t2]));
        assert_eq!(ids(&run(customer("relay", w.bob, Some(w.lyon))).await), set(&[&w.t1]));
        assert_eq!(
            ids(&run(customer("relay", w.carol, None)).await),
            set(&[&w.t3, &w.t4]),
            "other institutions never leak"
        );
        assert_eq!(ids(&run(customer("", w.carol, Some(w.northvale))).await), set(&[&w.t3, &w.t4]));

        // Filters.
        let f = |filters: Filters| filtered("", filters);
        assert_eq!(
            ids(&run(f(Filters { priorities: vec![Priority::High], ..Filters::default() })).await),
            set(&[&w.t1])
        );
        assert_eq!(
            ids(&run(f(Filters { institution_id: Some(w.northvale), ..Filters::default() })).await),
            set(&[&w.t3, &w.t4])
        );
        assert_eq!(ids(&run(f(Filters { instance_id: w.t1.instance_id, ..Filters::default() })).await), set(&[&w.t1]));
        assert_eq!(ids(&run(f(Filters { plans: vec!["managed".into()], ..Filters::default() })).await), set(&[&w.t2]));
        assert_eq!(
            ids(&run(f(Filters { plans: vec!["single".into()], ..Filters::default() })).await),
            set(&[&w.t1, &w.t3, &w.t4]),
            "the instance's plan wins over the institution's"
        );
        assert_eq!(
            ids(&run(f(Filters { assignee: Some(AssigneeFilter::Agent(w.agent)), ..Filters::default() })).await),
            set(&[&w.t1])
        );
        assert_eq!(
            ids(&run(filtered("relay", Filters { assignee: Some(AssigneeFilter::Unassigned), ..Filters::default() }))
                .await),
            set(&[&w.t3, &w.t4])
        );
        assert_eq!(
            ids(&run(f(Filters { tags: vec!["Federation".into()], ..Filters::default() })).await),
            set(&[&w.t1])
        );
        assert_eq!(ids(&run(f(Filters { requester_id: Some(w.bob), ..Filters::default() })).await), set(&[&w.t2]));
        let created = |from: u64, to: u64| Filters {
            created: TimeRange { from: Some(day(from)), to: Some(day(to)) },
            ..Filters::default()
        };
        assert_eq!(ids(&run(f(created(3, 5))).await), set(&[&w.t2, &w.t3]), "created in [day 3, day 5)");
        let injection = Filters { plans: vec!["single\" OR plan = \"managed".into()], ..Filters::default() };
        assert!(run(f(injection)).await.hits.is_empty(), "filter values are data, never syntax");

        // Recency and pagination.
        let mut recent = agent("");
        recent.sort = SortOrder::Recent;
        let order: Vec<i64> = run(recent.clone()).await.hits.iter().map(|h| h.ticket_id.0).collect();
        assert_eq!(order, vec![w.t4.id.0, w.t3.id.0, w.t2.id.0, w.t1.id.0], "newest first");
        let mut page = agent("relay");
        page.sort = SortOrder::Recent;
        page.per_page = 2;
        let first = run(page.clone()).await;
        page.page = 2;
        let second = run(page).await;
        assert_eq!((first.total, first.hits.len(), second.hits.len()), (3, 2, 1));
        assert_eq!(first.hits.iter().chain(&second.hits).map(|h| h.ticket_id.0).collect::<BTreeSet<_>>().len(), 3);
        assert_eq!(second.hits[0].ticket_id, w.t1.id, "oldest last");

        // Updates: status and new messages reach the index.
        tickets::add_message(
            &mut db.conn(),
            w.t2.id,
            message(MessageKind::Inbound, Author::Contact(w.bob), "Now the wombat avatar fails too.", tusk::db::now()),
            Actor::Contact(w.bob),
        )
        .unwrap();
        tickets::change_status(&mut db.conn(), w.t2.id, TicketStatus::Solved, Actor::Agent(w.agent)).unwrap();
        drain(db, &engine).await;
        let solved = run(f(Filters { statuses: vec![TicketStatus::Solved], ..Filters::default() })).await;
        assert_eq!(ids(&solved), set(&[&w.t2]));
        assert_eq!(solved.hits[0].status, TicketStatus::Solved);
        assert_eq!(ids(&run(agent("wombat")).await), set(&[&w.t2]));
        assert_eq!(run(recent.clone()).await.hits[0].ticket_id, w.t2.id, "the updated ticket is now the most recent");

        // Merges: the duplicate disappears, its thread and number lead to the target.
        merge::merge_into(&mut db.conn(), w.t4.id, w.t3.id, Actor::Agent(w.agent)).unwrap();
        drain(db, &engine).await;
        assert_eq!(ids(&run(agent("quokka")).await), set(&[&w.t3]), "the moved thread is found on the target");
        assert_eq!(ids(&run(agent("relay")).await), set(&[&w.t1, &w.t3]), "the duplicate is gone");
        let by_number = run(agent(&format!("{} ", w.t4.number))).await;
        assert!(ids(&by_number).contains(&w.t3.id.0), "the merged number points to the target: {by_number:?}");
        assert!(!ids(&by_number).contains(&w.t4.id.0));
        assert_eq!(ids(&run(customer("quokka", w.carol, None)).await), set(&[&w.t3]));

        // Records: a renamed institution moved to another plan, and an
        // instance moved to another plan, reach their tickets' documents.
        let (_, renamed) = institutions::upsert(
            &mut db.conn(),
            &plans(),
            &InstitutionInput {
                slug: "uni-lyon".into(),
                name: "Lyon University".into(),
                default_plan: Some("single".into()),
                status: None,
                domains: None,
            },
            Actor::System,
        )
        .unwrap();
        assert_eq!(renamed, tusk::domain::Upserted::Updated);
        instances::upsert(
            &mut db.conn(),
            &plans(),
            &InstanceInput {
                domain: "social.univ-lyon.example".into(),
                institution_slug: "uni-lyon".into(),
                plan: Some("managed".into()),
                ..Default::default()
            },
            Actor::System,
        )
        .unwrap();
        drain(db, &engine).await;
        assert_eq!(ids(&run(f(Filters { plans: vec!["managed".into()], ..Filters::default() })).await), set(&[&w.t1]));
        assert_eq!(
            ids(&run(f(Filters { plans: vec!["single".into()], ..Filters::default() })).await),
            set(&[&w.t2, &w.t3])
        );
        let lyon = run(agent("relay")).await;
        let h1 = lyon.hits.iter().find(|h| h.ticket_id == w.t1.id).unwrap();
        assert_eq!(h1.institution_name.as_deref(), Some("Lyon University"));

        // No duplicates: replaying every row changes nothing.
        for t in [&w.t1, &w.t2, &w.t3, &w.t4] {
            outbox::enqueue_ticket_index(&mut db.conn(), t.id, SearchOp::Upsert, tusk::db::now()).unwrap();
        }
        drain(db, &engine).await;
        assert_index_matches_db(db, &engine).await;
        assert_eq!(engine.count().await.unwrap(), 3);
    });
}

// ---------------------------------------------------------------------------
// Faults.

/// The fault: another writer holds the embedded index's directory lock (as a
/// second process writing the same data directory would), so every write of
/// the indexer fails with tantivy's lock error. Tickets are created and
/// changed meanwhile; then the lock is released and the index converges.
fn embedded_outage_converges(db: &TestDb) {
    let root = db.dir.path().join("search");
    let engine = embedded(db);
    let current = std::fs::read_to_string(root.join("CURRENT")).unwrap();
    let blocker_index = tantivy::Index::open_in_dir(root.join(current.trim())).unwrap();
    let blocker: tantivy::IndexWriter = blocker_index.writer(15_000_000).unwrap();

    let w = world(&mut db.conn());
    let rt = runtime();
    rt.block_on(async {
        let report = drain(db, &engine).await;
        assert!(report.deferred > 0 && report.indexed == 0, "{report:?}");
        // More changes while the engine is down.
        tickets::change_priority(&mut db.conn(), w.t3.id, Priority::Urgent, Actor::Agent(w.agent)).unwrap();
        tickets::set_tags(&mut db.conn(), w.t2.id, &["media".into()], Actor::Agent(w.agent)).unwrap();
        merge::merge_into(&mut db.conn(), w.t4.id, w.t3.id, Actor::Agent(w.agent)).unwrap();
        indexer::retry_now(&mut db.conn()).unwrap();
        let report = drain(db, &engine).await;
        assert!(report.deferred > 0, "{report:?}");
        let (rows, attempts) = indexer::backlog(&mut db.conn()).unwrap();
        assert!(rows >= 7 && attempts >= 2, "the outbox keeps every change: {rows} rows, {attempts} attempts");
        let error: Option<String> =
            search_outbox::table.select(search_outbox::last_error).first(&mut *db.conn()).unwrap();
        assert!(error.unwrap_or_default().to_lowercase().contains("lock"), "the reason is recorded");
        assert_eq!(engine.count().await.unwrap(), 0);

        drop(blocker);
        indexer::retry_now(&mut db.conn()).unwrap();
        let report = drain(db, &engine).await;
        assert_eq!(report.deferred, 0, "{report:?}");
        assert_eq!(indexer::backlog(&mut db.conn()).unwrap().0, 0);
        assert_index_matches_db(db, &engine).await;
        let urgent = engine
            .search(filtered("", Filters { priorities: vec![Priority::Urgent], ..Filters::default() }))
            .await
            .unwrap();
        assert_eq!(ids(&urgent), set(&[&w.t3]));
        let media =
            engine.search(filtered("", Filters { tags: vec!["media".into()], ..Filters::default() })).await.unwrap();
        assert_eq!(ids(&media), set(&[&w.t2]));
    });
}

/// The fault: Meilisearch unreachable (a port nothing listens on; a real
/// connection refused through the SDK). Rows stay in the outbox with the
/// reason; with a real Meilisearch configured, pointing the indexer at it
/// drains them and the index converges.
fn meilisearch_outage_keeps_the_outbox(db: &TestDb) {
    let port = common::server::free_port();
    let down: Arc<dyn Search> = Arc::new(
        Meili::new(&format!("http://127.0.0.1:{port}"), Some("k"), "tusk_down", Duration::from_secs(5)).unwrap(),
    );
    let w = world(&mut db.conn());
    let rt = runtime();
    rt.block_on(async {
        let indexer = Indexer::new(db.db.clone(), down.clone(), settings());
        assert!(indexer.run_once().await.is_err(), "settings cannot be applied while the engine is down");
        assert!(down.search(agent("relay")).await.is_err(), "queries fail cleanly (the page degrades)");
        tickets::change_status(&mut db.conn(), w.t1.id, TicketStatus::Pending, Actor::Agent(w.agent)).unwrap();
        let (rows, _) = indexer::backlog(&mut db.conn()).unwrap();
        assert!(rows >= 7, "{rows}");
        let Some((meili, index)) = meilisearch("meilisearch_outage_keeps_the_outbox (recovery half)") else {
            return;
        };
        let up: Arc<dyn Search> = meili;
        drain(db, &up).await;
        assert_eq!(indexer::backlog(&mut db.conn()).unwrap().0, 0);
        assert_index_matches_db(db, &up).await;
        let _ = meilisearch_sdk_cleanup(&index).await;
    });
}

// ---------------------------------------------------------------------------
// The queue.

fn outbox_claims_are_exclusive_and_token_bound(db: &TestDb) {
    let w = world(&mut db.conn());
    let mut pooled = db.conn();
    let conn: &mut tusk::db::AnyConnection = &mut pooled;
    diesel::delete(search_outbox::table).execute(conn).unwrap();
    let now = tusk::db::now();
    for t in [w.t1.id, w.t1.id, w.t2.id] {
        outbox::enqueue_ticket_index(conn, t, SearchOp::Upsert, now).unwrap();
    }
    let lease_a = tusk::db::truncate_micros(now + chrono::Duration::seconds(60));
    let a = indexer::claim(conn, 10, now, lease_a).unwrap();
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|r| r.attempts == 1 && r.locked_until == Some(lease_a)));
    // A change to a ticket claim A holds waits until A is done.
    outbox::enqueue_ticket_index(conn, w.t1.id, SearchOp::Upsert, now).unwrap();
    outbox::enqueue_ticket_index(conn, w.t3.id, SearchOp::Upsert, now).unwrap();
    let lease_b = lease_a + chrono::Duration::microseconds(7);
    let b = indexer::claim(conn, 10, now, lease_b).unwrap();
    assert_eq!(b.iter().map(|r| TicketId(r.entity_id)).collect::<Vec<_>>(), vec![w.t3.id]);
    // Only the claimer's token completes its rows.
    let a_ids: Vec<i64> = a.iter().map(|r| r.id).collect();
    assert_eq!(indexer::complete(conn, &a_ids, lease_b).unwrap(), 0);
    assert_eq!(indexer::complete(conn, &a_ids, lease_a).unwrap(), 3);
    let c = indexer::claim(conn, 10, now, lease_a).unwrap();
    assert_eq!(c.iter().map(|r| TicketId(r.entity_id)).collect::<Vec<_>>(), vec![w.t1.id]);
    // Deferred rows wait; an expired lease makes rows due again.
    let c_ids: Vec<i64> = c.iter().map(|r| r.id).collect();
    assert_eq!(indexer::defer(conn, &c_ids, lease_a, "engine down", now + chrono::Duration::hours(1)).unwrap(), 1);
    assert!(indexer::claim(conn, 10, now, lease_a).unwrap().is_empty());
    let later = now + chrono::Duration::hours(2);
    let again = indexer::claim(conn, 10, later, later + chrono::Duration::seconds(60)).unwrap();
    assert_eq!(again.len(), 2, "the deferred row and B's row whose lease expired");
    let deferred = again.iter().find(|r| r.entity_id == w.t1.id.0).unwrap();
    assert_eq!((deferred.attempts, deferred.last_error.as_deref()), (2, Some("engine down")));
}

// ---------------------------------------------------------------------------
// Reindex.

/// `tusk search reindex` runs as another process while `tusk serve` holds
/// the serving index's writer: here a second `Embedded` over the same
/// directory plays the reindex process.
fn reindex_while_serving_embedded(db: &TestDb) {
    let root = db.dir.path().join("search");
    let serving = embedded(db);
    let w = world(&mut db.conn());
    let rt = runtime();
    rt.block_on(async {
        drain(db, &serving).await; // the serving indexer now holds its writer
        let old = std::fs::read_to_string(root.join("CURRENT")).unwrap();
        // A change the serving indexer applies to the old index, as if made
        // while the rebuild runs: the reindex queues it again.
        tickets::change_priority(&mut db.conn(), w.t2.id, Priority::Urgent, Actor::Agent(w.agent)).unwrap();
        drain(db, &serving).await;
        let other: Arc<dyn Search> = Arc::new(Embedded::open(&root, EmbeddedOptions::default()).unwrap());
        let report = tusk::search::reindex::run(&db.db, other.as_ref(), "single", false).await.unwrap();
        assert_eq!((report.tickets, report.messages), (4, 6));
        assert_eq!(report.replayed, 1, "tickets changed since the start are queued again: {report:?}");
        assert_eq!(indexer::backlog(&mut db.conn()).unwrap().0, 1);
        let new = std::fs::read_to_string(root.join("CURRENT")).unwrap();
        assert_ne!(old, new);
        assert_eq!(other.count().await.unwrap(), 4);
        // The serving process moves to the new index and keeps indexing.
        tickets::change_status(&mut db.conn(), w.t1.id, TicketStatus::OnHold, Actor::Agent(w.agent)).unwrap();
        drain(db, &serving).await;
        assert!(!root.join(old.trim()).exists(), "the replaced index directory is removed");
        assert_index_matches_db(db, &serving).await;
        let on_hold = serving
            .search(filtered("", Filters { statuses: vec![TicketStatus::OnHold], ..Filters::default() }))
            .await
            .unwrap();
        assert_eq!(ids(&on_hold), set(&[&w.t1]));
        assert_eq!(ids(&serving.search(agent("zanzibar")).await.unwrap()), set(&[&w.t1]));
    });
}

fn reindex_cli_builds_the_index(db: &TestDb) {
    let w = world(&mut db.conn());
    let dir = tempfile::tempdir().unwrap();
    let out = common::server::tusk(dir.path(), Some(&db.url)).args(["search", "reindex", "--quiet"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("indexed 4 tickets, 6 messages"), "{stdout}");
    let engine: Arc<dyn Search> =
        Arc::new(Embedded::open(&dir.path().join("data/search"), EmbeddedOptions::default()).unwrap());
    runtime().block_on(async {
        assert_eq!(engine.count().await.unwrap(), 4);
        assert_eq!(ids(&engine.search(agent("quokka")).await.unwrap()), set(&[&w.t4]));
    });
}

fn wait_for_empty_outbox(db: &TestDb) {
    let started = std::time::Instant::now();
    while indexer::backlog(&mut db.conn()).unwrap().0 > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the indexer of tusk serve did not drain the outbox");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The real `tusk serve` indexes the outbox; `tusk search reindex` runs
/// beside it (no writer-lock conflict), and the server moves to the new index
/// and keeps indexing into it.
fn serve_indexes_and_reindex_runs_beside_it(db: &TestDb) {
    let w = world(&mut db.conn());
    let dir = tempfile::tempdir().unwrap();
    let mut server =
        common::server::Server::start(dir.path(), Some(&db.url), &[("TUSK_SEARCH_WORKER_POLL_INTERVAL_MS", "20")]);
    wait_for_empty_outbox(db);
    let root = dir.path().join("data/search");
    let before = std::fs::read_to_string(root.join("CURRENT")).unwrap();
    let out = common::server::tusk(dir.path(), Some(&db.url)).args(["search", "reindex", "--quiet"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = std::fs::read_to_string(root.join("CURRENT")).unwrap();
    assert_ne!(before, after, "the rebuild was published");
    let (t5, _) = tickets::create(
        &mut db.conn(),
        open_ticket(w.alice, "Streaming timeline freezes", "The platypus timeline freezes.", Priority::Normal, day(9)),
        Actor::System,
    )
    .unwrap();
    wait_for_empty_outbox(db);
    server.kill();
    let indexes: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("index-"))
        .collect();
    assert_eq!(indexes, vec![after.trim().to_string()], "the server moved to the new index and removed the old one");
    let engine: Arc<dyn Search> = Arc::new(Embedded::open(&root, EmbeddedOptions::default()).unwrap());
    runtime().block_on(async {
        assert_eq!(engine.count().await.unwrap(), 5);
        assert_eq!(ids(&engine.search(agent("platypus")).await.unwrap()), set(&[&t5]));
        assert_eq!(ids(&engine.search(agent("zanzibar")).await.unwrap()), set(&[&w.t1]));
    });
}

/// `GET /api/v1/search` through the real app: token scopes, typed filters,
/// escaped snippets, problem JSON for bad input.
fn api_search_answers_with_snippets_and_problems(db: &TestDb) {
    use actix_web::test;
    let w = world(&mut db.conn());
    let (_, read) = tusk::domain::api_tokens::create(
        &mut db.conn(),
        "reader",
        &[tusk::domain::api_tokens::Scope::TicketsRead],
        Actor::System,
    )
    .unwrap();
    let (_, records) = tusk::domain::api_tokens::create(
        &mut db.conn(),
        "records",
        &[tusk::domain::api_tokens::Scope::RecordsRead],
        Actor::System,
    )
    .unwrap();
    let mut config = tusk::Config::defaults().unwrap();
    config.data_dir = db.dir.path().to_path_buf();
    let state = tusk::AppState::new(config, db.db.clone()).unwrap();
    let engine = state.search.clone();
    actix_web::rt::System::new().block_on(async {
        drain(db, &engine).await;
        let app = test::init_service(tusk::build_app(state)).await;
        let get = |uri: &str, token: &str| {
            let mut req = test::TestRequest::get().uri(uri);
            if !token.is_empty() {
                req = req.insert_header(("Authorization", format!("Bearer {token}")));
            }
            req.to_request()
        };
        let res = test::call_service(&app, get("/api/v1/search?q=relay&priority=high,low&sort=recent", &read)).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["total"], 3);
        let numbers: Vec<i64> =
            body["hits"].as_array().unwrap().iter().map(|h| h["number"].as_i64().unwrap()).collect();
        assert_eq!(numbers, vec![w.t4.number, w.t3.number, w.t1.number]);
        let snippet = body["hits"][2]["snippet_html"].as_str().unwrap();
        assert!(snippet.contains("<mark>relay</mark>"), "{snippet}");
        assert_eq!(body["hits"][2]["institution_name"], "Université de Lyon");

        let res = test::call_service(&app, get("/api/v1/search?q=zanzibar&assignee=none", &read)).await;
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["total"], 0, "t1 is assigned");
        let res =
            test::call_service(&app, get(&format!("/api/v1/search?q=zanzibar&assignee={}", w.agent.0), &read)).await;
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["hits"][0]["id"], w.t1.id.0, "agents (API) search notes");

        for (uri, token, status) in [
            ("/api/v1/search?q=relay", "", 401),
            ("/api/v1/search?q=relay", records.as_str(), 403),
            ("/api/v1/search?status=lost", read.as_str(), 422),
            ("/api/v1/search?sort=random", read.as_str(), 422),
            ("/api/v1/search?filter=status%3Dopen", read.as_str(), 422),
        ] {
            let res = test::call_service(&app, get(uri, token)).await;
            assert_eq!(res.status().as_u16(), status, "{uri}");
            assert!(res.headers().get("content-type").unwrap().to_str().unwrap().contains("problem+json"), "{uri}");
        }
        let res = test::call_service(&app, get("/api/v1/openapi.json", "")).await;
        let doc: serde_json::Value = test::read_body_json(res).await;
        assert!(doc["paths"]["/api/v1/search"]["get"].is_object());
    });
}
