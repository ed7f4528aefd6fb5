//! The per-ticket SLA clock, pure: the stored facts of a ticket (creation,
//! status changes, messages) and a [`PolicySnapshot`] in, per metric a
//! [`MetricClock`] out — the segments that tile the clock's timeline
//! (running, outside business hours, paused by a status, overdue), the due
//! instant, the business time used, the paused time, the outcome, and an
//! explanation a person can read.
//!
//! # Rules
//!
//! - **First response** starts when the ticket is created and stops at the
//!   first agent reply.
//! - **Next response** starts at each customer message that follows an
//!   agent reply (while no next-response clock is already running) and stops
//!   at the next agent reply. Earlier cycles are kept as history.
//! - **Resolution** starts at creation and stops when the ticket is solved
//!   or closed; a reopen resumes it (the solved stretch counts as paused),
//!   and the achieved time is the business time used at the last solve.
//! - The clocks count business time on the snapshot's calendar only while
//!   the ticket's status is not one of the pause statuses; response clocks
//!   are also paused while the ticket is solved (there is nothing to answer).
//! - A target change (priority raised) re-applies the new target to the same
//!   business time already used: the due instant moves, nothing already
//!   measured changes.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::calendar::Calendar;
use super::policy::{Metric, PolicySnapshot};
use crate::db::{MessageKind, TicketStatus};

/// What is known about a ticket, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// When the ticket was opened.
    pub created_at: DateTime<Utc>,
    /// Its status when opened.
    pub initial_status: TicketStatus,
    /// Each status change, `(when, new status)`, in time order.
    pub status_changes: Vec<(DateTime<Utc>, TicketStatus)>,
    /// Each message of the thread, `(when, kind)`, in time order.
    pub messages: Vec<(DateTime<Utc>, MessageKind)>,
}

/// What a stretch of a clock's timeline was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "status", rename_all = "snake_case")]
pub enum SegmentKind {
    /// Counting, in business hours, before the due instant.
    Running,
    /// Counting would happen, but the calendar is closed.
    OutsideHours,
    /// Stopped by a status (`pending`, `on_hold`, or `solved` for a
    /// response clock / between a solve and a reopen).
    Paused(TicketStatus),
    /// After the due instant while the clock would count (closed hours
    /// inside it are not split out; they add no business time).
    Breached,
}

impl SegmentKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Running => "running",
            SegmentKind::OutsideHours => "outside_hours",
            SegmentKind::Paused(_) => "paused",
            SegmentKind::Breached => "breached",
        }
    }
}

/// One stretch `[start, end)` of a clock's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// What the clock did.
    #[serde(flatten)]
    pub kind: SegmentKind,
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Counting, not yet due.
    Running,
    /// Stopped by a status, not yet due.
    Paused,
    /// Still running past its due instant.
    Overdue,
    /// Stopped within the target.
    Met,
    /// Stopped after the target.
    Breached,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Paused => "paused",
            Outcome::Overdue => "overdue",
            Outcome::Met => "met",
            Outcome::Breached => "breached",
        }
    }

    /// Whether the target was (or is being) missed.
    pub fn is_breached(self) -> bool {
        matches!(self, Outcome::Overdue | Outcome::Breached)
    }
}

/// One cycle of one metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricClock {
    /// Which metric.
    pub metric: Metric,
    /// The business-time target.
    #[serde(serialize_with = "ser_secs")]
    pub target: Duration,
    /// When the clock started.
    pub start: DateTime<Utc>,
    /// When it stopped (reply, solve), if it did.
    pub stop: Option<DateTime<Utc>>,
    /// When the target is (or was) reached; `None` while paused before it.
    pub due_at: Option<DateTime<Utc>>,
    /// Business time counted up to the stop (or the evaluation instant).
    #[serde(serialize_with = "ser_secs")]
    pub elapsed: Duration,
    /// Wall-clock time spent paused by statuses.
    #[serde(serialize_with = "ser_secs")]
    pub paused: Duration,
    /// Where the clock stands.
    pub outcome: Outcome,
    /// The timeline from `start` to the stop (or the evaluation instant):
    /// adjacent, non-empty, in order.
    pub segments: Vec<Segment>,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(d.num_seconds())
}

impl MetricClock {
    /// The share of the target used, in percent (may exceed 100).
    pub fn percent_used(&self) -> i64 {
        let target = self.target.num_seconds().max(1);
        self.elapsed.num_seconds().saturating_mul(100) / target
    }

    /// Whether the clock is still counting or waiting (not stopped).
    pub fn is_active(&self) -> bool {
        self.stop.is_none()
    }

    /// The instant at which `percent` of the target is (or was) used: within
    /// the recorded segments, or projected from the evaluation instant when
    /// the clock still counts; `None` when stopped or paused before it.
    pub fn threshold_at(&self, calendar: &Calendar, percent: u8, paused_now: bool) -> Option<DateTime<Utc>> {
        let wanted = Duration::seconds(self.target.num_seconds() * i64::from(percent) / 100);
        let mut used = Duration::zero();
        for segment in &self.segments {
            if matches!(segment.kind, SegmentKind::Running | SegmentKind::Breached) {
                let span = calendar.elapsed(segment.start, segment.end);
                if used + span >= wanted {
                    return Some(calendar.add(segment.start, wanted - used));
                }
                used += span;
            }
        }
        if self.stop.is_some() || paused_now {
            return None;
        }
        let from = self.segments.last().map_or(self.start, |s| s.end);
        Some(calendar.add(from, wanted - used))
    }

    /// The explanation as structured steps, oldest first.
    pub fn explain(&self, calendar: &Calendar) -> Vec<ExplainStep> {
        let tz = calendar.timezone().unwrap_or(chrono_tz::UTC);
        let when = |at: DateTime<Utc>| at.with_timezone(&tz).format("%a %d %b %H:%M").to_string();
        let mut steps = vec![ExplainStep {
            at: self.start,
            text: format!(
                "{} clock started {} (target {} business time)",
                self.metric,
                when(self.start),
                human(self.target)
            ),
        }];
        // A running clock is explained up to its due instant: the recorded
        // segments, then the projected ones.
        let mut all = self.segments.clone();
        if let (Outcome::Running, Some(due)) = (self.outcome, self.due_at) {
            let mut cursor = all.last().map_or(self.start, |s| s.end);
            for (open, close) in calendar.open_intervals(cursor, due) {
                if open > cursor {
                    all.push(Segment { kind: SegmentKind::OutsideHours, start: cursor, end: open });
                }
                all.push(Segment { kind: SegmentKind::Running, start: open, end: close });
                cursor = close;
            }
        }
        // Merge consecutive segments of the same kind for reading.
        let mut merged: Vec<Segment> = Vec::new();
        for s in &all {
            match merged.last_mut() {
                Some(last) if last.kind == s.kind && last.end == s.start => last.end = s.end,
                _ => merged.push(*s),
            }
        }
        for s in &merged {
            let text = match s.kind {
                SegmentKind::Running => continue,
                SegmentKind::OutsideHours => format!("outside hours until {}", when(s.end)),
                SegmentKind::Paused(status) => format!("{status} {}", human(s.end - s.start)),
                SegmentKind::Breached => format!("overdue since {}", when(s.start)),
            };
            steps.push(ExplainStep { at: s.start, text });
        }
        let end = match (self.outcome, self.stop, self.due_at) {
            (Outcome::Met, Some(stop), _) => {
                format!("met {} after {} business time", when(stop), human(self.elapsed))
            }
            (Outcome::Breached, Some(stop), Some(due)) => format!(
                "breached: due {}, stopped {} after {} business time",
                when(due),
                when(stop),
                human(self.elapsed)
            ),
            (_, _, Some(due)) => format!("due {}", when(due)),
            _ => {
                format!("paused with {} business time left", human((self.target - self.elapsed).max(Duration::zero())))
            }
        };
        steps.push(ExplainStep { at: self.stop.or(self.due_at).unwrap_or(self.start), text: end });
        steps
    }

    /// The explanation as one line: "due Tue 10:00 because: opened …".
    pub fn explain_text(&self, calendar: &Calendar) -> String {
        let steps = self.explain(calendar);
        let mut out = String::new();
        if let Some((last, rest)) = steps.split_last() {
            out.push_str(&last.text);
            out.push_str(" because: ");
            for (i, step) in rest.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}", step.text);
            }
        }
        out
    }
}

/// One step of an explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainStep {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened, in words.
    pub text: String,
}

/// A duration in words: "2 h 10 min", "45 min", "3 d 1 h".
pub fn human(d: Duration) -> String {
    let mins = d.num_minutes();
    let (days, hours, minutes) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if minutes > 0 || parts.is_empty() {
        parts.push(format!("{minutes} min"));
    }
    parts.join(" ")
}

/// Every clock of a ticket at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clocks {
    /// First response, when the policy sets a target.
    pub first_response: Option<MetricClock>,
    /// Every next-response cycle, oldest first.
    pub next_responses: Vec<MetricClock>,
    /// Resolution.
    pub resolution: Option<MetricClock>,
    /// Whether the ticket's status pauses the clocks now.
    pub paused_now: bool,
}

impl Clocks {
    /// The current clock of each metric (the latest next-response cycle).
    pub fn current(&self) -> impl Iterator<Item = &MetricClock> {
        self.first_response.iter().chain(self.next_responses.last()).chain(self.resolution.iter())
    }

    /// The earliest due instant among running (not stopped, not paused)
    /// clocks.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.current().filter(|c| c.is_active()).filter_map(|c| c.due_at).min()
    }
}

/// The status intervals of the ticket: `(from, to, status)` tiling
/// `[created_at, horizon)`.
fn status_timeline(facts: &Facts, horizon: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, TicketStatus)> {
    let mut out = Vec::new();
    let mut from = facts.created_at;
    let mut status = facts.initial_status;
    for &(at, next) in &facts.status_changes {
        let at = at.max(from).min(horizon);
        if at > from {
            out.push((from, at, status));
            from = at;
        }
        status = next;
    }
    if horizon > from {
        out.push((from, horizon, status));
    }
    out
}

/// The status at `at` (the last change at or before it).
fn status_at(facts: &Facts, at: DateTime<Utc>) -> TicketStatus {
    let mut status = facts.initial_status;
    for &(when, next) in &facts.status_changes {
        if when <= at {
            status = next;
        } else {
            break;
        }
    }
    status
}

/// Computes one clock over `[start, stop or now)`.
#[allow(clippy::too_many_arguments)]
fn run_clock(
    metric: Metric,
    target: Duration,
    start: DateTime<Utc>,
    stop: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    timeline: &[(DateTime<Utc>, DateTime<Utc>, TicketStatus)],
    pauses: &dyn Fn(TicketStatus) -> bool,
    calendar: &Calendar,
) -> MetricClock {
    let end = stop.unwrap_or(now).max(start);
    let mut segments: Vec<Segment> = Vec::new();
    let mut used = Duration::zero();
    let mut paused = Duration::zero();
    let mut due_at = None;
    let push = |segments: &mut Vec<Segment>, kind, s: DateTime<Utc>, e: DateTime<Utc>| {
        if e > s {
            segments.push(Segment { kind, start: s, end: e });
        }
    };
    for &(from, to, status) in timeline {
        let (from, to) = (from.max(start), to.min(end));
        if to <= from {
            continue;
        }
        if pauses(status) {
            paused += to - from;
            push(&mut segments, SegmentKind::Paused(status), from, to);
            continue;
        }
        // Past the due instant one `breached` segment covers the rest of
        // the stretch (closed hours included): a ticket overdue for months
        // keeps a handful of segments, not one per day.
        if due_at.is_some() {
            used += calendar.elapsed(from, to);
            push(&mut segments, SegmentKind::Breached, from, to);
            continue;
        }
        let mut cursor = from;
        for (open, close) in calendar.open_intervals(from, to) {
            push(&mut segments, SegmentKind::OutsideHours, cursor, open);
            let span = calendar.elapsed(open, close);
            if used + span >= target {
                let due = calendar.add(open, target - used);
                due_at = Some(due);
                push(&mut segments, SegmentKind::Running, open, due);
                push(&mut segments, SegmentKind::Breached, due, to);
                used += calendar.elapsed(open, to);
                cursor = to;
                break;
            }
            push(&mut segments, SegmentKind::Running, open, close);
            used += span;
            cursor = close;
        }
        push(&mut segments, SegmentKind::OutsideHours, cursor, to);
    }
    let paused_at_end = pauses(timeline.iter().rev().find(|(f, _, _)| *f < end).map_or(TicketStatus::Open, |t| t.2));
    let outcome = match (stop, due_at) {
        (Some(stop), Some(due)) if stop > due => Outcome::Breached,
        (Some(_), _) => Outcome::Met,
        (None, Some(_)) => Outcome::Overdue,
        (None, None) if paused_at_end => Outcome::Paused,
        (None, None) => Outcome::Running,
    };
    if due_at.is_none() && outcome == Outcome::Running {
        due_at = Some(calendar.add(end, target - used));
    }
    if due_at.is_none() && stop.is_some() {
        // Met early: the instant it would have been due had it kept running.
        due_at = Some(calendar.add(end, target - used));
    }
    MetricClock { metric, target, start, stop, due_at, elapsed: used, paused, outcome, segments }
}

/// Computes every clock of a ticket at `now` from its facts and policy.
pub fn compute(facts: &Facts, policy: &PolicySnapshot, calendar: &Calendar, now: DateTime<Utc>) -> Clocks {
    let now = now.max(facts.created_at);
    let timeline = status_timeline(facts, now);
    // Response clocks have nothing to answer while solved; resolution
    // stops at a solve and a reopen resumes it, so solved time never counts.
    let pauses = |s: TicketStatus| policy.pauses(s) || s.is_done();
    let first_reply = facts.messages.iter().find(|(_, k)| *k == MessageKind::Reply).map(|(at, _)| *at);
    let first_response = policy.target(Metric::FirstResponse).map(|t| {
        run_clock(
            Metric::FirstResponse,
            t.as_duration(),
            facts.created_at,
            first_reply.filter(|at| *at <= now),
            now,
            &timeline,
            &pauses,
            calendar,
        )
    });
    let mut next_responses = Vec::new();
    if let Some(target) = policy.target(Metric::NextResponse) {
        let mut replied = false;
        let mut open: Option<DateTime<Utc>> = None;
        for &(at, kind) in facts.messages.iter().filter(|(at, _)| *at <= now) {
            match kind {
                MessageKind::Reply => {
                    if let Some(start) = open.take() {
                        next_responses.push(run_clock(
                            Metric::NextResponse,
                            target.as_duration(),
                            start,
                            Some(at),
                            now,
                            &timeline,
                            &pauses,
                            calendar,
                        ));
                    }
                    replied = true;
                }
                MessageKind::Inbound if replied && open.is_none() => open = Some(at),
                _ => {}
            }
        }
        if let Some(start) = open {
            next_responses.push(run_clock(
                Metric::NextResponse,
                target.as_duration(),
                start,
                None,
                now,
                &timeline,
                &pauses,
                calendar,
            ));
        }
    }
    let current = status_at(facts, now);
    let resolution = policy.target(Metric::Resolution).map(|t| {
        // A done ticket stopped at the start of its final done stretch.
        let stop = current.is_done().then(|| {
            let mut stop = facts.created_at;
            let mut in_done = facts.initial_status.is_done();
            for &(at, s) in facts.status_changes.iter().filter(|(at, _)| *at <= now) {
                if s.is_done() && !in_done {
                    stop = at;
                }
                in_done = s.is_done();
            }
            stop
        });
        run_clock(Metric::Resolution, t.as_duration(), facts.created_at, stop, now, &timeline, &pauses, calendar)
    });
    Clocks { first_response, next_responses, resolution, paused_now: policy.pauses(current) }
}

#[cfg(test)]
mod tests;
