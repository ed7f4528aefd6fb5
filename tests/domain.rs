//! Domain rules and transactions, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestDb, count, plans};
use diesel::prelude::*;
use tusk::ErrorKind;
use tusk::db::schema::{events, search_outbox, tickets as tickets_t};
use tusk::db::{Channel, InstanceStatus, MessageKind, Priority, Role, TicketStatus};
use tusk::domain::events::EventRecord;
use tusk::domain::instances::{self, InstanceInput};
use tusk::domain::institutions::{self, InstitutionInput};
use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
use tusk::domain::{Actor, Upserted, agents, contacts};

on_both_backends!(
    institution_upsert_and_domains,
    contact_joins_institution_by_domain,
    ticket_lifecycle_writes_events_and_outbox,
    failed_operation_leaves_nothing,
    closed_ticket_refuses_changes,
    instance_link_rules,
    events_are_append_only,
    agents_authenticate,
    ids_are_64_bit,
    dates_round_trip,
    simultaneous_upserts_of_one_new_record_all_succeed,
    contacts_follow_their_domain_to_another_institution,
);

fn setup_institution(
    conn: &mut tusk::db::AnyConnection,
) -> (tusk::db::models::Institution, tusk::db::models::Instance) {
    let (inst, _) = institutions::upsert(
        conn,
        &plans(),
        &InstitutionInput {
            slug: "uni-lyon".into(),
            name: "Université de Lyon".into(),
            default_plan: Some("managed".into()),
            status: None,
            domains: Some(vec!["univ-lyon.example".into()]),
        },
        Actor::System,
    )
    .unwrap();
    let (instance, _) = instances::upsert(
        conn,
        &plans(),
        &InstanceInput {
            domain: "social.univ-lyon.example".into(),
            institution_slug: "uni-lyon".into(),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap();
    (inst, instance)
}

fn inbound(contact: tusk::db::ContactId, id: &str, body: &str) -> MessageInput {
    MessageInput::new(MessageKind::Inbound, Author::Contact(contact), body, id)
}

fn ticket_input(requester: tusk::db::ContactId, message_id: &str) -> TicketInput {
    TicketInput {
        subject: "Federation with a large instance stopped".into(),
        requester,
        institution: None,
        institution_from_requester: true,
        instance: None,
        priority: Priority::High,
        category: Some("federation".into()),
        channel: Channel::Email,
        status: None,
        assignee: None,
        tags: vec!["Federation".into(), "relay".into(), "federation".into()],
        triage_reason: None,
        first_message: inbound(requester, message_id, "Our posts no longer reach mastodon.social."),
    }
}

fn institution_upsert_and_domains(db: &TestDb) {
    let mut conn = db.conn();
    let (inst, instance) = setup_institution(&mut conn);
    assert_eq!(inst.default_plan, "managed");
    assert_eq!(instance.plan, "managed", "an instance defaults to its institution's plan");
    assert_eq!(instance.status, InstanceStatus::Active);

    let input = InstitutionInput {
        slug: "uni-lyon".into(),
        name: "Université de Lyon".into(),
        default_plan: None,
        status: None,
        domains: Some(vec!["univ-lyon.example".into()]),
    };
    let (_, outcome) = institutions::upsert(&mut conn, &plans(), &input, Actor::System).unwrap();
    assert_eq!(outcome, Upserted::Unchanged);

    let input =
        InstitutionInput { domains: Some(vec!["UNIV-LYON.example".into(), "etu.univ-lyon.example".into()]), ..input };
    let (_, outcome) = institutions::upsert(&mut conn, &plans(), &input, Actor::System).unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(
        institutions::domains_of(&mut conn, inst.id).unwrap(),
        vec!["etu.univ-lyon.example".to_string(), "univ-lyon.example".to_string()]
    );

    // Another institution may not claim a domain that is taken; nothing of it is written.
    let before = count(&mut conn, "institutions");
    let err = institutions::upsert(
        &mut conn,
        &plans(),
        &InstitutionInput {
            slug: "ghent".into(),
            name: "City of Ghent".into(),
            domains: Some(vec!["univ-lyon.example".into()]),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message().contains("uni-lyon"), "{err}");
    assert_eq!(count(&mut conn, "institutions"), before);

    let err = institutions::upsert(
        &mut conn,
        &plans(),
        &InstitutionInput {
            slug: "ngo".into(),
            name: "NGO".into(),
            default_plan: Some("gold".into()),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap_err();
    assert!(err.message().contains("unknown plan tier `gold`"), "{err}");

    let evs = tusk::domain::events::for_subject(&mut conn, "institution", inst.id.0).unwrap();
    assert_eq!(evs[0].action, "institution.created");
    assert!(evs.iter().any(|e| e.field.as_deref() == Some("domains")
        && e.new_value.as_deref() == Some("etu.univ-lyon.example univ-lyon.example")));
}

fn contact_joins_institution_by_domain(db: &TestDb) {
    let mut conn = db.conn();
    let (inst, _) = setup_institution(&mut conn);
    let c = contacts::find_or_create(&mut conn, "Ada.Lovelace@CS.Univ-Lyon.example", None, Actor::System).unwrap();
    assert_eq!(c.email, "ada.lovelace@cs.univ-lyon.example");
    assert_eq!(c.institution_id, Some(inst.id), "subdomain of an institution domain");
    let again =
        contacts::find_or_create(&mut conn, "ada.lovelace@cs.univ-lyon.example", Some("Ada Lovelace"), Actor::System)
            .unwrap();
    assert_eq!(again.id, c.id);
    assert_eq!(again.name.as_deref(), Some("Ada Lovelace"));
    let stranger = contacts::find_or_create(&mut conn, "eve@evil.example", Some("Eve"), Actor::System).unwrap();
    assert_eq!(stranger.institution_id, None);
    assert_eq!(
        contacts::find_or_create(&mut conn, "not an email", None, Actor::System).unwrap_err().kind,
        ErrorKind::Invalid
    );
}

fn ticket_lifecycle_writes_events_and_outbox(db: &TestDb) {
    let mut conn = db.conn();
    let (inst, instance) = setup_institution(&mut conn);
    let contact = contacts::find_or_create(&mut conn, "ada@univ-lyon.example", Some("Ada"), Actor::System).unwrap();
    let agent =
        agents::create(&mut conn, "bob@tusk.example", "Bob", Role::Agent, "a long password", Actor::System).unwrap();

    let (t, m) =
        tickets::create(&mut conn, ticket_input(contact.id, "first@univ-lyon.example"), Actor::Contact(contact.id))
            .unwrap();
    assert_eq!(t.status, TicketStatus::New);
    assert_eq!(t.institution_id, Some(inst.id), "institution from the requester");
    assert_eq!(t.instance_id, None);
    assert_eq!(t.number, 1001);
    assert_eq!(m.kind, MessageKind::Inbound);
    assert!(t.last_customer_message_at.is_some());
    assert_eq!(tickets::tags_of(&mut conn, t.id).unwrap(), vec!["federation", "relay"]);

    let (t2, _) =
        tickets::create(&mut conn, ticket_input(contact.id, "second@univ-lyon.example"), Actor::System).unwrap();
    assert_eq!(t2.number, 1002);

    let t = tickets::assign(&mut conn, t.id, Some(agent.id), Actor::Agent(agent.id)).unwrap();
    assert_eq!(t.assignee_id, Some(agent.id));
    let t = tickets::link_instance(&mut conn, t.id, Some(instance.id), Actor::Agent(agent.id)).unwrap();
    assert_eq!(t.instance_id, Some(instance.id));
    let t = tickets::change_priority(&mut conn, t.id, Priority::Urgent, Actor::Agent(agent.id)).unwrap();
    assert_eq!(t.priority, Priority::Urgent);

    let reply =
        MessageInput::new(MessageKind::Reply, Author::Agent(agent.id), "We are looking into it.", "r1@tusk.example");
    let (t, _) = tickets::add_message(&mut conn, t.id, reply, Actor::Agent(agent.id)).unwrap();
    assert_eq!(t.status, TicketStatus::Open, "first reply opens a new ticket");
    assert!(t.first_response_at.is_some());

    let t = tickets::change_status(&mut conn, t.id, TicketStatus::Solved, Actor::Agent(agent.id)).unwrap();
    assert!(t.solved_at.is_some());
    let (t, _) = tickets::add_message(
        &mut conn,
        t.id,
        inbound(contact.id, "again@univ-lyon.example", "Still broken"),
        Actor::Contact(contact.id),
    )
    .unwrap();
    assert_eq!(t.status, TicketStatus::Open, "a customer reply reopens a solved ticket");
    assert!(t.solved_at.is_none());

    let note =
        MessageInput::new(MessageKind::Note, Author::Agent(agent.id), "Relay is down upstream.", "n1@tusk.example");
    tickets::add_message(&mut conn, t.id, note, Actor::Agent(agent.id)).unwrap();
    let t = tickets::set_tags(&mut conn, t.id, &["relay".into(), "upstream".into()], Actor::Agent(agent.id)).unwrap();

    // Unchanged values write no event.
    let before = tusk::domain::events::for_ticket(&mut conn, t.id).unwrap().len();
    tickets::change_priority(&mut conn, t.id, Priority::Urgent, Actor::Agent(agent.id)).unwrap();
    assert_eq!(tusk::domain::events::for_ticket(&mut conn, t.id).unwrap().len(), before);

    let actions: Vec<(String, Option<String>, Option<String>)> = tusk::domain::events::for_ticket(&mut conn, t.id)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.old_value, e.new_value))
        .collect();
    let expected: Vec<(&str, Option<&str>, Option<&str>)> = vec![
        ("ticket.created", None, None),
        ("message.added", None, None),
        ("ticket.assignee_changed", None, None),
        ("ticket.instance_linked", None, None),
        ("ticket.priority_changed", Some("high"), Some("urgent")),
        ("message.added", None, None),
        ("ticket.status_changed", Some("new"), Some("open")),
        ("ticket.status_changed", Some("open"), Some("solved")),
        ("message.added", None, None),
        ("ticket.status_changed", Some("solved"), Some("open")),
        ("message.added", None, None),
        ("ticket.tags_changed", Some("federation relay"), Some("relay upstream")),
    ];
    assert_eq!(actions.len(), expected.len(), "{actions:#?}");
    for ((action, old, new), (e_action, e_old, e_new)) in actions.iter().zip(expected) {
        assert_eq!(action, e_action);
        if e_action.ends_with("_changed") && e_action != "ticket.assignee_changed" {
            assert_eq!(old.as_deref(), e_old, "{action}");
            assert_eq!(new.as_deref(), e_new, "{action}");
        }
    }
    let messages = tickets::messages_of(&mut conn, t.id).unwrap();
    assert_eq!(
        messages.iter().map(|m| m.kind).collect::<Vec<_>>(),
        vec![MessageKind::Inbound, MessageKind::Reply, MessageKind::Inbound, MessageKind::Note]
    );
    // Every change queued a search-index update for the ticket.
    let queued: i64 =
        search_outbox::table.filter(search_outbox::entity_id.eq(t.id.0)).count().get_result(&mut *conn).unwrap();
    assert_eq!(queued, 9);
}

fn failed_operation_leaves_nothing(db: &TestDb) {
    let mut conn = db.conn();
    setup_institution(&mut conn);
    let contact = contacts::find_or_create(&mut conn, "ada@univ-lyon.example", None, Actor::System).unwrap();
    tickets::create(&mut conn, ticket_input(contact.id, "dup@univ-lyon.example"), Actor::System).unwrap();
    let counts = |conn: &mut tusk::db::AnyConnection| {
        ["tickets", "messages", "ticket_tags", "events", "search_outbox", "attachments"].map(|t| count(conn, t))
    };
    let before = counts(&mut conn);
    let counter_before: i64 =
        tusk::db::schema::counters::table.select(tusk::db::schema::counters::value).first(&mut *conn).unwrap();

    // The ticket row, its tags and its event are written before the message
    // insert fails on the duplicate Message-ID: all of it must roll back.
    let err = tickets::create(&mut conn, ticket_input(contact.id, "dup@univ-lyon.example"), Actor::System).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert_eq!(counts(&mut conn), before);

    // An attachment with a bad hash fails after the message insert.
    let mut input = ticket_input(contact.id, "fresh@univ-lyon.example");
    input.first_message.attachments.push(tickets::AttachmentInput {
        sha256: "not-a-hash".into(),
        filename: "a.txt".into(),
        content_type: "text/plain".into(),
        size_bytes: 1,
        content_id: None,
        inline: false,
    });
    assert_eq!(tickets::create(&mut conn, input, Actor::System).unwrap_err().kind, ErrorKind::Invalid);
    assert_eq!(counts(&mut conn), before);
    let counter_after: i64 =
        tusk::db::schema::counters::table.select(tusk::db::schema::counters::value).first(&mut *conn).unwrap();
    assert_eq!(counter_before, counter_after, "the ticket number is not consumed");
}

fn closed_ticket_refuses_changes(db: &TestDb) {
    let mut conn = db.conn();
    let contact = contacts::find_or_create(&mut conn, "x@example.org", None, Actor::System).unwrap();
    let (t, _) = tickets::create(&mut conn, ticket_input(contact.id, "c1@example.org"), Actor::System).unwrap();
    let t = tickets::change_status(&mut conn, t.id, TicketStatus::Closed, Actor::System).unwrap();
    assert!(t.closed_at.is_some() && t.solved_at.is_some());
    let events_before = count(&mut conn, "events");
    assert_eq!(
        tickets::change_status(&mut conn, t.id, TicketStatus::Open, Actor::System).unwrap_err().kind,
        ErrorKind::Conflict
    );
    assert_eq!(
        tickets::add_message(&mut conn, t.id, inbound(contact.id, "c2@example.org", "hello"), Actor::System)
            .unwrap_err()
            .kind,
        ErrorKind::Conflict
    );
    assert_eq!(count(&mut conn, "events"), events_before);
    assert_eq!(count(&mut conn, "messages"), 1);
}

fn instance_link_rules(db: &TestDb) {
    let mut conn = db.conn();
    let (_, instance) = setup_institution(&mut conn);
    institutions::upsert(
        &mut conn,
        &plans(),
        &InstitutionInput {
            slug: "ghent".into(),
            name: "City of Ghent".into(),
            domains: Some(vec!["ghent.example".into()]),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap();
    let ghent_contact = contacts::find_or_create(&mut conn, "jan@ghent.example", None, Actor::System).unwrap();
    let (t, _) = tickets::create(&mut conn, ticket_input(ghent_contact.id, "g1@ghent.example"), Actor::System).unwrap();
    let err = tickets::link_instance(&mut conn, t.id, Some(instance.id), Actor::System).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(err.message().contains("another institution"), "{err}");

    // A ticket without an institution takes the instance's, and leaves triage.
    let stranger = contacts::find_or_create(&mut conn, "someone@gmail.example", None, Actor::System).unwrap();
    let mut input = ticket_input(stranger.id, "s1@gmail.example");
    input.triage_reason = Some("no instance could be determined".into());
    let (t, _) = tickets::create(&mut conn, input, Actor::System).unwrap();
    assert!(t.needs_triage && t.institution_id.is_none());
    let t = tickets::link_instance(&mut conn, t.id, Some(instance.id), Actor::System).unwrap();
    assert_eq!(t.institution_id, Some(instance.institution_id));
    assert!(!t.needs_triage && t.triage_reason.is_none());

    // Creating with an instance of another institution than the one given is refused.
    let mut input = ticket_input(ghent_contact.id, "g2@ghent.example");
    input.instance = Some(instance.id);
    input.institution = ghent_contact.institution_id;
    assert_eq!(tickets::create(&mut conn, input, Actor::System).unwrap_err().kind, ErrorKind::Invalid);
}

fn events_are_append_only(db: &TestDb) {
    let mut conn = db.conn();
    EventRecord::about("system", 0, "test.event").write(&mut conn, Actor::System, tusk::db::now()).unwrap();
    let update = diesel::update(events::table).set(events::action.eq("tampered")).execute(&mut *conn);
    assert!(update.is_err(), "UPDATE on events must fail");
    let delete = diesel::delete(events::table).execute(&mut *conn);
    assert!(delete.is_err(), "DELETE on events must fail");
    assert_eq!(count(&mut conn, "events"), 1);
}

fn agents_authenticate(db: &TestDb) {
    let mut conn = db.conn();
    let a =
        agents::create(&mut conn, "Carol@Tusk.example", "Carol", Role::Manager, "correct horse battery", Actor::System)
            .unwrap();
    assert!(a.password_hash.starts_with("$argon2id$"));
    assert!(!a.password_hash.contains("correct horse"));
    assert_eq!(
        agents::authenticate(&mut conn, "carol@tusk.example", "correct horse battery").unwrap().map(|a| a.id),
        Some(a.id)
    );
    assert!(agents::authenticate(&mut conn, "carol@tusk.example", "wrong").unwrap().is_none());
    assert!(agents::authenticate(&mut conn, "nobody@tusk.example", "x").unwrap().is_none());
    agents::set_active(&mut conn, a.id, false, Actor::System).unwrap();
    assert!(agents::authenticate(&mut conn, "carol@tusk.example", "correct horse battery").unwrap().is_none());
    assert_eq!(
        agents::create(&mut conn, "carol@tusk.example", "C", Role::Agent, "another long one", Actor::System)
            .unwrap_err()
            .kind,
        ErrorKind::Conflict
    );
    assert_eq!(
        agents::create(&mut conn, "dan@tusk.example", "Dan", Role::Agent, "short", Actor::System).unwrap_err().kind,
        ErrorKind::Invalid
    );
}

fn ids_are_64_bit(db: &TestDb) {
    let mut conn = db.conn();
    let big: i64 = 5_000_000_000;
    diesel::sql_query(format!(
        "INSERT INTO contacts (id, email, is_institution_admin, blocked, created_at, updated_at) VALUES ({big}, 'big@example.org', false, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    ))
    .execute(&mut *conn)
    .unwrap();
    let c = contacts::by_email(&mut conn, "big@example.org").unwrap().unwrap();
    assert_eq!(c.id.0, big);
    let (t, _) = tickets::create(&mut conn, ticket_input(c.id, "big@example.org"), Actor::System).unwrap();
    assert_eq!(tickets::get(&mut conn, t.id).unwrap().requester_id.0, big);
}

fn dates_round_trip(db: &TestDb) {
    let mut conn = db.conn();
    let contact = contacts::find_or_create(&mut conn, "d@example.org", None, Actor::System).unwrap();
    let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 31).unwrap().and_hms_micro_opt(1, 59, 59, 123_456).unwrap();
    let mut input = ticket_input(contact.id, "dated@example.org");
    input.first_message.at = Some(at);
    input.status = Some(TicketStatus::Solved);
    let (t, m) = tickets::create(&mut conn, input, Actor::System).unwrap();
    assert_eq!(t.created_at, at);
    assert_eq!(t.solved_at, Some(at));
    assert_eq!(m.created_at, at);
    let stored: chrono::NaiveDateTime =
        tickets_t::table.find(t.id).select(tickets_t::created_at).first(&mut *conn).unwrap();
    assert_eq!(stored, at);
}

/// A pooled connection that the server closed is replaced (PostgreSQL only:
/// a SQLite connection cannot be closed from outside). Connections used
/// successfully in the last 500 ms are handed out without a ping, so one
/// request may meet the dead connection; the next one gets a new connection.
#[test]
fn a_connection_closed_by_the_server_is_replaced() {
    let Some(test_db) = TestDb::postgres() else {
        eprintln!("SKIPPED: TUSK_TEST_POSTGRES_URL is not set");
        return;
    };
    let options = tusk::db::DbOptions { pool_size: 1, ..tusk::db::DbOptions::default() };
    let db = tusk::db::Db::connect(&test_db.url, &options).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let backend_pid = || {
        rt.block_on(db.run(|conn| {
            Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("pg_backend_pid()"))
                .get_result::<i32>(conn)?)
        }))
    };
    let first = backend_pid().unwrap();
    let mut admin = test_db.conn();
    diesel::sql_query(format!("SELECT pg_terminate_backend({first})")).execute(&mut *admin).unwrap();
    let mut gone = || {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "(SELECT count(*) FROM pg_stat_activity WHERE pid = {first})"
        )))
        .get_result::<i64>(&mut *admin)
        .unwrap()
            == 0
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !gone() {
        assert!(std::time::Instant::now() < deadline, "the backend did not exit");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // The request right after may meet the closed connection (and fail)...
    let next = match backend_pid() {
        Ok(pid) => pid,
        Err(_) => backend_pid().expect("the failed connection is pinged and replaced"),
    };
    // ...and none after it does.
    assert_ne!(next, first);
    assert_eq!(backend_pid().unwrap(), next);
}

/// The provisioning system may send the same `PUT` twice at once (a retry
/// racing the original): every call succeeds, one of them creates the row.
/// On PostgreSQL both find no row and both insert; the loser runs again and
/// finds the winner's (`write_transaction_retrying_unique`).
fn simultaneous_upserts_of_one_new_record_all_succeed(db: &TestDb) {
    use std::sync::Barrier;
    use tusk::domain::api_ops;
    const CALLERS: usize = 6;
    for round in 0..3 {
        let slug = format!("race-{round}");
        let domain = format!("social.race-{round}.example");
        let barrier = Barrier::new(CALLERS);
        let results: Vec<(tusk::AppResult<Upserted>, tusk::AppResult<Upserted>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CALLERS)
                .map(|_| {
                    s.spawn(|| {
                        let mut conn = db.conn();
                        let institution = InstitutionInput {
                            slug: slug.clone(),
                            name: "Race University".into(),
                            default_plan: Some("managed".into()),
                            status: None,
                            domains: Some(vec![format!("race-{round}.example")]),
                        };
                        barrier.wait();
                        let a = api_ops::upsert_institution(&mut conn, &plans(), &institution, Actor::System)
                            .map(|(_, _, outcome)| outcome);
                        let instance = InstanceInput {
                            domain: domain.clone(),
                            institution_slug: slug.clone(),
                            ..Default::default()
                        };
                        // Every thread reaches the second barrier, whatever
                        // its first call gave.
                        barrier.wait();
                        let b = api_ops::upsert_instance(&mut conn, &plans(), &instance, Actor::System)
                            .map(|(_, _, outcome)| outcome);
                        (a, b)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let outcomes: Vec<(Upserted, Upserted)> =
            results.into_iter().map(|(a, b)| (a.expect("institution upsert"), b.expect("instance upsert"))).collect();
        let created = |pick: fn(&(Upserted, Upserted)) -> Upserted| {
            outcomes.iter().filter(|o| pick(o) == Upserted::Created).count()
        };
        assert_eq!(created(|o| o.0), 1, "round {round}: {outcomes:?}");
        assert_eq!(created(|o| o.1), 1, "round {round}: {outcomes:?}");
    }
}

/// The provisioning system moves an email domain from one institution to
/// another: the people under it (subdomains too) move with it, and an admin
/// of the old institution is no admin of the new one. Nobody else moves.
fn contacts_follow_their_domain_to_another_institution(db: &TestDb) {
    let mut conn = db.conn();
    let (lyon, _) = setup_institution(&mut conn);
    let put = |conn: &mut tusk::db::AnyConnection, slug: &str, domains: &[&str]| {
        institutions::upsert(
            conn,
            &plans(),
            &InstitutionInput {
                slug: slug.into(),
                name: slug.into(),
                default_plan: None,
                status: None,
                domains: Some(domains.iter().map(|d| d.to_string()).collect()),
            },
            Actor::System,
        )
        .unwrap()
        .0
    };
    let admin = contacts::find_or_create(&mut conn, "boss@univ-lyon.example", None, Actor::System).unwrap();
    contacts::set_institution_admin(&mut conn, admin.id, true, Actor::System).unwrap();
    let sub = contacts::find_or_create(&mut conn, "ada@cs.univ-lyon.example", None, Actor::System).unwrap();
    let lookalike = contacts::find_or_create(&mut conn, "eve@notuniv-lyon.example", None, Actor::System).unwrap();
    let stranger = contacts::find_or_create(&mut conn, "carl@elsewhere.example", None, Actor::System).unwrap();
    assert_eq!((admin.institution_id, sub.institution_id), (Some(lyon.id), Some(lyon.id)));
    assert_eq!((lookalike.institution_id, stranger.institution_id), (None, None));
    let institution_of = |conn: &mut tusk::db::AnyConnection, id| {
        let c = contacts::get(conn, id).unwrap();
        (c.institution_id, c.is_institution_admin)
    };

    // Lyon lets the domain go: its people belong to no institution now.
    put(&mut conn, "uni-lyon", &["lyon-other.example"]);
    assert_eq!(institution_of(&mut conn, admin.id), (None, false), "no admin of anything");
    assert_eq!(institution_of(&mut conn, sub.id), (None, false));
    // The new owner takes it: they join it, as plain contacts.
    let new_owner = put(&mut conn, "lyon-merged", &["univ-lyon.example"]);
    assert_eq!(institution_of(&mut conn, admin.id), (Some(new_owner.id), false));
    assert_eq!(institution_of(&mut conn, sub.id), (Some(new_owner.id), false));
    // A more specific domain of a third institution takes the subdomain.
    let cs = put(&mut conn, "lyon-cs", &["cs.univ-lyon.example"]);
    assert_eq!(institution_of(&mut conn, sub.id), (Some(cs.id), false));
    assert_eq!(institution_of(&mut conn, admin.id), (Some(new_owner.id), false));
    // Nobody else moved.
    assert_eq!(institution_of(&mut conn, lookalike.id), (None, false));
    assert_eq!(institution_of(&mut conn, stranger.id), (None, false));
    let moves: i64 = events::table
        .filter(events::action.eq("contact.updated"))
        .filter(events::field.eq("institution_id"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(moves, 5, "one event per contact that moved");
}
