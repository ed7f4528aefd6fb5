//! SLA reports on SQLite and PostgreSQL over a small deterministic dataset
//! driven through the real domain and SLA functions with controlled
//! timestamps (default policies of `config/default.toml`: single tier on
//! Paris office hours 09:00-12:30 + 13:30-18:00 with French holidays,
//! managed tier 08:00-20:00, managed urgent 24x7). Every achieved business
//! time below is computed by hand in the comments; the expected group
//! figures follow from that per-ticket table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use common::{TestDb, plans};
use diesel::prelude::*;
use mail_parser::{MessageParser, MimeHeaders};
use tusk::config::{Config, Secret};
use tusk::db::schema::{agents, mail_outbox, report_deliveries};
use tusk::db::{
    AgentId, AnyConnection, Channel, ContactId, InstanceId, MessageKind, Priority, Role, TicketId, TicketStatus,
};
use tusk::domain::instances::{self, InstanceInput};
use tusk::domain::institutions::{self, InstitutionInput};
use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
use tusk::domain::{Actor, agents as agent_fns, contacts};
use tusk::mail::outbound::Templates;
use tusk::mail::outbound::worker::{MailWorker, SenderIdentity, WorkerSettings, transport_from_config};
use tusk::reports::{self, GroupBy, ReportQuery, SlaReport};
use tusk::sla::policy::SlaPolicies;
use tusk::sla::store;

on_both_backends!(
    compliance_by_every_grouping,
    breaches_backlog_and_weeks,
    csv_parses_back_to_the_same_numbers,
    svg_charts_carry_the_series,
    weekly_summary_is_queued_once_and_sent_with_the_csv,
    seed_fills_sla_facts_as_the_engine_computes_them,
    console_page_and_api_serve_the_report,
    sla_row_keeps_the_report_instants,
);

fn paris(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Paris.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap().with_timezone(&Utc)
}

fn policies() -> SlaPolicies {
    SlaPolicies::from_config(&Config::defaults().unwrap()).unwrap()
}

/// The instant every report of these tests is computed for: Mon 4 Jan 2027 10:00.
fn as_of() -> DateTime<Utc> {
    paris(2027, 1, 4, 10, 0)
}

/// Tickets opened from Mon 30 Nov to Sun 27 Dec 2026 (four weeks).
fn query(group_by: GroupBy) -> ReportQuery {
    ReportQuery::for_dates(
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 27).unwrap(),
        Paris,
        group_by,
        as_of(),
    )
    .unwrap()
}

struct World {
    lyon: ContactId,
    nantes: ContactId,
    stranger: ContactId,
    lyon_instance: InstanceId,
    nantes_instance: InstanceId,
    alice: AgentId,
    bob: AgentId,
    /// Ticket numbers T0..T10.
    numbers: BTreeMap<&'static str, i64>,
}

fn customers(conn: &mut AnyConnection) -> World {
    let mut inst = |slug: &str, name: &str, plan: &str, domain: &str| {
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
        .unwrap();
    };
    inst("uni-lyon", "Université de Lyon", "managed", "univ-lyon.example");
    inst("uni-nantes", "Université de Nantes, \"IUT\"", "single", "univ-nantes.example");
    let mut instance = |domain: &str, slug: &str, plan: &str| {
        instances::upsert(
            conn,
            &plans(),
            &InstanceInput {
                domain: domain.into(),
                institution_slug: slug.into(),
                plan: Some(plan.into()),
                ..Default::default()
            },
            Actor::System,
        )
        .unwrap()
        .0
        .id
    };
    let lyon_instance = instance("social.univ-lyon.example", "uni-lyon", "managed");
    let nantes_instance = instance("masto.univ-nantes.example", "uni-nantes", "single");
    let alice =
        agent_fns::create(conn, "alice@tusk.example", "Alice", Role::Agent, "a long password", Actor::System).unwrap();
    let bob =
        agent_fns::create(conn, "bob@tusk.example", "Bob", Role::Agent, "a long password", Actor::System).unwrap();
    agent_fns::create(conn, "boss@tusk.example", "Boss", Role::Manager, "a long password", Actor::System).unwrap();
    let gone =
        agent_fns::create(conn, "gone@tusk.example", "Gone", Role::Manager, "a long password", Actor::System).unwrap();
    diesel::update(agents::table.find(gone.id)).set(agents::active.eq(false)).execute(conn).unwrap();
    World {
        lyon: contacts::find_or_create(conn, "ada@univ-lyon.example", None, Actor::System).unwrap().id,
        nantes: contacts::find_or_create(conn, "jules@univ-nantes.example", None, Actor::System).unwrap().id,
        stranger: contacts::find_or_create(conn, "someone@elsewhere.example", None, Actor::System).unwrap().id,
        lyon_instance,
        nantes_instance,
        alice: alice.id,
        bob: bob.id,
        numbers: BTreeMap::new(),
    }
}

fn open(
    conn: &mut AnyConnection,
    requester: ContactId,
    instance: Option<InstanceId>,
    priority: Priority,
    assignee: Option<AgentId>,
    at: DateTime<Utc>,
) -> (TicketId, i64) {
    let mut first = MessageInput::new(
        MessageKind::Inbound,
        Author::Contact(requester),
        "Help",
        format!("open.{}.{}@x", requester.0, at.timestamp()),
    );
    first.at = Some(at.naive_utc());
    let (t, _) = tickets::create(
        conn,
        TicketInput {
            subject: format!("Problem <{}>", at.format("%d %b")),
            requester,
            institution: None,
            institution_from_requester: true,
            instance,
            priority,
            category: None,
            channel: Channel::Email,
            status: None,
            assignee,
            tags: vec![],
            triage_reason: None,
            first_message: first,
        },
        Actor::Contact(requester),
    )
    .unwrap();
    (t.id, t.number)
}

fn reply(conn: &mut AnyConnection, t: TicketId, agent: AgentId, at: DateTime<Utc>) {
    let mut m = MessageInput::new(
        MessageKind::Reply,
        Author::Agent(agent),
        "answer",
        format!("r.{}.{}@x", t.0, at.timestamp()),
    );
    m.at = Some(at.naive_utc());
    tickets::add_message(conn, t, m, Actor::Agent(agent)).unwrap();
}

fn customer(conn: &mut AnyConnection, t: TicketId, who: ContactId, at: DateTime<Utc>) {
    let mut m = MessageInput::new(
        MessageKind::Inbound,
        Author::Contact(who),
        "more",
        format!("c.{}.{}@x", t.0, at.timestamp()),
    );
    m.at = Some(at.naive_utc());
    tickets::add_message(conn, t, m, Actor::Contact(who)).unwrap();
}

fn status(conn: &mut AnyConnection, t: TicketId, s: TicketStatus, at: DateTime<Utc>) {
    tickets::change_status_at(conn, t, s, Actor::System, at.naive_utc()).unwrap();
}

fn refresh(conn: &mut AnyConnection, t: TicketId, at: DateTime<Utc>) -> store::TicketSlaRow {
    let ticket = tickets::get(conn, t).unwrap();
    store::refresh(conn, &ticket, &policies(), at).unwrap().row
}

/// Hand-computed facts of one cohort ticket.
#[derive(Debug, Clone, Copy)]
struct Expect {
    name: &'static str,
    tier: &'static str,
    priority: &'static str,
    institution: &'static str,
    instance: &'static str,
    agent: &'static str,
    /// (met?, achieved business secs) or None when pending; met=false: breached.
    fr: Option<(bool, Option<i64>)>,
    res: Option<(bool, Option<i64>)>,
}

const LYON: &str = "Université de Lyon";
const NANTES: &str = "Université de Nantes, \"IUT\"";
const L: &str = "social.univ-lyon.example";
const N: &str = "masto.univ-nantes.example";
const NONE: &str = "(none)";

/// The cohort (tickets opened 30 Nov - 27 Dec 2026), by hand.
const COHORT: [Expect; 7] = [
    // T1 managed urgent (24x7): Fri 4 Dec 18:05, reply 18:35 (30 min of 1 h),
    // solved 21:05 (3 h of 4 h).
    Expect {
        name: "T1",
        tier: "managed",
        priority: "urgent",
        institution: LYON,
        instance: L,
        agent: "Alice",
        fr: Some((true, Some(1800))),
        res: Some((true, Some(10_800))),
    },
    // T2 managed normal (08:00-20:00): Mon 30 Nov 10:00, reply 16:00 (6 h of
    // 4 h: breached); pending 16:00 until the customer writes Wed 10:00;
    // solved Wed 12:00: 6 h + 2 h = 8 h of 24 h.
    Expect {
        name: "T2",
        tier: "managed",
        priority: "normal",
        institution: LYON,
        instance: L,
        agent: "Bob",
        fr: Some((false, Some(21_600))),
        res: Some((true, Some(28_800))),
    },
    // T3 single normal, opened Thu 24 Dec 16:00 before Christmas; reply Mon
    // 28 Dec 11:00: Thu 16-18 (2 h) + Mon 09-11 (2 h) = 4 h of 8 h. Not
    // solved: by Mon 4 Jan 10:00 it used 2+8+8+8+8 (New Year closed) +1 =
    // 35 h of 40 h: pending.
    Expect {
        name: "T3",
        tier: "single",
        priority: "normal",
        institution: NANTES,
        instance: N,
        agent: "Alice",
        fr: Some((true, Some(14_400))),
        res: None,
    },
    // T4 single (default plan, no institution) urgent, Mon 7 Dec 09:00,
    // never answered; last computed at 10:00 (still "running", due 11:00
    // and 18:00): both overdue at the report instant.
    Expect {
        name: "T4",
        tier: "single",
        priority: "urgent",
        institution: NONE,
        instance: NONE,
        agent: NONE,
        fr: Some((false, None)),
        res: Some((false, None)),
    },
    // T5 single high, Tue 1 Dec 09:00, reply 10:00 (1 h of 4 h), solved
    // 12:00 (3 h), reopened by the customer Wed 09:00, solved again Thu
    // 17:00: 3 h + Wed 8 h + Thu 7 h = 18 h of 16 h: breached by the reopen.
    Expect {
        name: "T5",
        tier: "single",
        priority: "high",
        institution: NANTES,
        instance: NONE,
        agent: "Alice",
        fr: Some((true, Some(3600))),
        res: Some((false, Some(64_800))),
    },
    // T6 managed (institution default) low, Wed 9 Dec 09:00, reply 12:00 (3 h
    // of 8 h), on hold 12:00 until Fri 08:00, solved Fri 10:00: 3 h + 2 h.
    Expect {
        name: "T6",
        tier: "managed",
        priority: "low",
        institution: LYON,
        instance: NONE,
        agent: "Bob",
        fr: Some((true, Some(10_800))),
        res: Some((true, Some(18_000))),
    },
    // T7 single normal, Mon 14 Dec 09:00, reply Tue 10:00: 8 h + 1 h = 9 h of
    // 8 h (breached); solved Tue 11:00: 10 h of 40 h.
    Expect {
        name: "T7",
        tier: "single",
        priority: "normal",
        institution: NANTES,
        instance: N,
        agent: "Bob",
        fr: Some((false, Some(32_400))),
        res: Some((true, Some(36_000))),
    },
];

fn build(conn: &mut AnyConnection) -> World {
    let mut w = customers(conn);
    let now = as_of();
    // T0: opened before the range (Fri 27 Nov), solved in it (Mon 30 Nov).
    let (t0, n0) = open(conn, w.lyon, Some(w.lyon_instance), Priority::Normal, Some(w.bob), paris(2026, 11, 27, 10, 0));
    reply(conn, t0, w.bob, paris(2026, 11, 27, 11, 0));
    status(conn, t0, TicketStatus::Solved, paris(2026, 11, 30, 11, 0));
    refresh(conn, t0, now);

    let (t1, n1) =
        open(conn, w.lyon, Some(w.lyon_instance), Priority::Urgent, Some(w.alice), paris(2026, 12, 4, 18, 5));
    reply(conn, t1, w.alice, paris(2026, 12, 4, 18, 35));
    status(conn, t1, TicketStatus::Solved, paris(2026, 12, 4, 21, 5));
    refresh(conn, t1, now);

    let (t2, n2) = open(conn, w.lyon, Some(w.lyon_instance), Priority::Normal, Some(w.bob), paris(2026, 11, 30, 10, 0));
    reply(conn, t2, w.bob, paris(2026, 11, 30, 16, 0));
    status(conn, t2, TicketStatus::Pending, paris(2026, 11, 30, 16, 0));
    customer(conn, t2, w.lyon, paris(2026, 12, 2, 10, 0));
    status(conn, t2, TicketStatus::Solved, paris(2026, 12, 2, 12, 0));
    refresh(conn, t2, now);

    let (t3, n3) =
        open(conn, w.nantes, Some(w.nantes_instance), Priority::Normal, Some(w.alice), paris(2026, 12, 24, 16, 0));
    reply(conn, t3, w.alice, paris(2026, 12, 28, 11, 0));
    refresh(conn, t3, now);

    let (t4, n4) = open(conn, w.stranger, None, Priority::Urgent, None, paris(2026, 12, 7, 9, 0));
    refresh(conn, t4, paris(2026, 12, 7, 10, 0));

    let (t5, n5) = open(conn, w.nantes, None, Priority::High, Some(w.alice), paris(2026, 12, 1, 9, 0));
    reply(conn, t5, w.alice, paris(2026, 12, 1, 10, 0));
    status(conn, t5, TicketStatus::Solved, paris(2026, 12, 1, 12, 0));
    customer(conn, t5, w.nantes, paris(2026, 12, 2, 9, 0));
    status(conn, t5, TicketStatus::Solved, paris(2026, 12, 3, 17, 0));
    refresh(conn, t5, now);

    let (t6, n6) = open(conn, w.lyon, None, Priority::Low, Some(w.bob), paris(2026, 12, 9, 9, 0));
    reply(conn, t6, w.bob, paris(2026, 12, 9, 12, 0));
    status(conn, t6, TicketStatus::OnHold, paris(2026, 12, 9, 12, 0));
    status(conn, t6, TicketStatus::Open, paris(2026, 12, 11, 8, 0));
    status(conn, t6, TicketStatus::Solved, paris(2026, 12, 11, 10, 0));
    refresh(conn, t6, now);

    let (t7, n7) =
        open(conn, w.nantes, Some(w.nantes_instance), Priority::Normal, Some(w.bob), paris(2026, 12, 14, 9, 0));
    reply(conn, t7, w.bob, paris(2026, 12, 15, 10, 0));
    status(conn, t7, TicketStatus::Solved, paris(2026, 12, 15, 11, 0));
    refresh(conn, t7, now);

    // After the range, open: backlog only.
    let (t8, n8) = open(conn, w.nantes, None, Priority::Normal, None, paris(2027, 1, 2, 10, 0));
    refresh(conn, t8, now);
    let (t9, n9) = open(conn, w.lyon, Some(w.lyon_instance), Priority::Normal, None, paris(2027, 1, 4, 8, 0));
    refresh(conn, t9, now);
    // Before the range, pending for months: backlog older than 30 days.
    let (t10, n10) = open(conn, w.lyon, Some(w.lyon_instance), Priority::Normal, None, paris(2026, 10, 1, 10, 0));
    status(conn, t10, TicketStatus::Pending, paris(2026, 10, 1, 11, 0));
    refresh(conn, t10, now);

    // The hand-computed per-ticket figures match what the engine stored.
    for (t, e) in [(t1, 0), (t2, 1), (t3, 2), (t4, 3), (t5, 4), (t6, 5), (t7, 6)] {
        let row = store::row_of(conn, t).unwrap().unwrap();
        let e = COHORT[e];
        assert_eq!(row.tier, e.tier, "{}", e.name);
        assert_eq!(row.first_response_business_secs, e.fr.and_then(|f| f.1), "{} first response", e.name);
        assert_eq!(row.resolution_business_secs, e.res.and_then(|r| r.1), "{} resolution", e.name);
    }
    w.numbers = BTreeMap::from([
        ("T0", n0),
        ("T1", n1),
        ("T2", n2),
        ("T3", n3),
        ("T4", n4),
        ("T5", n5),
        ("T6", n6),
        ("T7", n7),
        ("T8", n8),
        ("T9", n9),
        ("T10", n10),
    ]);
    w
}

/// (met, breached, pending, median, p90) of one metric.
type Figures = (i64, i64, i64, Option<i64>, Option<i64>);

/// Nearest rank, by sorting (the reference for the report's selection).
fn reference(outcomes: &[Option<(bool, Option<i64>)>]) -> Figures {
    let met = outcomes.iter().filter(|o| matches!(o, Some((true, _)))).count() as i64;
    let breached = outcomes.iter().filter(|o| matches!(o, Some((false, _)))).count() as i64;
    let pending = outcomes.iter().filter(|o| o.is_none()).count() as i64;
    let mut values: Vec<i64> = outcomes.iter().filter_map(|o| o.and_then(|(_, s)| s)).collect();
    values.sort_unstable();
    let rank = |p: usize| (!values.is_empty()).then(|| values[(values.len() * p).div_ceil(100).max(1) - 1]);
    (met, breached, pending, rank(50), rank(90))
}

fn figures(m: &reports::MetricStats) -> Figures {
    (m.met, m.breached, m.pending, m.median_secs, m.p90_secs)
}

fn key_of(e: &Expect, g: GroupBy) -> &'static str {
    match g {
        GroupBy::Tier => e.tier,
        GroupBy::Priority => e.priority,
        GroupBy::Institution => e.institution,
        GroupBy::Instance => e.instance,
        GroupBy::Agent => e.agent,
    }
}

fn report(conn: &mut AnyConnection, g: GroupBy) -> SlaReport {
    reports::sla_report(conn, &query(g)).unwrap()
}

fn compliance_by_every_grouping(db: &TestDb) {
    let mut conn = db.conn();
    build(&mut conn);

    // The tier report, written out by hand.
    let r = report(&mut conn, GroupBy::Tier);
    let by: BTreeMap<&str, &reports::GroupRow> = r.groups.iter().map(|g| (g.key.as_str(), g)).collect();
    assert_eq!(by.keys().copied().collect::<Vec<_>>(), ["managed", "single"]);
    let managed = by["managed"];
    assert_eq!(managed.tickets, 3);
    // First response: 1800 met, 21600 breached, 10800 met.
    assert_eq!(figures(&managed.first_response), (2, 1, 0, Some(10_800), Some(21_600)));
    assert!((managed.first_response.percent_met.unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(figures(&managed.resolution), (3, 0, 0, Some(18_000), Some(28_800)));
    assert_eq!(managed.resolution.percent_met, Some(100.0));
    let single = by["single"];
    assert_eq!(single.tickets, 4);
    // 14400 met, T4 overdue, 3600 met, 32400 breached.
    assert_eq!(figures(&single.first_response), (2, 2, 0, Some(14_400), Some(32_400)));
    assert_eq!(single.first_response.percent_met, Some(50.0));
    // T3 pending, T4 overdue, 64800 breached (reopened), 36000 met.
    assert_eq!(figures(&single.resolution), (1, 2, 1, Some(36_000), Some(64_800)));
    assert!((single.resolution.percent_met.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(r.total.tickets, 7);
    assert_eq!(figures(&r.total.first_response), (4, 3, 0, Some(10_800), Some(32_400)));
    assert_eq!(figures(&r.total.resolution), (4, 2, 1, Some(28_800), Some(64_800)));

    // Every grouping against the hand-computed per-ticket table.
    for g in GroupBy::ALL {
        let r = report(&mut conn, g);
        let mut expected: BTreeMap<&str, Vec<&Expect>> = BTreeMap::new();
        for e in &COHORT {
            expected.entry(key_of(e, g)).or_default().push(e);
        }
        let got: BTreeMap<&str, &reports::GroupRow> = r.groups.iter().map(|row| (row.label.as_str(), row)).collect();
        assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "groups by {g}");
        for (label, tickets) in &expected {
            let row = got[label];
            assert_eq!(row.tickets, tickets.len() as i64, "{g} {label}");
            let fr: Vec<_> = tickets.iter().map(|e| e.fr).collect();
            let res: Vec<_> = tickets.iter().map(|e| e.res).collect();
            assert_eq!(figures(&row.first_response), reference(&fr), "{g} {label} first response");
            assert_eq!(figures(&row.resolution), reference(&res), "{g} {label} resolution");
        }
        assert_eq!(figures(&r.total.first_response), (4, 3, 0, Some(10_800), Some(32_400)), "{g} total");
    }
}

fn breaches_backlog_and_weeks(db: &TestDb) {
    let mut conn = db.conn();
    let w = build(&mut conn);
    let r = report(&mut conn, GroupBy::Tier);

    // Breaches, newest ticket first: T7 first response; T4 both; T5
    // resolution; T2 first response.
    assert_eq!(r.breaches_total, 5);
    let got: Vec<(i64, &str, bool, Option<i64>)> =
        r.breaches.iter().map(|b| (b.number, b.metric.as_str(), b.still_open, b.business_secs)).collect();
    let n = |t: &str| w.numbers[t];
    assert_eq!(
        got,
        vec![
            (n("T7"), "first_response", false, Some(32_400)),
            (n("T4"), "first_response", true, None),
            (n("T4"), "resolution", true, None),
            (n("T5"), "resolution", false, Some(64_800)),
            (n("T2"), "first_response", false, Some(21_600)),
        ]
    );
    assert_eq!(r.breaches[0].link, format!("/console/tickets/{}", n("T7")));
    assert_eq!(r.breaches[1].due_at, Some(paris(2026, 12, 7, 11, 0).naive_utc()));
    assert_eq!(r.breaches[1].institution, None);
    assert_eq!(r.breaches[0].instance.as_deref(), Some(N));
    assert_eq!(r.breaches[0].agent.as_deref(), Some("Bob"));

    // Backlog at Mon 4 Jan 10:00: managed T9 (2 h) and T10 (> 30 d, pending);
    // single T8 (2 days), T3 (11 days) and T4 (28 days).
    let backlog: Vec<(&str, Vec<i64>, i64)> =
        r.backlog.iter().map(|b| (b.tier.as_str(), b.by_age.clone(), b.total)).collect();
    assert_eq!(backlog, vec![("managed", vec![1, 0, 0, 0, 1], 2), ("single", vec![0, 1, 0, 2, 0], 3)]);

    // Weeks (Mondays, Paris): new / solved / first response met-breached /
    // resolution met-breached per tier. T0 was opened before the range but
    // solved in its first week; T5 counts at its last solve.
    let weeks: Vec<(String, &str, [i64; 6])> = r
        .weeks
        .iter()
        .map(|x| {
            (
                x.week.to_string(),
                x.tier.as_str(),
                [
                    x.new,
                    x.solved,
                    x.first_response_met,
                    x.first_response_breached,
                    x.resolution_met,
                    x.resolution_breached,
                ],
            )
        })
        .collect();
    let expect = |week: &str, tier: &'static str, v: [i64; 6]| (week.to_string(), tier, v);
    assert_eq!(
        weeks,
        vec![
            expect("2026-11-30", "managed", [2, 3, 1, 1, 2, 0]),
            expect("2026-11-30", "single", [1, 1, 1, 0, 0, 1]),
            expect("2026-12-07", "managed", [1, 1, 1, 0, 1, 0]),
            expect("2026-12-07", "single", [1, 0, 0, 1, 0, 1]),
            expect("2026-12-14", "managed", [0, 0, 0, 0, 0, 0]),
            expect("2026-12-14", "single", [1, 1, 0, 1, 1, 0]),
            expect("2026-12-21", "managed", [0, 0, 0, 0, 0, 0]),
            expect("2026-12-21", "single", [1, 0, 1, 0, 0, 0]),
        ]
    );
    // JSON carries the same figures.
    let json: serde_json::Value = serde_json::from_str(&reports::to_json(&r).unwrap()).unwrap();
    assert_eq!(json["total"]["first_response"]["median_secs"], 10_800);
    assert_eq!(json["groups"][1]["resolution"]["pending"], 1);
    assert_eq!(json["breaches_total"], 5);
    // The text table lists every group and the total.
    let text = reports::table::render_report(&r);
    assert!(text.contains("managed") && text.contains("single") && text.contains("All"), "{text}");
    assert!(text.contains("50.0 %"), "{text}");
}

fn csv_parses_back_to_the_same_numbers(db: &TestDb) {
    let mut conn = db.conn();
    build(&mut conn);
    for g in GroupBy::ALL {
        let r = report(&mut conn, g);
        let text = reports::csv::summary(&r).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header, reports::csv::SUMMARY_HEADER);
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), r.groups.len() + 1, "{g}");
        let num = |rec: &csv::StringRecord, i: usize| -> Option<i64> {
            let s = &rec[i];
            (!s.is_empty()).then(|| s.parse().unwrap())
        };
        for (rec, row) in records.iter().zip(r.groups.iter().chain([&r.total])) {
            assert_eq!(&rec[0], g.as_str());
            assert_eq!((&rec[1], &rec[2]), (row.key.as_str(), row.label.as_str()));
            assert_eq!(num(rec, 3), Some(row.tickets));
            for (base, m) in [(4, &row.first_response), (10, &row.resolution)] {
                let parsed: Figures = (
                    num(rec, base).unwrap(),
                    num(rec, base + 1).unwrap(),
                    num(rec, base + 2).unwrap(),
                    num(rec, base + 4),
                    num(rec, base + 5),
                );
                assert_eq!(parsed, figures(m), "{g} {}", row.key);
                let pct: Option<f64> = (!rec[base + 3].is_empty()).then(|| rec[base + 3].parse().unwrap());
                match (pct, m.percent_met) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 0.005, "{a} vs {b}"),
                    (a, b) => assert_eq!(a, b),
                }
            }
        }
        // A name with a comma and quotes survives the round trip.
        if g == GroupBy::Institution {
            assert!(records.iter().any(|r| &r[2] == NANTES));
        }
    }
    let r = report(&mut conn, GroupBy::Tier);
    for section in reports::csv::Section::ALL {
        let text = reports::csv::section(&r, section).unwrap();
        let rows = csv::Reader::from_reader(text.as_bytes()).records().count();
        let expected = match section {
            reports::csv::Section::Summary => 3,
            reports::csv::Section::Breaches => 5,
            reports::csv::Section::Backlog => 2,
            reports::csv::Section::Weekly => 8,
        };
        assert_eq!(rows, expected, "{section:?}");
    }
}

fn svg_charts_carry_the_series(db: &TestDb) {
    let mut conn = db.conn();
    build(&mut conn);
    let r = report(&mut conn, GroupBy::Tier);
    let series = |svg: &str| -> BTreeMap<String, Vec<(String, f64)>> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(doc.descendants().all(|n| n.tag_name().name() != "script"), "no scripts");
        assert!(doc.descendants().all(|n| n.attributes().all(|a| !a.name().starts_with("on"))), "no handlers");
        doc.descendants()
            .filter(|n| n.attribute("class") == Some("series"))
            .map(|g| {
                let points = g
                    .children()
                    .filter(|p| p.attribute("data-value").is_some())
                    .map(|p| {
                        (
                            p.attribute("data-x").unwrap().to_string(),
                            p.attribute("data-value").unwrap().parse().unwrap(),
                        )
                    })
                    .collect();
                (g.attribute("data-series").unwrap().to_string(), points)
            })
            .collect()
    };
    let fr = series(&reports::svg::compliance_over_weeks(&r, reports::svg::ComplianceMetric::FirstResponse));
    // Managed: week 1 one met one breached (50 %), week 2 met (100 %), no
    // decided clock in weeks 3-4 (no point). Single: 100, 0, 0, 100.
    assert_eq!(fr["managed"], vec![("2026-11-30".into(), 50.0), ("2026-12-07".into(), 100.0)]);
    assert_eq!(
        fr["single"],
        vec![
            ("2026-11-30".into(), 100.0),
            ("2026-12-07".into(), 0.0),
            ("2026-12-14".into(), 0.0),
            ("2026-12-21".into(), 100.0)
        ]
    );
    let volume = series(&reports::svg::weekly_volume(&r));
    assert_eq!(volume.keys().collect::<Vec<_>>(), ["managed new", "managed solved", "single new", "single solved"]);
    let values = |s: &str| volume[s].iter().map(|(_, v)| *v).collect::<Vec<f64>>();
    assert_eq!(values("managed new"), [2.0, 1.0, 0.0, 0.0]);
    assert_eq!(values("managed solved"), [3.0, 1.0, 0.0, 0.0]);
    assert_eq!(values("single new"), [1.0, 1.0, 1.0, 1.0]);
    let ageing = series(&reports::svg::backlog_ageing(&r));
    assert_eq!(ageing["single"].iter().map(|(_, v)| *v).collect::<Vec<_>>(), [0.0, 1.0, 0.0, 2.0, 0.0]);
    assert_eq!(ageing["managed"][4], ("> 30 d".to_string(), 1.0));
    // Text is escaped: a tier name with markup stays text.
    let svg = reports::svg::line_chart(
        "a <b>&</b>",
        &["x\"y".into()],
        &[reports::svg::Series { name: "<script>".into(), values: vec![Some(1.0)] }],
        None,
        "",
    );
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(doc.descendants().all(|n| n.tag_name().name() != "script" && n.tag_name().name() != "b"));
    assert!(series(&svg).contains_key("<script>"));
}

fn weekly_summary_is_queued_once_and_sent_with_the_csv(db: &TestDb) {
    {
        let mut conn = db.conn();
        build(&mut conn);
    }
    let mut config = Config::defaults().unwrap();
    config.data_dir = db.dir.path().to_path_buf();
    config.server.public_url = "https://desk.tusk.example".into();
    let settings = reports::weekly::WeeklySettings::from_config(&config).unwrap();
    // Mon 7 Dec 07:59 Paris: the week of 23 Nov is due (nothing in it).
    // At 08:30 the week of 30 Nov is; two processes race for it.
    let early = paris(2026, 12, 7, 7, 59);
    let now = paris(2026, 12, 7, 8, 30);
    {
        let mut conn = db.conn();
        let d = reports::weekly::send_if_due(&mut conn, &settings, early).unwrap().unwrap();
        assert_eq!(d.period_start, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        diesel::delete(mail_outbox::table).execute(&mut *conn).unwrap();
    }
    let queued: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = db.conn();
                    loop {
                        match reports::weekly::send_if_due(&mut conn, &settings, now) {
                            Ok(d) => return d.map_or(0, |d| d.recipients),
                            // SQLite: a busy writer; try again.
                            Err(e) if e.kind == tusk::ErrorKind::Unavailable => continue,
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(queued, 1, "one active manager, once");
    let mut conn = db.conn();
    let periods: Vec<(chrono::NaiveDateTime, i32)> = report_deliveries::table
        .order(report_deliveries::period_start.asc())
        .select((report_deliveries::period_start, report_deliveries::recipients))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(periods, vec![(paris(2026, 11, 23, 0, 0).naive_utc(), 1), (paris(2026, 11, 30, 0, 0).naive_utc(), 1)]);
    let rows: Vec<(String, String, String)> = mail_outbox::table
        .select((mail_outbox::kind, mail_outbox::recipients, mail_outbox::payload))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("sla_weekly", "[\"boss@tusk.example\"]"));
    let payload: serde_json::Value = serde_json::from_str(&rows[0].2).unwrap();
    // Week of 30 Nov: T1, T2 (managed), T5 (single). First response 2 of 3.
    assert_eq!(payload["tickets"], 3);
    assert_eq!(payload["first_response_percent"], "66.7 %");
    assert_eq!(payload["period"], "2026-11-30 to 2026-12-06");
    drop(conn);
    assert!(reports::weekly::send_if_due(&mut db.conn(), &settings, now).unwrap().is_none(), "sent already");

    // Through the real mail worker and an SMTP server: the CSV is attached.
    // (The test's "now" lies ahead of the wall clock: make the row due.)
    diesel::update(mail_outbox::table)
        .set(mail_outbox::next_attempt_at.eq(paris(2020, 1, 1, 0, 0).naive_utc()))
        .execute(&mut *db.conn())
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let _rt = rt.enter();
    let sink = smtp_sink::SmtpSink::start();
    config.smtp.url = Secret::new(sink.url());
    config.smtp.timeout_secs = 5;
    let mut s = WorkerSettings::from_config(&config);
    s.max_attempts = 1;
    let worker = MailWorker::new(
        db.db.clone(),
        Arc::new(Templates::builtin().unwrap()),
        transport_from_config(&config).unwrap(),
        SenderIdentity::from_config(&config),
        s,
    );
    let sent = rt.block_on(worker.run_until_idle()).unwrap();
    let state: Vec<(String, Option<String>)> =
        mail_outbox::table.select((mail_outbox::kind, mail_outbox::last_error)).load(&mut *db.conn()).unwrap();
    assert_eq!(sent.sent, 1, "{sent:?} {state:?}");
    assert!(sink.wait_for(1, StdDuration::from_secs(5)));
    let received = sink.received();
    assert_eq!(received[0].rcpt_to, ["boss@tusk.example"]);
    let msg = MessageParser::default().parse(&received[0].data).unwrap();
    let subject = msg.subject().unwrap();
    assert!(subject.contains("2026-11-30 to 2026-12-06") && subject.contains("66.7 %"), "{subject}");
    assert!(!subject.contains("[#"), "no ticket tag: {subject}");
    let body = msg.body_text(0).unwrap();
    assert!(body.contains("Hello Boss") && body.contains("First-response compliance: 66.7 %"), "{body}");
    assert_eq!(msg.attachment_count(), 1);
    let csv_part = msg.attachment(0).unwrap();
    assert_eq!(csv_part.attachment_name(), Some("sla-summary-2026-11-30.csv"));
    let text = String::from_utf8(csv_part.contents().to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<(String, i64, i64, i64)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_string(), r[3].parse().unwrap(), r[4].parse().unwrap(), r[5].parse().unwrap())
        })
        .collect();
    assert_eq!(rows, vec![("managed".into(), 2, 1, 1), ("single".into(), 1, 1, 0), ("total".into(), 3, 2, 1)]);
}

fn seed_fills_sla_facts_as_the_engine_computes_them(db: &TestDb) {
    let options = tusk::seed::SeedOptions { tickets: 400, rng_seed: 7, progress: false };
    tusk::seed::run(&db.db, &plans(), &options).unwrap();
    let mut conn = db.conn();
    let ids: Vec<TicketId> =
        tusk::db::schema::tickets::table.select(tusk::db::schema::tickets::id).load(&mut *conn).unwrap();
    assert_eq!(ids.len(), 400);
    let now = Utc::now();
    let mut decided = 0;
    for id in ids {
        let ticket = tickets::get(&mut conn, id).unwrap();
        let (stored, fresh) = store::preview(&mut conn, &ticket, &policies(), now).unwrap();
        let stored = stored.expect("the seed wrote an SLA row");
        let facts = |r: &store::TicketSlaRow| {
            (r.tier.clone(), r.priority, r.first_response_business_secs, r.resolution_business_secs)
        };
        assert_eq!(facts(&stored), facts(&fresh), "ticket {}", ticket.number);
        assert_eq!(stored.opened_at, Some(ticket.created_at), "ticket {}", ticket.number);
        assert_eq!(stored.solved_at, ticket.solved_at, "ticket {}", ticket.number);
        // Decided outcomes cannot change with the few seconds between the two.
        for (a, b) in [
            (&stored.first_response_outcome, &fresh.first_response_outcome),
            (&stored.resolution_outcome, &fresh.resolution_outcome),
        ] {
            if matches!(a.as_deref(), Some("met" | "breached")) {
                decided += 1;
                assert_eq!(a, b, "ticket {}", ticket.number);
            }
        }
    }
    assert!(decided > 300, "{decided}");
    // And the report over the seeded history counts every ticket once.
    let q = ReportQuery {
        from: Utc::now() - chrono::Duration::days(800),
        to: Utc::now() + chrono::Duration::days(1),
        group_by: GroupBy::Tier,
        as_of: Utc::now(),
        timezone: Paris,
        breach_limit: 10,
    };
    let r = reports::sla_report(&mut conn, &q).unwrap();
    assert_eq!(r.total.tickets, 400);
    let fr = &r.total.first_response;
    assert_eq!(fr.met + fr.breached + fr.pending, 400);
    assert_eq!(r.weeks.iter().map(|w| w.new).sum::<i64>(), 400);
}

/// The SLA row carries the ticket's opening and last solve, which the
/// report ranges over: set when applied, kept through a solve and cleared
/// by a reopen; a ticket solved and reopened is counted in the solved week
/// only while it is solved.
fn sla_row_keeps_the_report_instants(db: &TestDb) {
    let mut conn = db.conn();
    let w = customers(&mut conn);
    let opened = paris(2026, 12, 1, 10, 0);
    let (t, _) = open(&mut conn, w.lyon, Some(w.lyon_instance), Priority::Normal, Some(w.alice), opened);
    let row = refresh(&mut conn, t, opened);
    assert_eq!(row.opened_at, Some(opened.naive_utc()));
    assert_eq!(row.solved_at, None);

    let solved = paris(2026, 12, 1, 11, 0);
    reply(&mut conn, t, w.alice, paris(2026, 12, 1, 10, 30));
    status(&mut conn, t, TicketStatus::Solved, solved);
    let row = refresh(&mut conn, t, solved);
    assert_eq!((row.opened_at, row.solved_at), (Some(opened.naive_utc()), Some(solved.naive_utc())));
    let solved_in_week = |conn: &mut AnyConnection| -> i64 {
        let r = reports::sla_report(conn, &query(GroupBy::Tier)).unwrap();
        r.weeks.iter().map(|w| w.solved).sum()
    };
    assert_eq!(solved_in_week(&mut conn), 1);

    // The customer writes again: reopened, no longer solved.
    let again = paris(2026, 12, 2, 9, 0);
    customer(&mut conn, t, w.lyon, again);
    let row = refresh(&mut conn, t, again);
    assert_eq!(row.opened_at, Some(opened.naive_utc()), "the opening never moves");
    assert_eq!(row.solved_at, None);
    assert_eq!(solved_in_week(&mut conn), 0);
}

/// Signs in through the console login form; the session cookie value.
async fn sign_in<S, B>(app: &S, email: &str, password: &str) -> String
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    use actix_web::cookie::Cookie;
    use actix_web::test;
    let res = test::call_service(app, test::TestRequest::get().uri("/console/login").to_request()).await;
    let pre = res.response().cookies().find(|c| c.name() == "tusk_csrf").unwrap().value().to_string();
    let form = format!("_csrf={pre}&email={}&password={}", email.replace('@', "%40"), password.replace(' ', "+"));
    let res = test::call_service(
        app,
        test::TestRequest::post()
            .uri("/console/login")
            .cookie(Cookie::new("tusk_csrf", pre))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 303, "signed in");
    res.response().cookies().find(|c| c.name() == "tusk_session").unwrap().value().to_string()
}

fn console_page_and_api_serve_the_report(db: &TestDb) {
    use actix_web::cookie::Cookie;
    use actix_web::test;
    let token = {
        let mut conn = db.conn();
        build(&mut conn);
        tusk::domain::api_tokens::create(
            &mut conn,
            "reports",
            &[tusk::domain::api_tokens::Scope::ReportsRead],
            Actor::System,
        )
        .unwrap()
        .1
    };
    let other = tusk::domain::api_tokens::create(
        &mut db.conn(),
        "tickets",
        &[tusk::domain::api_tokens::Scope::TicketsRead],
        Actor::System,
    )
    .unwrap()
    .1;
    let mut config = Config::defaults().unwrap();
    config.data_dir = db.dir.path().to_path_buf();
    let state = tusk::AppState::new(config, db.db.clone()).unwrap();
    // The pages compute at the wall clock: compare with the library's report
    // at the same instant (the overdue T4 depends on it).
    let mut q = query(GroupBy::Tier);
    q.as_of = Utc::now();
    let expected = reports::sla_report(&mut db.conn(), &q).unwrap();
    let rt = actix_web::rt::System::new();
    rt.block_on(async {
        let app = test::init_service(tusk::build_app(state)).await;
        let range = "from=2026-11-30&to=2026-12-27";
        // An agent is refused; a manager sees charts and tables.
        let agent = sign_in(&app, "alice@tusk.example", "a long password").await;
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/console/reports/sla?{range}"))
                .cookie(Cookie::new("tusk_session", agent))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 403);
        let boss = sign_in(&app, "boss@tusk.example", "a long password").await;
        let get = |uri: String| {
            test::TestRequest::get().uri(&uri).cookie(Cookie::new("tusk_session", boss.clone())).to_request()
        };
        let res = test::call_service(&app, get(format!("/console/reports/sla?{range}&group_by=agent"))).await;
        assert_eq!(res.status(), 200);
        let html = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert_eq!(html.matches("<svg ").count(), 4, "four charts");
        assert_eq!(html.matches("<script").count(), 1, "only the console's own script tag");
        assert!(html.contains("Problem &lt;"), "subjects escaped");
        assert!(html.contains("<td>Alice</td><td>3</td>"), "agent rows: {html}");
        assert!(html.contains("href=\"/console/tickets/"), "breach links");
        assert!(html.contains(&format!("Breaches ({})", expected.breaches_total)));
        assert!(html.contains("format=csv&amp;section=breaches") || html.contains("format&#x3D;csv"), "download links");
        // CSV download from the console.
        let res = test::call_service(&app, get(format!("/console/reports/sla?{range}&format=csv"))).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get("content-type").unwrap(), "text/csv; charset=utf-8");
        assert!(
            res.headers()
                .get("content-disposition")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("sla-tier-2026-11-30-2026-12-27")
        );
        let csv_text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        let last = csv::Reader::from_reader(csv_text.as_bytes()).records().last().unwrap().unwrap();
        let fr = &expected.total.first_response;
        assert_eq!(
            (&last[1], &last[3], &last[4], &last[5]),
            ("total", "7", fr.met.to_string().as_str(), fr.breached.to_string().as_str())
        );
        let res = test::call_service(&app, get(format!("/console/reports/sla?{range}&group_by=nope"))).await;
        assert_eq!(res.status(), 422);

        // The API: reports:read only.
        let api = |t: &str, uri: &str| {
            test::TestRequest::get().uri(uri).insert_header(("Authorization", format!("Bearer {t}"))).to_request()
        };
        let res = test::call_service(&app, api(&other, &format!("/api/v1/reports/sla?{range}"))).await;
        assert_eq!(res.status(), 403);
        let res =
            test::call_service(&app, api(&token, &format!("/api/v1/reports/sla?{range}&group_by=priority"))).await;
        assert_eq!(res.status(), 200);
        let json: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
        assert_eq!(json["group_by"], "priority");
        assert_eq!(json["total"]["resolution"]["p90_secs"], 64_800);
        let urgent = json["groups"].as_array().unwrap().iter().find(|g| g["key"] == "urgent").unwrap();
        assert_eq!(urgent["tickets"], 2);
        assert_eq!(urgent["first_response"]["met"], 1);
        assert_eq!(json["breaches_total"], expected.breaches_total);
        let res =
            test::call_service(&app, api(&token, &format!("/api/v1/reports/sla?{range}&format=csv&section=weekly")))
                .await;
        assert_eq!(res.status(), 200);
        let weekly = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert_eq!(csv::Reader::from_reader(weekly.as_bytes()).records().count(), 8);
        let res = test::call_service(&app, api(&token, "/api/v1/reports/sla?from=yesterday")).await;
        assert_eq!(res.status(), 422);
        let res = test::call_service(&app, test::TestRequest::get().uri("/api/v1/openapi.json").to_request()).await;
        let doc = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert!(doc.contains("/api/v1/reports/sla"));
    });
}
