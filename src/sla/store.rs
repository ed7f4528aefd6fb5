//! The SLA clock in the database: facts read from the ticket's events and
//! messages, the policy snapshot stored in `ticket_sla` when applied (and
//! re-applied with an event when the tier or priority changes), the computed
//! state written back, and closed clock segments appended to
//! `sla_segments`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::clock::{self, Clocks, Facts, MetricClock, Outcome, SegmentKind};
use super::policy::{AppliedPolicy, Metric, PolicySnapshot, SlaPolicies};
use crate::db::models::Ticket;
use crate::db::schema::{events, instances, institutions, messages, sla_segments, ticket_sla};
use crate::db::{AnyConnection, MessageKind, Priority, TicketId, TicketStatus};
use crate::domain::Actor;
use crate::domain::events::EventRecord;
use crate::error::{AppError, AppResult};

/// A ticket's stored SLA row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = ticket_sla)]
#[diesel(treat_none_as_null = true)]
pub struct TicketSlaRow {
    /// The ticket.
    pub ticket_id: TicketId,
    /// Plan tier of the applied policy.
    pub tier: String,
    /// Priority of the applied policy.
    pub priority: Priority,
    /// The [`PolicySnapshot`] as JSON.
    pub policy: String,
    /// `running`, `paused`, `breached` or `done`.
    pub state: String,
    /// First-response due instant.
    pub first_response_due_at: Option<NaiveDateTime>,
    /// Due instant of the current next-response cycle.
    pub next_response_due_at: Option<NaiveDateTime>,
    /// Resolution due instant.
    pub resolution_due_at: Option<NaiveDateTime>,
    /// Earliest due instant of a clock still counting.
    pub next_due_at: Option<NaiveDateTime>,
    /// Earliest instant a threshold or target will be crossed.
    pub next_check_at: Option<NaiveDateTime>,
    /// Achieved first response, business seconds.
    pub first_response_business_secs: Option<i64>,
    /// Achieved resolution (at the last solve), business seconds.
    pub resolution_business_secs: Option<i64>,
    /// Business seconds used by the resolution clock so far.
    pub resolution_elapsed_secs: i64,
    /// Wall-clock seconds the resolution clock was paused.
    pub paused_secs: i64,
    /// Whether any target of the current clocks is missed.
    pub breached: bool,
    /// When the snapshot was applied.
    pub applied_at: NaiveDateTime,
    /// When the row was computed.
    pub computed_at: NaiveDateTime,
    /// Outcome of the first-response clock (`running`, `paused`, `overdue`,
    /// `met`, `breached`), for reports; `None` without a target.
    pub first_response_outcome: Option<String>,
    /// Outcome of the resolution clock, as above.
    pub resolution_outcome: Option<String>,
    /// The ticket's `created_at`, copied for the reports' range scans.
    pub opened_at: Option<NaiveDateTime>,
    /// The ticket's `solved_at` when computed, for the reports.
    pub solved_at: Option<NaiveDateTime>,
}

/// What the stored SLA row says of the ticket itself.
#[derive(Debug, Clone, Copy)]
pub struct RowTicket {
    pub id: TicketId,
    /// Solved or closed now.
    pub done: bool,
    /// `tickets.created_at`.
    pub opened_at: NaiveDateTime,
    /// `tickets.solved_at`.
    pub solved_at: Option<NaiveDateTime>,
}

impl From<&Ticket> for RowTicket {
    fn from(t: &Ticket) -> Self {
        RowTicket { id: t.id, done: t.status.is_done(), opened_at: t.created_at, solved_at: t.solved_at }
    }
}

impl TicketSlaRow {
    /// The stored policy snapshot.
    pub fn snapshot(&self) -> AppResult<PolicySnapshot> {
        serde_json::from_str(&self.policy)
            .map_err(|e| AppError::internal(anyhow::anyhow!("ticket {}: bad SLA snapshot: {e}", self.ticket_id)))
    }
}

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

fn naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

/// The plan tier governing a ticket: its instance's plan, else its
/// institution's default plan; `None` means the support default.
pub fn tier_of(conn: &mut AnyConnection, ticket: &Ticket) -> AppResult<Option<String>> {
    if let Some(instance) = ticket.instance_id {
        let plan: Option<String> = instances::table.find(instance).select(instances::plan).first(conn).optional()?;
        if plan.is_some() {
            return Ok(plan);
        }
    }
    if let Some(institution) = ticket.institution_id {
        return Ok(institutions::table.find(institution).select(institutions::default_plan).first(conn).optional()?);
    }
    Ok(None)
}

/// (action, field, new value, data, at) of a status-relevant event.
type EventFact = (String, Option<String>, Option<String>, Option<String>, NaiveDateTime);

/// The facts of a ticket from the stored events and messages.
pub fn facts_of(conn: &mut AnyConnection, ticket: &Ticket) -> AppResult<Facts> {
    let rows: Vec<EventFact> = events::table
        .filter(events::ticket_id.eq(ticket.id))
        .filter(events::action.eq_any(["ticket.created", "ticket.status_changed"]))
        .order(events::id.asc())
        .select((events::action, events::field, events::new_value, events::data, events::created_at))
        .load(conn)?;
    let mut initial_status = None;
    let mut status_changes = Vec::new();
    for (action, field, new_value, data, at) in rows {
        if action == "ticket.created" {
            initial_status = data
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|d| d.get("status").and_then(|s| s.as_str()).and_then(|s| s.parse().ok()));
        } else if field.as_deref() == Some("status")
            && let Some(status) = new_value.and_then(|v| v.parse::<TicketStatus>().ok())
        {
            status_changes.push((utc(at), status));
        }
    }
    status_changes.sort_by_key(|(at, _)| *at);
    // A ticket imported without events: its current status since creation.
    let initial_status =
        initial_status.unwrap_or(if status_changes.is_empty() { ticket.status } else { TicketStatus::New });
    let messages: Vec<(NaiveDateTime, MessageKind)> = messages::table
        .filter(messages::ticket_id.eq(ticket.id))
        .order((messages::created_at.asc(), messages::id.asc()))
        .select((messages::created_at, messages::kind))
        .load(conn)?;
    Ok(Facts {
        created_at: utc(ticket.created_at),
        initial_status,
        status_changes,
        messages: messages.into_iter().map(|(at, kind)| (utc(at), kind)).collect(),
    })
}

/// The outcome of a refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The stored row after the refresh.
    pub row: TicketSlaRow,
    /// The policy the clocks ran on.
    pub policy: AppliedPolicy,
    /// The clocks.
    pub clocks: Clocks,
    /// Whether a (new) policy snapshot was applied.
    pub applied: bool,
}

/// The earliest instant after `now` at which a threshold or target of an
/// active, counting clock is crossed.
fn next_check(clocks: &Clocks, policy: &AppliedPolicy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if clocks.paused_now {
        return None;
    }
    let mut best: Option<DateTime<Utc>> = None;
    for clock in clocks.current().filter(|c| c.is_active()) {
        let percents = policy.snapshot.warn_at.iter().copied().chain([100u8]);
        for percent in percents {
            if let Some(at) = clock.threshold_at(&policy.calendar, percent, false)
                && at > now
            {
                best = Some(best.map_or(at, |b| b.min(at)));
            }
        }
    }
    best
}

fn state_of(done: bool, clocks: &Clocks) -> &'static str {
    if done {
        "done"
    } else if clocks.current().any(|c| c.outcome == Outcome::Overdue) {
        "breached"
    } else if clocks.paused_now {
        "paused"
    } else {
        "running"
    }
}

/// Builds the row for `clocks`.
fn row_for(
    ticket: &Ticket,
    policy: &AppliedPolicy,
    clocks: &Clocks,
    applied_at: NaiveDateTime,
    now: DateTime<Utc>,
) -> AppResult<TicketSlaRow> {
    computed_row(RowTicket::from(ticket), policy, clocks, applied_at, now)
}

/// The row stored for a ticket whose clocks are `clocks`. Public for bulk
/// writers (`tusk seed`) that compute the clocks from facts they hold
/// themselves.
pub fn computed_row(
    ticket: RowTicket,
    policy: &AppliedPolicy,
    clocks: &Clocks,
    applied_at: NaiveDateTime,
    now: DateTime<Utc>,
) -> AppResult<TicketSlaRow> {
    let policy_json = serde_json::to_string(&policy.snapshot).map_err(anyhow::Error::from)?;
    let due = |c: Option<&MetricClock>| c.and_then(|c| c.due_at).map(naive);
    let resolution = clocks.resolution.as_ref();
    let RowTicket { id: ticket_id, done, opened_at, solved_at } = ticket;
    Ok(TicketSlaRow {
        ticket_id,
        tier: policy.snapshot.tier.clone(),
        priority: policy.snapshot.priority,
        policy: policy_json,
        state: state_of(done, clocks).to_string(),
        first_response_due_at: due(clocks.first_response.as_ref()),
        next_response_due_at: due(clocks.next_responses.last()),
        resolution_due_at: due(resolution),
        next_due_at: if clocks.paused_now { None } else { clocks.next_due().map(naive) },
        next_check_at: next_check(clocks, policy, now).map(naive),
        first_response_business_secs: clocks
            .first_response
            .as_ref()
            .filter(|c| c.stop.is_some())
            .map(|c| c.elapsed.num_seconds()),
        resolution_business_secs: resolution.filter(|c| c.stop.is_some()).map(|c| c.elapsed.num_seconds()),
        resolution_elapsed_secs: resolution.map_or(0, |c| c.elapsed.num_seconds()),
        paused_secs: resolution.map_or(0, |c| c.paused.num_seconds()),
        breached: clocks.current().any(|c| c.outcome.is_breached()),
        applied_at,
        computed_at: naive(now),
        first_response_outcome: clocks.first_response.as_ref().map(|c| c.outcome.as_str().to_string()),
        resolution_outcome: resolution.map(|c| c.outcome.as_str().to_string()),
        opened_at: Some(opened_at),
        solved_at,
    })
}

/// The stored SLA row of a ticket, if any.
pub fn row_of(conn: &mut AnyConnection, ticket_id: TicketId) -> AppResult<Option<TicketSlaRow>> {
    Ok(ticket_sla::table.find(ticket_id).select(TicketSlaRow::as_select()).first(conn).optional()?)
}

/// Recomputes a ticket's clocks at `now` and stores them, in one
/// transaction: applies the policy for the ticket's tier and priority when
/// the ticket has no snapshot yet, or re-applies it (with an
/// `sla.policy_applied` event) when its tier or priority changed; otherwise
/// keeps the stored snapshot. Appends the clock segments closed since the
/// last refresh.
pub fn refresh(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    policies: &SlaPolicies,
    now: DateTime<Utc>,
) -> AppResult<Refreshed> {
    refresh_with(conn, ticket, policies, now, false)
}

/// As [`refresh`], but applies the policy of `policies` even when the tier
/// and priority are unchanged (`tusk sla recompute` without `--dry-run`):
/// an `sla.policy_applied` event is written when the snapshot differs.
pub fn reapply(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    policies: &SlaPolicies,
    now: DateTime<Utc>,
) -> AppResult<Refreshed> {
    refresh_with(conn, ticket, policies, now, true)
}

/// What the clocks of a ticket would be under `policies` at `now`, without
/// writing anything; with the stored row, if any, for comparison.
pub fn preview(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    policies: &SlaPolicies,
    now: DateTime<Utc>,
) -> AppResult<(Option<TicketSlaRow>, TicketSlaRow)> {
    let tier = tier_of(conn, ticket)?;
    let policy = policies.get(tier.as_deref(), ticket.priority).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("no SLA policy for tier {tier:?} and priority {}", ticket.priority))
    })?;
    let existing = row_of(conn, ticket.id)?;
    let facts = facts_of(conn, ticket)?;
    let clocks = clock::compute(&facts, &policy.snapshot, &policy.calendar, now);
    let applied_at = existing.as_ref().map_or(naive(now), |r| r.applied_at);
    let row = row_for(ticket, policy, &clocks, applied_at, now)?;
    Ok((existing, row))
}

fn refresh_with(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    policies: &SlaPolicies,
    now: DateTime<Utc>,
    force: bool,
) -> AppResult<Refreshed> {
    crate::db::write_transaction(conn, |conn| {
        let tier = tier_of(conn, ticket)?;
        let wanted = policies.get(tier.as_deref(), ticket.priority).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("no SLA policy for tier {tier:?} and priority {}", ticket.priority))
        })?;
        let existing = row_of(conn, ticket.id)?;
        let (policy, applied, applied_at) = match &existing {
            Some(row) if force => {
                let same = row.snapshot().is_ok_and(|stored| stored == wanted.snapshot);
                (wanted.clone(), !same, if same { row.applied_at } else { naive(now) })
            }
            Some(row) if row.tier == wanted.snapshot.tier && row.priority == ticket.priority => {
                let snapshot = row.snapshot()?;
                let calendar = snapshot
                    .compile_calendar()
                    .map_err(|e| AppError::internal(anyhow::anyhow!("ticket {}: stored calendar: {e}", ticket.id)))?;
                (AppliedPolicy { snapshot, calendar }, false, row.applied_at)
            }
            _ => (wanted.clone(), true, naive(now)),
        };
        let facts = facts_of(conn, ticket)?;
        let clocks = clock::compute(&facts, &policy.snapshot, &policy.calendar, now);
        let row = row_for(ticket, &policy, &clocks, applied_at, now)?;
        match &existing {
            Some(_) => {
                diesel::update(ticket_sla::table.find(ticket.id)).set(&row).execute(conn)?;
            }
            None => {
                diesel::insert_into(ticket_sla::table).values(&row).execute(conn)?;
            }
        }
        if applied {
            EventRecord::ticket(ticket.id, "sla.policy_applied")
                .change(
                    "sla_policy",
                    existing.as_ref().map(|r| format!("{}/{}", r.tier, r.priority)),
                    Some(format!("{}/{}", row.tier, row.priority)),
                )
                .data(serde_json::json!({
                    "tier": row.tier,
                    "priority": row.priority,
                    "first_response": policy.snapshot.first_response,
                    "next_response": policy.snapshot.next_response,
                    "resolution": policy.snapshot.resolution,
                }))
                .write(conn, Actor::System, naive(now))?;
        }
        append_segments(conn, ticket.id, &clocks, now)?;
        Ok(Refreshed { row, policy, clocks, applied })
    })
}

/// A segment row to append.
#[derive(Insertable)]
#[diesel(table_name = sla_segments)]
struct NewSegment {
    ticket_id: TicketId,
    metric: &'static str,
    cycle: i32,
    kind: &'static str,
    status: Option<&'static str>,
    started_at: NaiveDateTime,
    ended_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// Appends the segments that closed since the last refresh: per (metric,
/// cycle), those starting at or after the last stored end, excluding the
/// one still open at `now` (a clock not yet stopped).
fn append_segments(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    clocks: &Clocks,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let stored: Vec<(String, i32, NaiveDateTime)> = sla_segments::table
        .filter(sla_segments::ticket_id.eq(ticket_id))
        .group_by((sla_segments::metric, sla_segments::cycle))
        .select((sla_segments::metric, sla_segments::cycle, diesel::dsl::max(sla_segments::ended_at).assume_not_null()))
        .load(conn)?;
    let mut cycles: Vec<(Metric, i32, &MetricClock)> = Vec::new();
    if let Some(c) = &clocks.first_response {
        cycles.push((Metric::FirstResponse, 0, c));
    }
    for (i, c) in clocks.next_responses.iter().enumerate() {
        cycles.push((Metric::NextResponse, i32::try_from(i).unwrap_or(i32::MAX), c));
    }
    if let Some(c) = &clocks.resolution {
        cycles.push((Metric::Resolution, 0, c));
    }
    let mut rows = Vec::new();
    for (metric, cycle, clock) in cycles {
        let after = stored.iter().find(|(m, c, _)| m == metric.as_str() && *c == cycle).map(|(_, _, end)| utc(*end));
        let closed = clock.segments.iter().filter(|s| clock.stop.is_some() || s.end < now);
        for segment in closed.filter(|s| after.is_none_or(|a| s.start >= a)) {
            rows.push(NewSegment {
                ticket_id,
                metric: metric.as_str(),
                cycle,
                kind: segment.kind.as_str(),
                status: match segment.kind {
                    SegmentKind::Paused(status) => Some(status.as_str()),
                    _ => None,
                },
                started_at: naive(segment.start),
                ended_at: naive(segment.end),
                created_at: naive(now),
            });
        }
    }
    // One multi-row insert per chunk, on the inner connection (the multi
    // connection takes no batch inserts).
    for chunk in rows.chunks(500) {
        match conn {
            AnyConnection::Sqlite(c) => {
                diesel::insert_into(sla_segments::table).values(chunk).execute(c)?;
            }
            AnyConnection::Postgresql(c) => {
                diesel::insert_into(sla_segments::table).values(chunk).execute(c)?;
            }
        }
    }
    Ok(())
}
