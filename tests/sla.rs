//! SLA clocks, policies and notices on SQLite and PostgreSQL: hand-computed
//! scenarios with the default policies of `config/default.toml`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use common::{TestDb, plans};
use diesel::prelude::*;
use tusk::config::Config;
use tusk::db::schema::{events, mail_outbox, sla_notices, sla_segments, tickets as tickets_t};
use tusk::db::{AnyConnection, Channel, ContactId, MessageKind, Priority, Role, TicketId, TicketStatus};
use tusk::domain::instances::{self, InstanceInput};
use tusk::domain::institutions::{self, InstitutionInput};
use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
use tusk::domain::{Actor, agents, contacts};
use tusk::sla::evaluator::{self, EvaluatorOptions};
use tusk::sla::policy::SlaPolicies;
use tusk::sla::store;

on_both_backends!(
    managed_urgent_opened_on_friday_evening,
    single_ticket_opened_before_a_public_holiday,
    pending_over_a_weekend,
    priority_raised_mid_way,
    reopened_ticket,
    notices_are_sent_once_with_two_evaluators_racing,
    recompute_reports_a_proposed_policy_and_writes_only_when_asked,
    a_pass_since_an_instant_finds_the_tickets_changed_after_it,
);

fn paris(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Paris.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap().with_timezone(&Utc)
}

fn naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

fn policies() -> SlaPolicies {
    SlaPolicies::from_config(&Config::defaults().unwrap()).unwrap()
}

fn options() -> EvaluatorOptions {
    EvaluatorOptions::from_config(&Config::defaults().unwrap())
}

/// A managed institution with one instance, and a manager to notify.
fn managed_customer(conn: &mut AnyConnection) -> (ContactId, tusk::db::InstanceId) {
    institutions::upsert(
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
            plan: Some("managed".into()),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap();
    agents::create(conn, "boss@tusk.example", "Boss", Role::Manager, "a long password", Actor::System).unwrap();
    let contact = contacts::find_or_create(conn, "ada@univ-lyon.example", None, Actor::System).unwrap();
    (contact.id, instance.id)
}

/// A contact of no institution: the default plan (single).
fn single_customer(conn: &mut AnyConnection) -> ContactId {
    agents::create(conn, "boss@tusk.example", "Boss", Role::Manager, "a long password", Actor::System).unwrap();
    contacts::find_or_create(conn, "someone@elsewhere.example", None, Actor::System).unwrap().id
}

fn open_ticket(
    conn: &mut AnyConnection,
    requester: ContactId,
    instance: Option<tusk::db::InstanceId>,
    priority: Priority,
    at: DateTime<Utc>,
) -> TicketId {
    let mut first =
        MessageInput::new(MessageKind::Inbound, Author::Contact(requester), "Help", format!("m{}@x", at.timestamp()));
    first.at = Some(naive(at));
    let (t, _) = tickets::create(
        conn,
        TicketInput {
            subject: "Our instance is down".into(),
            requester,
            institution: None,
            institution_from_requester: true,
            instance,
            priority,
            category: None,
            channel: Channel::Email,
            status: None,
            assignee: None,
            tags: vec![],
            triage_reason: None,
            first_message: first,
        },
        Actor::Contact(requester),
    )
    .unwrap();
    t.id
}

fn message(conn: &mut AnyConnection, ticket: TicketId, kind: MessageKind, author: Author, at: DateTime<Utc>) {
    let mut m = MessageInput::new(kind, author, "text", format!("{kind}{}@x", at.timestamp()));
    m.at = Some(naive(at));
    tickets::add_message(conn, ticket, m, Actor::System).unwrap();
}

fn evaluate(conn: &mut AnyConnection, now: DateTime<Utc>) -> evaluator::Evaluation {
    evaluator::evaluate(conn, &policies(), &options(), now).unwrap()
}

fn row(conn: &mut AnyConnection, ticket: TicketId) -> store::TicketSlaRow {
    store::row_of(conn, ticket).unwrap().expect("an SLA row")
}

fn count_events(conn: &mut AnyConnection, ticket: TicketId, action: &str) -> i64 {
    events::table
        .filter(events::ticket_id.eq(ticket))
        .filter(events::action.eq(action))
        .count()
        .get_result(conn)
        .unwrap()
}

fn managed_urgent_opened_on_friday_evening(db: &TestDb) {
    let mut conn = db.conn();
    let (contact, instance) = managed_customer(&mut conn);
    let t = open_ticket(&mut conn, contact, Some(instance), Priority::Urgent, paris(2026, 11, 27, 18, 5));
    assert_eq!(evaluate(&mut conn, paris(2026, 11, 27, 18, 10)).refreshed, 1);
    let r = row(&mut conn, t);
    assert_eq!((r.tier.as_str(), r.priority), ("managed", Priority::Urgent));
    // Urgent on the managed tier runs around the clock: 1 h and 4 h.
    assert_eq!(r.first_response_due_at, Some(naive(paris(2026, 11, 27, 19, 5))));
    assert_eq!(r.resolution_due_at, Some(naive(paris(2026, 11, 27, 22, 5))));
    assert_eq!(r.next_check_at, Some(naive(paris(2026, 11, 27, 18, 50))), "75 % of 1 h");
    // 19:00 is past 90 % (18:59): one warning, at once (urgent), at night.
    let e = evaluate(&mut conn, paris(2026, 11, 27, 19, 0));
    assert_eq!((e.warnings, e.breaches), (1, 0));
    let e = evaluate(&mut conn, paris(2026, 11, 27, 19, 10));
    assert_eq!((e.warnings, e.breaches), (0, 1));
    assert_eq!(count_events(&mut conn, t, "sla.breached"), 1);
    assert!(row(&mut conn, t).breached);
    let kinds: Vec<(String, String)> = mail_outbox::table
        .filter(mail_outbox::ticket_id.eq(t))
        .filter(mail_outbox::kind.like("sla_%"))
        .order(mail_outbox::id.asc())
        .select((mail_outbox::kind, mail_outbox::recipients))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(
        kinds,
        vec![
            ("sla_warning".to_string(), "[\"boss@tusk.example\"]".to_string()),
            ("sla_breach".to_string(), "[\"boss@tusk.example\"]".to_string())
        ]
    );
    // The mails name the tier as people read it, not by its id.
    let payloads: Vec<String> = mail_outbox::table
        .filter(mail_outbox::ticket_id.eq(t))
        .filter(mail_outbox::kind.like("sla_%"))
        .select(mail_outbox::payload)
        .load(&mut *conn)
        .unwrap();
    for p in payloads {
        let p: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(p["plan"], "All-in-One Managed", "{p}");
        assert_eq!(p["priority"], "urgent", "{p}");
    }
    let due = evaluator::due_soon(&mut conn, paris(2026, 11, 27, 19, 10), chrono::Duration::hours(1), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert!(due[0].breached);
}

fn single_ticket_opened_before_a_public_holiday(db: &TestDb) {
    let mut conn = db.conn();
    let contact = single_customer(&mut conn);
    let t = open_ticket(&mut conn, contact, None, Priority::Normal, paris(2026, 12, 24, 16, 0));
    evaluate(&mut conn, paris(2026, 12, 24, 16, 5));
    let r = row(&mut conn, t);
    assert_eq!(r.tier, "single");
    // Thu 16:00-18:00 = 2 h; Christmas Friday and the weekend closed;
    // Mon 28: 09:00-12:30 + 13:30-16:00 = 6 h.
    assert_eq!(r.first_response_due_at, Some(naive(paris(2026, 12, 28, 16, 0))));
    // A non-urgent warning waits for business hours: nothing on Sunday.
    let e = evaluate(&mut conn, paris(2026, 12, 27, 12, 0));
    assert_eq!((e.warnings, e.breaches), (0, 0));
    let e = evaluate(&mut conn, paris(2026, 12, 28, 16, 1));
    assert_eq!((e.warnings, e.breaches), (0, 1));
}

fn pending_over_a_weekend(db: &TestDb) {
    let mut conn = db.conn();
    let contact = single_customer(&mut conn);
    let agent =
        agents::create(&mut conn, "bob@tusk.example", "Bob", Role::Agent, "a long password", Actor::System).unwrap();
    let t = open_ticket(&mut conn, contact, None, Priority::Normal, paris(2026, 11, 27, 10, 0));
    message(&mut conn, t, MessageKind::Reply, Author::Agent(agent.id), paris(2026, 11, 27, 11, 0));
    tickets::change_status_at(
        &mut conn,
        t,
        TicketStatus::Pending,
        Actor::Agent(agent.id),
        naive(paris(2026, 11, 27, 11, 0)),
    )
    .unwrap();
    evaluate(&mut conn, paris(2026, 11, 28, 12, 0));
    assert_eq!(row(&mut conn, t).state, "paused");
    message(&mut conn, t, MessageKind::Inbound, Author::Contact(contact), paris(2026, 11, 30, 14, 0));
    evaluate(&mut conn, paris(2026, 11, 30, 15, 0));
    let r = row(&mut conn, t);
    assert_eq!(r.first_response_business_secs, Some(3600));
    assert_eq!(r.next_response_due_at, Some(naive(paris(2026, 12, 1, 14, 0))));
    assert_eq!(r.resolution_due_at, Some(naive(paris(2026, 12, 7, 12, 0))));
    assert_eq!(r.paused_secs, 75 * 3600);
    let paused: i64 = sla_segments::table
        .filter(sla_segments::ticket_id.eq(t))
        .filter(sla_segments::metric.eq("resolution"))
        .filter(sla_segments::kind.eq("paused"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(paused, 1);
}

fn priority_raised_mid_way(db: &TestDb) {
    let mut conn = db.conn();
    let contact = single_customer(&mut conn);
    let agent =
        agents::create(&mut conn, "bob@tusk.example", "Bob", Role::Agent, "a long password", Actor::System).unwrap();
    let t = open_ticket(&mut conn, contact, None, Priority::Normal, paris(2026, 11, 30, 9, 0));
    evaluate(&mut conn, paris(2026, 11, 30, 10, 0));
    assert_eq!(row(&mut conn, t).first_response_due_at, Some(naive(paris(2026, 11, 30, 18, 0))));
    tickets::change_priority(&mut conn, t, Priority::Urgent, Actor::Agent(agent.id)).unwrap();
    let ticket = tickets::get(&mut conn, t).unwrap();
    evaluator::evaluate_ticket(&mut conn, &ticket, &policies(), &options(), paris(2026, 11, 30, 10, 0)).unwrap();
    let r = row(&mut conn, t);
    assert_eq!(r.priority, Priority::Urgent);
    // Single urgent: 2 h of office time from 09:00.
    assert_eq!(r.first_response_due_at, Some(naive(paris(2026, 11, 30, 11, 0))));
    assert_eq!(count_events(&mut conn, t, "sla.policy_applied"), 2);
    message(&mut conn, t, MessageKind::Reply, Author::Agent(agent.id), paris(2026, 11, 30, 11, 30));
    let e = evaluate(&mut conn, paris(2026, 11, 30, 12, 0));
    assert_eq!(e.breaches, 1);
    let r = row(&mut conn, t);
    assert_eq!(r.first_response_business_secs, Some(150 * 60));
    assert_eq!(count_events(&mut conn, t, "sla.breached"), 1);
}

/// The periodic evaluator's cheap passes compare only tickets updated since
/// an instant with their SLA rows; a full pass compares every ticket.
fn a_pass_since_an_instant_finds_the_tickets_changed_after_it(db: &TestDb) {
    let mut conn = db.conn();
    let (contact, instance) = managed_customer(&mut conn);
    let at = paris(2026, 11, 27, 10, 0);
    let minutes = chrono::Duration::minutes;
    let pass = |conn: &mut AnyConnection, now: DateTime<Utc>, since: Option<DateTime<Utc>>| {
        evaluator::evaluate_changed_since(conn, &policies(), &options(), now, since.map(naive)).unwrap().refreshed
    };
    // A ticket without an SLA row: missed by a pass looking after its last
    // update, found by one looking from before it.
    let t = open_ticket(&mut conn, contact, Some(instance), Priority::Normal, at);
    assert!(store::row_of(&mut conn, t).unwrap().is_none());
    assert_eq!(pass(&mut conn, at + minutes(5), Some(at + minutes(1))), 0);
    assert_eq!(pass(&mut conn, at + minutes(5), Some(at - minutes(1))), 1);
    assert_eq!(row(&mut conn, t).computed_at, naive(at + minutes(5)));
    // A write that did not refresh the clocks (as another program's might).
    diesel::update(tickets_t::table.find(t))
        .set(tickets_t::updated_at.eq(naive(at + minutes(10))))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(pass(&mut conn, at + minutes(15), Some(at + minutes(11))), 0);
    assert_eq!(pass(&mut conn, at + minutes(15), Some(at + minutes(9))), 1);
    assert_eq!(row(&mut conn, t).computed_at, naive(at + minutes(15)));
    // Nothing changed since: nothing to do, whatever the range.
    assert_eq!(pass(&mut conn, at + minutes(16), Some(at - minutes(60))), 0);
    // A full pass finds the next unrefreshed change wherever it lies.
    diesel::update(tickets_t::table.find(t))
        .set(tickets_t::updated_at.eq(naive(at + minutes(20))))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(evaluate(&mut conn, at + minutes(25)).refreshed, 1);
}

fn reopened_ticket(db: &TestDb) {
    let mut conn = db.conn();
    let contact = single_customer(&mut conn);
    let agent =
        agents::create(&mut conn, "bob@tusk.example", "Bob", Role::Agent, "a long password", Actor::System).unwrap();
    let t = open_ticket(&mut conn, contact, None, Priority::Normal, paris(2026, 11, 30, 9, 0));
    evaluate(&mut conn, paris(2026, 11, 30, 9, 30));
    message(&mut conn, t, MessageKind::Reply, Author::Agent(agent.id), paris(2026, 11, 30, 10, 0));
    tickets::change_status_at(
        &mut conn,
        t,
        TicketStatus::Solved,
        Actor::Agent(agent.id),
        naive(paris(2026, 11, 30, 12, 0)),
    )
    .unwrap();
    evaluate(&mut conn, paris(2026, 12, 1, 9, 0));
    let r = row(&mut conn, t);
    assert_eq!((r.state.as_str(), r.resolution_business_secs), ("done", Some(3 * 3600)));
    message(&mut conn, t, MessageKind::Inbound, Author::Contact(contact), paris(2026, 12, 2, 9, 0));
    evaluate(&mut conn, paris(2026, 12, 2, 10, 0));
    let r = row(&mut conn, t);
    assert_eq!(r.state, "running");
    assert_eq!(r.resolution_business_secs, None);
    assert_eq!(r.paused_secs, 45 * 3600);
    // 3 h used; 37 h from Wed 09:00.
    assert_eq!(r.resolution_due_at, Some(naive(paris(2026, 12, 8, 15, 0))));
    // A next-response clock started with the customer's message.
    // Wed 09:00-12:30 + 13:30-18:00 = 8 h.
    assert_eq!(r.next_response_due_at, Some(naive(paris(2026, 12, 2, 18, 0))));
}

fn notices_are_sent_once_with_two_evaluators_racing(db: &TestDb) {
    let tickets: Vec<TicketId> = {
        let mut conn = db.conn();
        let (contact, instance) = managed_customer(&mut conn);
        (0..5)
            .map(|i| open_ticket(&mut conn, contact, Some(instance), Priority::Urgent, paris(2026, 11, 27, 18, i)))
            .collect()
    };
    let now = paris(2026, 11, 27, 23, 0);
    let sent: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = db.conn();
                    let mut sent = 0;
                    for &t in &tickets {
                        let ticket = tickets::get(&mut conn, t).unwrap();
                        loop {
                            match evaluator::evaluate_ticket(&mut conn, &ticket, &policies(), &options(), now) {
                                Ok((w, b)) => {
                                    sent += w + b;
                                    break;
                                }
                                // A lost race on the SLA row insert: retry.
                                Err(_) => continue,
                            }
                        }
                    }
                    sent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let mut conn = db.conn();
    // Each ticket: first response and resolution breached, once each.
    assert_eq!(sent, 10);
    let notices: i64 = sla_notices::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(notices, 10);
    let mails: i64 =
        mail_outbox::table.filter(mail_outbox::kind.eq("sla_breach")).count().get_result(&mut *conn).unwrap();
    assert_eq!(mails, 10);
}

fn recompute_reports_a_proposed_policy_and_writes_only_when_asked(db: &TestDb) {
    let mut conn = db.conn();
    let contact = single_customer(&mut conn);
    let t = open_ticket(&mut conn, contact, None, Priority::Normal, paris(2026, 11, 30, 9, 0));
    let now = paris(2026, 11, 30, 10, 0);
    evaluate(&mut conn, now);
    let current = tusk::sla::recompute::recompute(&mut conn, &policies(), now, false).unwrap();
    assert_eq!((current.tickets, current.changed_tickets), (1, 0));
    // Proposed: single normal first response in 4 h instead of 8 h.
    let mut config = Config::defaults().unwrap();
    let single = config.sla.get_mut("single").unwrap();
    single.normal.first_response = Some(tusk::sla::policy::BusinessDuration::minutes(240));
    let proposed = SlaPolicies::from_config(&config).unwrap();
    let dry = tusk::sla::recompute::recompute(&mut conn, &proposed, now, false).unwrap();
    assert_eq!(dry.changed_tickets, 1);
    let due = dry.changes.iter().find(|c| c.field == "first_response_due_at").unwrap();
    assert_eq!(due.old.as_deref(), Some("2026-11-30 17:00:00"));
    assert_eq!(due.new.as_deref(), Some("2026-11-30 13:00:00"));
    assert_eq!(row(&mut conn, t).first_response_due_at, Some(naive(paris(2026, 11, 30, 18, 0))), "dry run wrote");
    tusk::sla::recompute::recompute(&mut conn, &proposed, now, true).unwrap();
    // 09:00-12:30 + 13:30-14:00.
    assert_eq!(row(&mut conn, t).first_response_due_at, Some(naive(paris(2026, 11, 30, 14, 0))));
    assert_eq!(count_events(&mut conn, t, "sla.policy_applied"), 2);
}
