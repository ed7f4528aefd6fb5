//! `tusk::seed::run` on a fresh database per backend: the report matches the
//! stored rows, the rows are consistent, and a second run only adds.
//! PostgreSQL runs when `TUSK_TEST_POSTGRES_URL` is set (through `tests/common`:
//! a new database created from that URL and dropped afterwards).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use tusk::db::models::{Message, Ticket};
use tusk::db::schema::{agents, contacts, counters, events, instances, institutions, messages, ticket_tags, tickets};
use tusk::db::{AnyConnection, Channel, Db, MessageKind, Priority, TicketStatus};
use tusk::domain::tickets::{Author, MessageInput, TicketInput};
use tusk::domain::{Actor, Plans};
use tusk::seed::{SeedOptions, SeedReport, run};

mod common;

use common::TestDb;

/// A fresh SQLite database, and a PostgreSQL one when configured.
fn backends() -> Vec<TestDb> {
    std::iter::once(TestDb::sqlite()).chain(TestDb::postgres()).collect()
}

fn plans() -> Plans {
    Plans::new(vec!["managed".into(), "single".into()], "single")
}

fn options(tickets: u64, rng_seed: u64) -> SeedOptions {
    SeedOptions { tickets, rng_seed, progress: false }
}

fn counts(conn: &mut AnyConnection) -> SeedReport {
    let n = |v: i64| u64::try_from(v).unwrap();
    SeedReport {
        institutions: n(institutions::table.count().get_result(conn).unwrap()),
        instances: n(instances::table.count().get_result(conn).unwrap()),
        contacts: n(contacts::table.count().get_result(conn).unwrap()),
        agents: n(agents::table.count().get_result(conn).unwrap()),
        tickets: n(tickets::table.count().get_result(conn).unwrap()),
        messages: n(messages::table.count().get_result(conn).unwrap()),
        events: n(events::table.count().get_result(conn).unwrap()),
    }
}

fn add(a: &SeedReport, b: &SeedReport) -> SeedReport {
    SeedReport {
        institutions: a.institutions + b.institutions,
        instances: a.instances + b.instances,
        contacts: a.contacts + b.contacts,
        agents: a.agents + b.agents,
        tickets: a.tickets + b.tickets,
        messages: a.messages + b.messages,
        events: a.events + b.events,
    }
}

fn json(report: &SeedReport) -> serde_json::Value {
    serde_json::to_value(report).unwrap()
}

/// Every invariant the seeded data must keep, whatever ran before.
fn check_consistency(conn: &mut AnyConnection) {
    let all_tickets: Vec<Ticket> = tickets::table.select(Ticket::as_select()).load(conn).unwrap();
    let all_messages: Vec<Message> = messages::table.select(Message::as_select()).load(conn).unwrap();
    let ticket_ids: HashSet<i64> = all_tickets.iter().map(|t| t.id.0).collect();

    let numbers: HashSet<i64> = all_tickets.iter().map(|t| t.number).collect();
    assert_eq!(numbers.len(), all_tickets.len(), "ticket numbers are unique");
    let counter: i64 = counters::table.find("ticket_number").select(counters::value).first(conn).unwrap();
    assert!(counter >= numbers.iter().copied().max().unwrap_or(0), "the counter is past every number");

    let message_ids: HashSet<&str> = all_messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(message_ids.len(), all_messages.len(), "Message-IDs are unique");

    let mut threads: HashMap<i64, Vec<&Message>> = HashMap::new();
    for m in &all_messages {
        assert!(ticket_ids.contains(&m.ticket_id.0), "message {} has its ticket", m.id);
        threads.entry(m.ticket_id.0).or_default().push(m);
    }
    let created_events: Vec<Option<i64>> =
        events::table.filter(events::action.eq("ticket.created")).select(events::ticket_id).load(conn).unwrap();
    let mut events_per_ticket: HashMap<i64, usize> = HashMap::new();
    for id in created_events.into_iter().flatten() {
        *events_per_ticket.entry(id).or_default() += 1;
    }

    for t in &all_tickets {
        let thread = threads.get(&t.id.0).unwrap_or_else(|| panic!("ticket {} has messages", t.id));
        assert!((1..=6).contains(&thread.len()), "ticket {}: {} messages", t.id, thread.len());
        assert_eq!(events_per_ticket.get(&t.id.0), Some(&1), "ticket {} has one created event", t.id);
        let first = thread.iter().min_by_key(|m| (m.created_at, m.id)).unwrap();
        assert_eq!(first.kind, MessageKind::Inbound);
        assert_eq!(first.created_at, t.created_at);
        let first_reply = thread.iter().filter(|m| m.kind == MessageKind::Reply).map(|m| m.created_at).min();
        let last_inbound = thread.iter().filter(|m| m.kind == MessageKind::Inbound).map(|m| m.created_at).max();
        let last = thread.iter().map(|m| m.created_at).max().unwrap();
        assert_eq!(t.first_response_at, first_reply, "ticket {}", t.id);
        assert_eq!(t.last_customer_message_at, last_inbound, "ticket {}", t.id);
        assert!(t.updated_at >= last && t.updated_at >= t.created_at, "ticket {}", t.id);
        if let Some(at) = t.first_response_at {
            assert!(at >= t.created_at, "ticket {}", t.id);
        }
        match t.status {
            TicketStatus::Solved => {
                assert!(t.solved_at.is_some() && t.closed_at.is_none(), "ticket {}", t.id);
            }
            TicketStatus::Closed => {
                let (Some(solved), Some(closed)) = (t.solved_at, t.closed_at) else {
                    panic!("closed ticket {} has solved_at and closed_at", t.id);
                };
                assert!(closed >= solved && solved >= t.created_at, "ticket {}", t.id);
            }
            _ => assert!(t.solved_at.is_none() && t.closed_at.is_none(), "ticket {}", t.id),
        }
        if t.status == TicketStatus::New {
            assert!(t.first_response_at.is_none(), "a new ticket has no reply yet");
        }
        if t.needs_triage {
            assert!(t.instance_id.is_none() && t.triage_reason.is_some());
        }
        assert!(t.institution_id.is_some());
    }
}

fn seed_and_check(db: &Db) {
    let plans = plans();
    let mut conn = db.get().unwrap();
    let counter_before: i64 = counters::table.find("ticket_number").select(counters::value).first(&mut *conn).unwrap();

    let first = run(db, &plans, &options(2_000, 42)).unwrap();
    assert_eq!(first.tickets, 2_000);
    // One `ticket.created` per ticket plus its status history.
    assert!(first.events > 2_000, "{first:?}");
    assert_eq!(first.institutions, 20);
    assert_eq!(first.agents, 5);
    assert!(first.messages > 4_000 && first.messages < 9_000, "{first:?}");
    assert_eq!(json(&counts(&mut conn)), json(&first), "the report counts the stored rows");
    check_consistency(&mut conn);

    // Realistic spreads.
    let statuses: HashSet<TicketStatus> =
        tickets::table.select(tickets::status).load(&mut *conn).unwrap().into_iter().collect();
    assert_eq!(statuses.len(), TicketStatus::ALL.len(), "{statuses:?}");
    let priorities: Vec<Priority> = tickets::table.select(tickets::priority).load(&mut *conn).unwrap();
    let normal = priorities.iter().filter(|p| **p == Priority::Normal).count();
    assert!((1_000..1_400).contains(&normal), "~60% normal: {normal}");
    let channels: Vec<Channel> = tickets::table.select(tickets::channel).load(&mut *conn).unwrap();
    let email = channels.iter().filter(|c| **c == Channel::Email).count();
    assert!((1_450..1_750).contains(&email), "~80% email: {email}");
    let plans_used: BTreeMap<String, i64> = institutions::table
        .group_by(institutions::default_plan)
        .select((institutions::default_plan, diesel::dsl::count_star()))
        .load::<(String, i64)>(&mut *conn)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(plans_used.keys().cloned().collect::<Vec<_>>(), ["managed", "single"]);
    let tags: Vec<String> = ticket_tags::table.select(ticket_tags::tag).load(&mut *conn).unwrap();
    assert!(tags.len() > 1_500 && tags.iter().any(|t| t == "federation"));
    let kinds: HashSet<MessageKind> =
        messages::table.select(messages::kind).load(&mut *conn).unwrap().into_iter().collect();
    assert_eq!(kinds.len(), 3);
    let max_number: i64 =
        tickets::table.select(diesel::dsl::max(tickets::number)).first::<Option<i64>>(&mut *conn).unwrap().unwrap();
    assert_eq!(max_number, counter_before + 2_000);

    // A second run with the same seed adds tickets and reuses the world.
    let second = run(db, &plans, &options(2_000, 42)).unwrap();
    assert_eq!(second.tickets, 2_000);
    assert_eq!((second.institutions, second.instances, second.contacts, second.agents), (0, 0, 0, 0));
    assert_eq!(json(&counts(&mut conn)), json(&add(&first, &second)));
    check_consistency(&mut conn);

    // The application's own inserts continue after the seeded ids and numbers.
    let requester = contacts::table.select(contacts::id).first::<i64>(&mut *conn).unwrap();
    let max_id: i64 =
        tickets::table.select(diesel::dsl::max(tickets::id)).first::<Option<i64>>(&mut *conn).unwrap().unwrap();
    let counter: i64 = counters::table.find("ticket_number").select(counters::value).first(&mut *conn).unwrap();
    let (ticket, message) = tusk::domain::tickets::create(
        &mut conn,
        TicketInput {
            subject: "After the seed".into(),
            requester: tusk::db::ContactId(requester),
            institution: None,
            institution_from_requester: true,
            instance: None,
            priority: Priority::Normal,
            category: None,
            channel: Channel::Email,
            status: None,
            assignee: None,
            tags: vec![],
            triage_reason: None,
            first_message: MessageInput::new(
                MessageKind::Inbound,
                Author::Contact(tusk::db::ContactId(requester)),
                "Hello",
                "after-seed@test.example",
            ),
        },
        Actor::System,
    )
    .unwrap();
    assert!(ticket.id.0 > max_id);
    assert_eq!(ticket.number, counter + 1);
    assert!(message.id.0 > i64::try_from(first.messages + second.messages).unwrap() - 1);
}

#[test]
fn seeds_consistent_additive_data_on_every_backend() {
    for test_db in backends() {
        seed_and_check(&test_db.db);
    }
}

#[test]
fn the_same_seed_gives_the_same_content() {
    let content = |db: &Db| {
        run(db, &plans(), &options(300, 7)).unwrap();
        let mut conn = db.get().unwrap();
        let subjects: Vec<(i64, String, TicketStatus)> = tickets::table
            .order(tickets::id)
            .select((tickets::number, tickets::subject, tickets::status))
            .load(&mut *conn)
            .unwrap();
        let bodies: Vec<String> =
            messages::table.order(messages::id).select(messages::body_text).load(&mut *conn).unwrap();
        (subjects, bodies)
    };
    let first = content(&TestDb::sqlite().db);
    assert_eq!(first, content(&TestDb::sqlite().db));
    assert!(first.1.iter().all(|b| (200..=800).contains(&b.len())));
}

#[test]
fn zero_tickets_only_prepares_the_world() {
    let test_db = TestDb::sqlite();
    let db = &test_db.db;
    let report = run(db, &plans(), &options(0, 1)).unwrap();
    assert_eq!((report.tickets, report.messages, report.events), (0, 0, 0));
    assert_eq!(report.institutions, 20);
    let mut conn = db.get().unwrap();
    assert_eq!(json(&counts(&mut conn)), json(&report));
}

#[test]
fn demo_data_seeds_once_on_every_backend() {
    use tusk::demo::{DEMO_ADMIN_EMAIL, DEMO_AGENT_EMAIL, DEMO_PASSWORD, DemoOutcome, seed_if_empty};
    for test_db in backends() {
        let mut conn = test_db.conn();
        let outcome = seed_if_empty(&mut conn, &plans()).unwrap();
        let DemoOutcome::Seeded { tickets: seeded } = outcome else {
            panic!("an empty database is seeded: {outcome:?}");
        };
        let statuses: HashSet<TicketStatus> =
            tickets::table.select(tickets::status).load(&mut *conn).unwrap().into_iter().collect();
        let priorities: HashSet<Priority> =
            tickets::table.select(tickets::priority).load(&mut *conn).unwrap().into_iter().collect();
        assert_eq!((statuses.len(), priorities.len()), (TicketStatus::ALL.len(), Priority::ALL.len()));
        check_demo_timestamps(&mut conn);
        for email in [DEMO_ADMIN_EMAIL, DEMO_AGENT_EMAIL] {
            assert!(tusk::domain::agents::authenticate(&mut conn, email, DEMO_PASSWORD).unwrap().is_some(), "{email}");
        }
        let before = json(&counts(&mut conn));
        assert_eq!(u64::try_from(seeded).unwrap(), before["tickets"].as_u64().unwrap());
        assert_eq!(seed_if_empty(&mut conn, &plans()).unwrap(), DemoOutcome::AlreadyPopulated);
        assert_eq!(json(&counts(&mut conn)), before);
    }
}

/// The demo's status timestamps follow the same rules as real tickets.
fn check_demo_timestamps(conn: &mut AnyConnection) {
    for t in tickets::table.select(Ticket::as_select()).load(conn).unwrap() {
        match t.status {
            TicketStatus::Solved => assert!(t.solved_at.is_some() && t.closed_at.is_none(), "{}", t.subject),
            TicketStatus::Closed => assert!(t.solved_at.is_some() && t.closed_at.is_some(), "{}", t.subject),
            _ => assert!(t.solved_at.is_none() && t.closed_at.is_none(), "{}", t.subject),
        }
        if let Some(at) = t.first_response_at {
            assert!(at >= t.created_at, "{}", t.subject);
        }
    }
}
