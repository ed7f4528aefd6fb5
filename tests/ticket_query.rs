//! The shared ticket list (domain::ticket_query): filters, sorts and keyset
//! pages, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{NaiveDateTime, TimeDelta};
use common::{TestDb, plans};
use tusk::ErrorKind;
use tusk::db::{AgentId, AnyConnection, Channel, MessageKind, Priority, Role, TicketStatus};
use tusk::domain::instances::{self, InstanceInput};
use tusk::domain::institutions::{self, InstitutionInput};
use tusk::domain::ticket_query::{
    self, AssigneeFilter, Direction, PageRequest, Sort, SortKey, TicketFilter, TicketListRow, Visibility,
};
use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
use tusk::domain::{Actor, agents, contacts};

on_both_backends!(
    rows_are_joined,
    every_sort_pages_without_gaps,
    filters_match,
    visibility_and_bad_input,
    tags_match_whole_and_follow_every_change
);

struct World {
    agent: AgentId,
    a: tusk::db::InstitutionId,
    b: tusk::db::InstitutionId,
    a_single: tusk::db::InstanceId,
    a_managed: tusk::db::InstanceId,
    alice: tusk::db::ContactId,
    carol: tusk::db::ContactId,
    bob: tusk::db::ContactId,
    count: usize,
}

fn t0() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap().and_hms_opt(9, 0, 0).unwrap()
}

/// Two institutions (A on `managed` by default with one `single` instance
/// and one without a plan of its own; B on `single`), three customers, 40
/// tickets with repeated timestamps (to exercise the id tiebreak), varied
/// statuses, priorities, tags, assignees and triage flags.
fn world(conn: &mut AnyConnection) -> World {
    let upsert_inst = |conn: &mut AnyConnection, slug: &str, plan: &str, domain: &str| {
        institutions::upsert(
            conn,
            &plans(),
            &InstitutionInput {
                slug: slug.into(),
                name: format!("Institution {slug}"),
                default_plan: Some(plan.into()),
                status: None,
                domains: Some(vec![domain.into()]),
            },
            Actor::System,
        )
        .unwrap()
        .0
    };
    let a = upsert_inst(conn, "inst-a", "managed", "a.example");
    let b = upsert_inst(conn, "inst-b", "single", "b.example");
    let instance = |conn: &mut AnyConnection, domain: &str, slug: &str, plan: Option<&str>| {
        instances::upsert(
            conn,
            &plans(),
            &InstanceInput {
                domain: domain.into(),
                institution_slug: slug.into(),
                plan: plan.map(str::to_string),
                ..Default::default()
            },
            Actor::System,
        )
        .unwrap()
        .0
    };
    let a_single = instance(conn, "social.a.example", "inst-a", Some("single"));
    let a_managed = instance(conn, "masto.a.example", "inst-a", None);
    let b_inst = instance(conn, "social.b.example", "inst-b", None);
    let alice = contacts::find_or_create(conn, "alice@a.example", Some("Alice"), Actor::System).unwrap();
    let carol = contacts::find_or_create(conn, "carol@a.example", None, Actor::System).unwrap();
    let bob = contacts::find_or_create(conn, "bob@b.example", Some("Bob"), Actor::System).unwrap();
    let agent = agents::create(conn, "ag@tusk.example", "Agent Smith", Role::Agent, "long password 1", Actor::System)
        .unwrap()
        .id;
    let statuses = TicketStatus::ALL;
    let priorities = Priority::ALL;
    let count = 40;
    for i in 0..count {
        let (requester, instance) = match i % 5 {
            0 => (alice.id, Some(a_single.id)),
            1 => (alice.id, Some(a_managed.id)),
            2 => (carol.id, None),
            3 => (bob.id, Some(b_inst.id)),
            _ => (bob.id, None),
        };
        // Four tickets share each timestamp.
        let at = t0() + TimeDelta::minutes((i / 4) as i64 * 7);
        let mut first = MessageInput::new(
            MessageKind::Inbound,
            Author::Contact(requester),
            format!("body {i}"),
            format!("q{i}@test.example"),
        );
        first.at = Some(at);
        let status = statuses[i % statuses.len()];
        let tags = match i % 3 {
            0 => vec!["federation".to_string()],
            1 => vec!["federation".to_string(), "billing".to_string()],
            _ => vec![],
        };
        tickets::create(
            conn,
            TicketInput {
                subject: format!("Ticket {i}"),
                requester,
                institution: None,
                institution_from_requester: true,
                instance,
                priority: priorities[(i * 7) % priorities.len()],
                category: None,
                channel: Channel::Email,
                status: Some(status),
                assignee: (i % 4 == 1).then_some(agent),
                tags,
                triage_reason: (i % 6 == 2).then(|| "which instance?".to_string()),
                first_message: first,
            },
            Actor::System,
        )
        .unwrap();
    }
    World {
        agent,
        a: a.id,
        b: b.id,
        a_single: a_single.id,
        a_managed: a_managed.id,
        alice: alice.id,
        carol: carol.id,
        bob: bob.id,
        count,
    }
}

/// Every page of `filter` in `sort` order, `limit` rows at a time.
fn all_pages(conn: &mut AnyConnection, filter: &TicketFilter, sort: Sort, limit: u32) -> Vec<TicketListRow> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = ticket_query::list(conn, filter, sort, &PageRequest { cursor: cursor.clone(), limit }).unwrap();
        assert!(page.rows.len() <= limit as usize);
        out.extend(page.rows);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

fn everything(conn: &mut AnyConnection) -> Vec<TicketListRow> {
    ticket_query::list(conn, &TicketFilter::default(), Sort::default(), &PageRequest { cursor: None, limit: 200 })
        .unwrap()
        .rows
}

fn sorted(mut rows: Vec<TicketListRow>, sort: Sort) -> Vec<i64> {
    rows.sort_by(|x, y| {
        let key = match sort.key {
            SortKey::Updated => x.updated_at.cmp(&y.updated_at),
            SortKey::Created => x.created_at.cmp(&y.created_at),
            SortKey::Number => x.number.cmp(&y.number),
            SortKey::Priority => ticket_query::priority_rank(x.priority).cmp(&ticket_query::priority_rank(y.priority)),
        }
        .then(x.id.cmp(&y.id));
        if sort.direction == Direction::Desc { key.reverse() } else { key }
    });
    rows.into_iter().map(|r| r.id.0).collect()
}

fn rows_are_joined(db: &TestDb) {
    let mut conn = db.conn();
    let w = world(&mut conn);
    let all = everything(&mut conn);
    assert_eq!(all.len(), w.count);
    // Newest first, ties by id descending.
    assert_eq!(all.iter().map(|r| r.id.0).collect::<Vec<_>>(), sorted(all.clone(), Sort::default()));
    let t0_row = all.iter().find(|r| r.subject == "Ticket 0").unwrap();
    assert_eq!(t0_row.requester_name.as_deref(), Some("Alice"));
    assert_eq!(t0_row.requester_email, "alice@a.example");
    assert_eq!(t0_row.institution_name.as_deref(), Some("Institution inst-a"));
    assert_eq!(t0_row.instance_domain.as_deref(), Some("social.a.example"));
    assert_eq!(t0_row.instance_plan.as_deref(), Some("single"));
    assert_eq!(t0_row.plan.as_deref(), Some("single"), "the instance's plan wins");
    assert_eq!(t0_row.tags, vec!["federation"]);
    assert_eq!(t0_row.created_at, t0());
    let t1 = all.iter().find(|r| r.subject == "Ticket 1").unwrap();
    assert_eq!(t1.assignee_name.as_deref(), Some("Agent Smith"));
    assert_eq!(t1.assignee_id, Some(w.agent));
    assert_eq!(t1.tags, vec!["billing", "federation"]);
    assert_eq!(t1.plan.as_deref(), Some("managed"), "instance without its own plan: its plan is the default");
    let t2 = all.iter().find(|r| r.subject == "Ticket 2").unwrap();
    assert_eq!(t2.instance_id, None);
    assert_eq!(t2.requester_name, None);
    assert_eq!(t2.plan.as_deref(), Some("managed"), "no instance: the institution's default plan");
    assert!(t2.needs_triage);
    let t4 = all.iter().find(|r| r.subject == "Ticket 4").unwrap();
    assert_eq!(t4.plan.as_deref(), Some("single"));
    assert_eq!(t4.institution_id, Some(w.b));
}

fn every_sort_pages_without_gaps(db: &TestDb) {
    let mut conn = db.conn();
    world(&mut conn);
    let all = everything(&mut conn);
    for key in SortKey::ALL {
        for direction in [Direction::Asc, Direction::Desc] {
            let sort = Sort { key: *key, direction };
            let expected = sorted(all.clone(), sort);
            for limit in [1, 3, 4, 7, 40, 41] {
                let got: Vec<i64> =
                    all_pages(&mut conn, &TicketFilter::default(), sort, limit).iter().map(|r| r.id.0).collect();
                assert_eq!(got, expected, "{sort:?} limit {limit}");
            }
        }
    }
    // The last page has no cursor; an exact fit too.
    let page = ticket_query::list(
        &mut conn,
        &TicketFilter::default(),
        Sort::default(),
        &PageRequest { cursor: None, limit: 40 },
    )
    .unwrap();
    assert_eq!(page.rows.len(), 40);
    assert_eq!(page.next_cursor, None);
}

fn filters_match(db: &TestDb) {
    let mut conn = db.conn();
    let w = world(&mut conn);
    let all = everything(&mut conn);
    type Pred = Box<dyn Fn(&TicketListRow) -> bool>;
    let at = |m: i64| t0() + TimeDelta::minutes(m);
    let cases: Vec<(TicketFilter, Pred)> = vec![
        (
            TicketFilter { statuses: vec![TicketStatus::New, TicketStatus::Pending], ..Default::default() },
            Box::new(|r| matches!(r.status, TicketStatus::New | TicketStatus::Pending)),
        ),
        (
            TicketFilter { priorities: vec![Priority::Urgent], ..Default::default() },
            Box::new(|r| r.priority == Priority::Urgent),
        ),
        (
            TicketFilter { plan: Some("single".into()), ..Default::default() },
            Box::new(|r| r.plan.as_deref() == Some("single")),
        ),
        (
            TicketFilter { plan: Some("managed".into()), ..Default::default() },
            Box::new(|r| r.plan.as_deref() == Some("managed")),
        ),
        (
            TicketFilter { institution_id: Some(w.a), ..Default::default() },
            Box::new(move |r| r.institution_id == Some(w.a)),
        ),
        (
            TicketFilter { instance_id: Some(w.a_managed), ..Default::default() },
            Box::new(move |r| r.instance_id == Some(w.a_managed)),
        ),
        (
            TicketFilter { assignee: AssigneeFilter::Unassigned, ..Default::default() },
            Box::new(|r| r.assignee_id.is_none()),
        ),
        (
            TicketFilter { assignee: AssigneeFilter::Agent(w.agent), ..Default::default() },
            Box::new(move |r| r.assignee_id == Some(w.agent)),
        ),
        (
            TicketFilter { tag: Some(" Billing ".into()), ..Default::default() },
            Box::new(|r| r.tags.iter().any(|t| t == "billing")),
        ),
        (TicketFilter { needs_triage: Some(true), ..Default::default() }, Box::new(|r| r.needs_triage)),
        (TicketFilter { needs_triage: Some(false), ..Default::default() }, Box::new(|r| !r.needs_triage)),
        (
            TicketFilter { requester_id: Some(w.carol), ..Default::default() },
            Box::new(move |r| r.requester_id == w.carol),
        ),
        (
            TicketFilter { created_from: Some(at(14)), created_to: Some(at(35)), ..Default::default() },
            Box::new(move |r| r.created_at >= at(14) && r.created_at < at(35)),
        ),
        (TicketFilter { updated_from: Some(at(60)), ..Default::default() }, Box::new(move |r| r.updated_at >= at(60))),
        // A tag with statuses and an updated range: on PostgreSQL, read
        // from ticket_tags' own index in the updated order.
        (
            TicketFilter {
                statuses: vec![TicketStatus::Open, TicketStatus::Pending, TicketStatus::New],
                tag: Some("federation".into()),
                updated_from: Some(at(14)),
                updated_to: Some(at(120)),
                ..Default::default()
            },
            Box::new(move |r| {
                matches!(r.status, TicketStatus::Open | TicketStatus::Pending | TicketStatus::New)
                    && r.tags.iter().any(|t| t == "federation")
                    && r.updated_at >= at(14)
                    && r.updated_at < at(120)
            }),
        ),
        (
            TicketFilter {
                statuses: vec![TicketStatus::Open, TicketStatus::New, TicketStatus::OnHold],
                priorities: vec![Priority::High, Priority::Urgent, Priority::Normal],
                tag: Some("federation".into()),
                institution_id: Some(w.a),
                ..Default::default()
            },
            Box::new(move |r| {
                matches!(r.status, TicketStatus::Open | TicketStatus::New | TicketStatus::OnHold)
                    && matches!(r.priority, Priority::High | Priority::Urgent | Priority::Normal)
                    && r.tags.iter().any(|t| t == "federation")
                    && r.institution_id == Some(w.a)
            }),
        ),
    ];
    for (filter, pred) in &cases {
        let matching: Vec<TicketListRow> = all.iter().filter(|r| pred(r)).cloned().collect();
        assert!(!matching.is_empty() && matching.len() < all.len(), "a useful case: {filter:?}");
        let sorts = [
            Sort::default(),
            Sort { key: SortKey::Updated, direction: Direction::Asc },
            Sort { key: SortKey::Priority, direction: Direction::Asc },
        ];
        for sort in sorts {
            let got: Vec<i64> = all_pages(&mut conn, filter, sort, 3).iter().map(|r| r.id.0).collect();
            assert_eq!(got, sorted(matching.clone(), sort), "{filter:?} {sort:?}");
        }
    }
    let _ = (w.a_single, w.alice, w.bob);
}

fn visibility_and_bad_input(db: &TestDb) {
    let mut conn = db.conn();
    let w = world(&mut conn);
    let all = everything(&mut conn);
    let only = |conn: &mut AnyConnection, visibility: Visibility, filter: TicketFilter| {
        all_pages(conn, &TicketFilter { visibility, ..filter }, Sort::default(), 5)
    };
    let mine = only(&mut conn, Visibility::Requester(w.alice), TicketFilter::default());
    assert_eq!(mine.len(), all.iter().filter(|r| r.requester_id == w.alice).count());
    assert!(mine.iter().all(|r| r.requester_id == w.alice));
    let inst = only(&mut conn, Visibility::Institution(w.a, w.carol), TicketFilter::default());
    assert_eq!(inst.len(), all.iter().filter(|r| r.institution_id == Some(w.a)).count());
    // A filter never widens the visibility.
    let other = only(
        &mut conn,
        Visibility::Institution(w.a, w.carol),
        TicketFilter { institution_id: Some(w.b), ..Default::default() },
    );
    assert!(other.is_empty());
    // An admin's own ticket filed under another institution is still theirs
    // (as the portal's search and ticket page have it); not their
    // colleague's.
    {
        use diesel::prelude::*;
        use tusk::db::schema::tickets as t;
        let moved = mine[0].id;
        diesel::update(t::table.find(moved)).set(t::institution_id.eq(Some(w.b))).execute(&mut *conn).unwrap();
        let ids = |conn: &mut AnyConnection, who| -> Vec<tusk::db::TicketId> {
            only(conn, Visibility::Institution(w.a, who), TicketFilter::default()).iter().map(|r| r.id).collect()
        };
        let admin = ids(&mut conn, w.alice);
        assert!(admin.contains(&moved));
        assert_eq!(admin.len(), inst.len(), "one ticket left the institution and stays in the admin's list");
        let colleague = ids(&mut conn, w.carol);
        assert!(!colleague.contains(&moved));
        assert_eq!(colleague.len(), inst.len() - 1);
        let from_b = only(
            &mut conn,
            Visibility::Institution(w.a, w.alice),
            TicketFilter { institution_id: Some(w.b), ..Default::default() },
        );
        assert_eq!(from_b.iter().map(|r| r.id).collect::<Vec<_>>(), vec![moved], "only the admin's own of B");
        diesel::update(t::table.find(moved)).set(t::institution_id.eq(Some(w.a))).execute(&mut *conn).unwrap();
    }
    let other = only(
        &mut conn,
        Visibility::Requester(w.alice),
        TicketFilter { requester_id: Some(w.bob), ..Default::default() },
    );
    assert!(other.is_empty());

    let kind = |conn: &mut AnyConnection, filter: &TicketFilter, sort: Sort, page: PageRequest| {
        ticket_query::list(conn, filter, sort, &page).unwrap_err().kind
    };
    let f = TicketFilter::default();
    assert_eq!(kind(&mut conn, &f, Sort::default(), PageRequest { cursor: None, limit: 0 }), ErrorKind::Invalid);
    assert_eq!(kind(&mut conn, &f, Sort::default(), PageRequest { cursor: None, limit: 201 }), ErrorKind::Invalid);
    assert_eq!(
        kind(&mut conn, &f, Sort::default(), PageRequest { cursor: Some("nonsense".into()), limit: 5 }),
        ErrorKind::Invalid
    );
    let first = ticket_query::list(&mut conn, &f, Sort::default(), &PageRequest { cursor: None, limit: 5 }).unwrap();
    let other_sort = Sort { key: SortKey::Number, direction: Direction::Desc };
    assert_eq!(
        kind(&mut conn, &f, other_sort, PageRequest { cursor: first.next_cursor, limit: 5 }),
        ErrorKind::Invalid
    );
    let bad_tag = TicketFilter { tag: Some("two words".into()), ..Default::default() };
    assert_eq!(kind(&mut conn, &bad_tag, Sort::default(), PageRequest::default()), ErrorKind::Invalid);
    let backwards =
        TicketFilter { created_from: Some(t0()), created_to: Some(t0() - TimeDelta::days(1)), ..Default::default() };
    assert_eq!(kind(&mut conn, &backwards, Sort::default(), PageRequest::default()), ErrorKind::Invalid);
}

/// The list filters and shows tags from `tickets.tags`, kept beside the
/// `ticket_tags` rows: a tag matches only whole, and the text follows every
/// way tags change (create, set, merge).
/// Every tag row's copies of its ticket's updated_at and status (kept by
/// triggers, migration `…_ticket_tags_order`) equal the ticket's.
fn tag_copies_follow(conn: &mut AnyConnection) {
    use diesel::prelude::*;
    use tusk::db::schema::{ticket_tags, tickets as t};
    let rows: Vec<(i64, NaiveDateTime, String, NaiveDateTime, String)> = ticket_tags::table
        .inner_join(t::table)
        .select((ticket_tags::ticket_id, ticket_tags::updated_at, ticket_tags::status, t::updated_at, t::status))
        .load(conn)
        .unwrap();
    assert!(!rows.is_empty());
    for (id, copy_at, copy_status, at, status) in rows {
        assert_eq!((copy_at, &copy_status), (at, &status), "ticket {id}");
    }
}

fn tags_match_whole_and_follow_every_change(db: &TestDb) {
    let mut conn = db.conn();
    let w = world(&mut conn);
    tag_copies_follow(&mut conn);
    let all = everything(&mut conn);
    let ids = |conn: &mut AnyConnection, tag: &str| -> Vec<i64> {
        let filter = TicketFilter { tag: Some(tag.into()), ..Default::default() };
        all_pages(conn, &filter, Sort::default(), 4).iter().map(|r| r.id.0).collect()
    };
    let (t0, t1, t2) = (all[0].id, all[1].id, all[2].id);
    tickets::set_tags(&mut conn, t0, &["federation-relay".into(), "Ops".into()], Actor::Agent(w.agent)).unwrap();
    tickets::set_tags(&mut conn, t1, &["relay".into()], Actor::Agent(w.agent)).unwrap();
    tickets::set_tags(&mut conn, t2, &[], Actor::Agent(w.agent)).unwrap();
    for tag in ["federation", "relay", "federation-relay", "ops", "billing"] {
        let expected: Vec<i64> = all_pages(&mut conn, &TicketFilter::default(), Sort::default(), 50)
            .iter()
            .filter(|r| tickets::tags_of(&mut conn, r.id).unwrap().iter().any(|t| t == tag))
            .map(|r| r.id.0)
            .collect();
        assert_eq!(ids(&mut conn, tag), expected, "tag {tag}");
    }
    assert_eq!(ids(&mut conn, "relay"), vec![t1.0], "`relay` is not part of `federation-relay`");
    assert!(ids(&mut conn, "fed").is_empty());
    // Shown as stored in ticket_tags, for every row.
    for row in all_pages(&mut conn, &TicketFilter::default(), Sort::default(), 50) {
        assert_eq!(row.tags, tickets::tags_of(&mut conn, row.id).unwrap(), "ticket {}", row.number);
    }
    assert!(ticket_query::get(&mut conn, t2, Visibility::Staff).unwrap().tags.is_empty());

    // A merge moves the duplicate's tags to the target; the duplicate has none.
    tusk::domain::merge::merge_into(&mut conn, t0, t1, Actor::Agent(w.agent)).unwrap();
    assert_eq!(
        ticket_query::get(&mut conn, t1, Visibility::Staff).unwrap().tags,
        vec!["federation-relay", "ops", "relay"]
    );
    assert!(ticket_query::get(&mut conn, t0, Visibility::Staff).unwrap().tags.is_empty());
    assert!(ids(&mut conn, "ops") == vec![t1.0]);

    // The tags of a ticket fit in an index entry: at most 1,000 bytes together.
    let long: Vec<String> = (0..25).map(|i| format!("{i:02}-{}", "x".repeat(40))).collect();
    let err = tickets::set_tags(&mut conn, t2, &long, Actor::Agent(w.agent)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid);
    assert!(err.to_string().contains("1000 bytes"), "{err}");
    assert!(tickets::tags_of(&mut conn, t2).unwrap().is_empty(), "nothing written");
    let fits: Vec<String> = long[..20].to_vec();
    tickets::set_tags(&mut conn, t2, &fits, Actor::Agent(w.agent)).unwrap();
    assert_eq!(ticket_query::get(&mut conn, t2, Visibility::Staff).unwrap().tags, fits);
    assert_eq!(ids(&mut conn, &fits[19]), vec![t2.0]);
    tag_copies_follow(&mut conn);

    // Whatever statement changes a ticket's status or updated_at, its tag
    // rows follow, and a tag's page by status sees the change.
    let open_federation = |conn: &mut AnyConnection| -> Vec<i64> {
        let filter =
            TicketFilter { tag: Some("federation".into()), statuses: vec![TicketStatus::Open], ..Default::default() };
        all_pages(conn, &filter, Sort::default(), 2).iter().map(|r| r.id.0).collect()
    };
    let expected = |conn: &mut AnyConnection| -> Vec<i64> {
        let rows = all_pages(conn, &TicketFilter::default(), Sort::default(), 50);
        rows.iter()
            .filter(|r| r.status == TicketStatus::Open && r.tags.iter().any(|t| t == "federation"))
            .map(|r| r.id.0)
            .collect()
    };
    let before = open_federation(&mut conn);
    assert_eq!(before, expected(&mut conn));
    let closed = tusk::db::TicketId(before[0]);
    let now = all_pages(&mut conn, &TicketFilter::default(), Sort::default(), 50);
    let reopened_row =
        now.iter().find(|r| r.status != TicketStatus::Open && r.tags.iter().any(|t| t == "federation")).unwrap();
    let (reopened, requester) = (reopened_row.id, reopened_row.requester_id);
    {
        use diesel::prelude::*;
        use tusk::db::schema::tickets as t;
        diesel::update(t::table.find(closed)).set(t::status.eq(TicketStatus::Closed)).execute(&mut *conn).unwrap();
        diesel::update(t::table.find(reopened))
            .set((t::status.eq(TicketStatus::Open), t::updated_at.eq(self::t0() - TimeDelta::days(30))))
            .execute(&mut *conn)
            .unwrap();
    }
    tag_copies_follow(&mut conn);
    let after = open_federation(&mut conn);
    assert_eq!(after, expected(&mut conn));
    assert!(!after.contains(&closed.0) && after.last() == Some(&reopened.0), "{after:?}");
    // A customer's message moves the ticket to the top.
    let mut more = MessageInput::new(MessageKind::Inbound, Author::Contact(requester), "still down", "m@test.example");
    more.at = Some(self::t0() + TimeDelta::days(30));
    tickets::add_message(&mut conn, reopened, more, Actor::System).unwrap();
    tag_copies_follow(&mut conn);
    assert_eq!(open_federation(&mut conn).first(), Some(&reopened.0));
}
