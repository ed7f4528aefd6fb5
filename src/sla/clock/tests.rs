//! Hand-computed clock scenarios and property tests.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use proptest::prelude::*;

use super::*;
use crate::db::Priority;
use crate::sla::calendar::CalendarConfig;
use crate::sla::policy::{BusinessDuration, PolicySnapshot};

fn paris(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Paris.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap().with_timezone(&Utc)
}

fn office() -> CalendarConfig {
    toml::from_str(
        r#"
timezone = "Europe/Paris"
hours = { mon = ["09:00-12:30", "13:30-18:00"], tue = ["09:00-12:30", "13:30-18:00"], wed = ["09:00-12:30", "13:30-18:00"], thu = ["09:00-12:30", "13:30-18:00"], fri = ["09:00-12:30", "13:30-18:00"] }
holidays = ["2026-12-25", "2027-01-01"]
"#,
    )
    .unwrap()
}

fn policy(calendar: CalendarConfig, first: i64, next: i64, resolution: i64) -> (PolicySnapshot, Calendar) {
    let snapshot = PolicySnapshot {
        tier: "single".into(),
        priority: Priority::Normal,
        calendar,
        warn_at: vec![75, 90],
        pause_statuses: vec![TicketStatus::Pending, TicketStatus::OnHold],
        first_response: Some(BusinessDuration::minutes(first)),
        next_response: Some(BusinessDuration::minutes(next)),
        resolution: Some(BusinessDuration::minutes(resolution)),
    };
    let calendar = snapshot.compile_calendar().unwrap();
    (snapshot, calendar)
}

fn single_normal() -> (PolicySnapshot, Calendar) {
    policy(office(), 8 * 60, 8 * 60, 40 * 60)
}

fn facts(created_at: DateTime<Utc>) -> Facts {
    Facts { created_at, initial_status: TicketStatus::New, status_changes: vec![], messages: vec![] }
}

#[test]
fn managed_urgent_on_friday_evening_runs_around_the_clock() {
    let (p, cal) = policy(CalendarConfig::always_open(), 60, 60, 240);
    let opened = paris(2026, 11, 27, 18, 5);
    let clocks = compute(&facts(opened), &p, &cal, opened + Duration::minutes(10));
    let first = clocks.first_response.unwrap();
    assert_eq!(first.due_at, Some(paris(2026, 11, 27, 19, 5)));
    assert_eq!(first.outcome, Outcome::Running);
    assert_eq!(clocks.resolution.unwrap().due_at, Some(paris(2026, 11, 27, 22, 5)));
    // Nobody answers: at 19:30 the first response is overdue.
    let late = compute(&facts(opened), &p, &cal, paris(2026, 11, 27, 19, 30));
    let first = late.first_response.unwrap();
    assert_eq!(first.outcome, Outcome::Overdue);
    assert_eq!(first.segments.last().unwrap().kind, SegmentKind::Breached);
}

#[test]
fn managed_normal_on_friday_evening_waits_for_monday_and_explains_it() {
    let managed: CalendarConfig = toml::from_str(
        r#"
timezone = "Europe/Paris"
hours = { mon = ["08:00-20:00"], tue = ["08:00-20:00"], wed = ["08:00-20:00"], thu = ["08:00-20:00"], fri = ["08:00-20:00"] }
"#,
    )
    .unwrap();
    let (p, cal) = policy(managed, 4 * 60, 4 * 60, 24 * 60);
    let opened = paris(2026, 11, 27, 18, 5);
    let clocks = compute(&facts(opened), &p, &cal, paris(2026, 11, 28, 12, 0));
    let first = clocks.first_response.unwrap();
    // Fri 18:05-20:00 = 1 h 55; the remaining 2 h 05 from Mon 08:00.
    assert_eq!(first.due_at, Some(paris(2026, 11, 30, 10, 5)));
    assert_eq!(
        first.explain_text(&cal),
        "due Mon 30 Nov 10:05 because: first_response clock started Fri 27 Nov 18:05 (target 4 h business time), \
         outside hours until Mon 30 Nov 08:00"
    );
}

#[test]
fn single_normal_before_a_public_holiday() {
    let (p, cal) = single_normal();
    let opened = paris(2026, 12, 24, 16, 0);
    let clocks = compute(&facts(opened), &p, &cal, opened);
    // Thu 16:00-18:00 = 2 h; Fri 25 is Christmas; Mon 28: 3 h 30 + 2 h 30.
    assert_eq!(clocks.first_response.unwrap().due_at, Some(paris(2026, 12, 28, 16, 0)));
}

#[test]
fn pending_over_a_weekend_pauses_resolution_and_next_response_starts_on_the_answer() {
    let (p, cal) = single_normal();
    let opened = paris(2026, 11, 27, 10, 0);
    let mut f = facts(opened);
    f.messages = vec![
        (opened, MessageKind::Inbound),
        (paris(2026, 11, 27, 11, 0), MessageKind::Reply),
        (paris(2026, 11, 30, 14, 0), MessageKind::Inbound),
    ];
    f.status_changes =
        vec![(paris(2026, 11, 27, 11, 0), TicketStatus::Pending), (paris(2026, 11, 30, 14, 0), TicketStatus::Open)];
    let clocks = compute(&f, &p, &cal, paris(2026, 11, 30, 15, 0));
    let first = clocks.first_response.as_ref().unwrap();
    assert_eq!((first.outcome, first.elapsed), (Outcome::Met, Duration::hours(1)));
    let next = clocks.next_responses.last().unwrap();
    // Mon 14:00-18:00 = 4 h, Tue 09:00-12:30 = 3 h 30, 13:30-14:00.
    assert_eq!(next.due_at, Some(paris(2026, 12, 1, 14, 0)));
    let resolution = clocks.resolution.as_ref().unwrap();
    // 1 h on Friday, paused Fri 11:00 -> Mon 14:00, then 39 h from Mon 14:00.
    assert_eq!(resolution.paused, Duration::hours(75));
    assert_eq!(resolution.due_at, Some(paris(2026, 12, 7, 12, 0)));
    let text = resolution.explain_text(&cal);
    assert!(text.contains("pending 3 d 3 h"), "{text}");
}

#[test]
fn a_priority_raise_moves_the_due_instant_and_breaches() {
    let opened = paris(2026, 11, 30, 9, 0);
    let mut f = facts(opened);
    let (normal, cal) = single_normal();
    let before = compute(&f, &normal, &cal, paris(2026, 11, 30, 10, 0));
    assert_eq!(before.first_response.unwrap().due_at, Some(paris(2026, 11, 30, 18, 0)));
    let (urgent, cal) = policy(office(), 2 * 60, 2 * 60, 8 * 60);
    f.messages = vec![(opened, MessageKind::Inbound), (paris(2026, 11, 30, 11, 30), MessageKind::Reply)];
    let after = compute(&f, &urgent, &cal, paris(2026, 11, 30, 12, 0));
    let first = after.first_response.unwrap();
    assert_eq!(first.due_at, Some(paris(2026, 11, 30, 11, 0)));
    assert_eq!(first.outcome, Outcome::Breached);
    assert_eq!(first.elapsed, Duration::minutes(150));
}

#[test]
fn a_reopened_ticket_resumes_resolution_without_counting_the_solved_days() {
    let (p, cal) = single_normal();
    let opened = paris(2026, 11, 30, 9, 0);
    let mut f = facts(opened);
    f.messages = vec![
        (opened, MessageKind::Inbound),
        (paris(2026, 11, 30, 10, 0), MessageKind::Reply),
        (paris(2026, 12, 2, 9, 0), MessageKind::Inbound),
    ];
    f.status_changes = vec![
        (paris(2026, 11, 30, 10, 0), TicketStatus::Open),
        (paris(2026, 11, 30, 12, 0), TicketStatus::Solved),
        (paris(2026, 12, 2, 9, 0), TicketStatus::Open),
    ];
    let solved = compute(&f, &p, &cal, paris(2026, 12, 1, 9, 0));
    let r = solved.resolution.unwrap();
    assert_eq!((r.outcome, r.elapsed, r.stop), (Outcome::Met, Duration::hours(3), Some(paris(2026, 11, 30, 12, 0))));
    let reopened = compute(&f, &p, &cal, paris(2026, 12, 2, 10, 0));
    let r = reopened.resolution.unwrap();
    assert_eq!(r.outcome, Outcome::Running);
    assert_eq!(r.paused, Duration::hours(45));
    // 3 h used; 37 h from Wed 09:00 -> Tue 8 Dec 15:00.
    assert_eq!(r.due_at, Some(paris(2026, 12, 8, 15, 0)));
}

#[test]
fn thresholds_fall_on_business_time() {
    let (p, cal) = single_normal();
    let opened = paris(2026, 11, 30, 9, 0);
    let clocks = compute(&facts(opened), &p, &cal, opened);
    let first = clocks.first_response.unwrap();
    // 75 % of 8 h = 6 h: 09:00-12:30, 13:30-16:00.
    assert_eq!(first.threshold_at(&cal, 75, false), Some(paris(2026, 11, 30, 16, 0)));
}

fn arb_facts() -> impl Strategy<Value = (Facts, DateTime<Utc>)> {
    let base = paris(2026, 10, 20, 0, 0);
    (
        0i64..20_000,
        prop::collection::vec((1i64..5_000, 0usize..6), 0..8),
        prop::collection::vec((1i64..5_000, prop::bool::ANY), 0..6),
        0i64..40_000,
    )
        .prop_map(move |(start, changes, messages, horizon)| {
            let created = base + Duration::minutes(start);
            let mut at = created;
            let status_changes = changes
                .into_iter()
                .map(|(gap, s)| {
                    at += Duration::minutes(gap);
                    (at, TicketStatus::ALL[s])
                })
                .collect();
            let mut at = created;
            let messages = messages
                .into_iter()
                .map(|(gap, reply)| {
                    at += Duration::minutes(gap);
                    (at, if reply { MessageKind::Reply } else { MessageKind::Inbound })
                })
                .collect();
            (
                Facts { created_at: created, initial_status: TicketStatus::New, status_changes, messages },
                created + Duration::minutes(horizon),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Segments tile each clock's timeline, and the business time counted
    /// equals the calendar's business time outside the paused stretches.
    #[test]
    fn segments_tile_and_paused_time_never_counts((f, now) in arb_facts()) {
        let (p, cal) = single_normal();
        let clocks = compute(&f, &p, &cal, now);
        for clock in clocks.first_response.iter().chain(clocks.next_responses.iter()).chain(clocks.resolution.iter()) {
            let end = clock.stop.unwrap_or(now).max(clock.start);
            let mut cursor = clock.start;
            let mut paused_spans = Vec::new();
            let mut paused = Duration::zero();
            for s in &clock.segments {
                prop_assert_eq!(s.start, cursor);
                prop_assert!(s.end > s.start);
                if matches!(s.kind, SegmentKind::Paused(_)) {
                    paused_spans.push((s.start, s.end));
                    paused += s.end - s.start;
                }
                if s.kind == SegmentKind::OutsideHours {
                    prop_assert_eq!(cal.elapsed(s.start, s.end), Duration::zero());
                }
                cursor = s.end;
            }
            prop_assert_eq!(cursor, end);
            prop_assert_eq!(paused, clock.paused);
            prop_assert_eq!(clock.elapsed, cal.elapsed_excluding(clock.start, end, &paused_spans));
        }
    }
}
