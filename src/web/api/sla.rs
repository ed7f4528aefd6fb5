//! `GET /api/v1/tickets/{number}/sla`: the ticket's explainable SLA clocks,
//! as the console's SLA panel shows them — computed at the time of the
//! request from the policy snapshot stored on the ticket and its facts.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::ProblemDoc;
use super::{ApiCaller, Input, input};
use crate::db::TicketStatus;
use crate::domain::api_tokens::Scope;
use crate::domain::tickets;
use crate::error::{AppError, AppResult};
use crate::sla::calendar::Calendar;
use crate::sla::clock::{MetricClock, Outcome, Segment, SegmentKind};
use crate::sla::explain::{self, TicketClocks};
use crate::sla::policy::Metric;
use crate::web::AppState;

/// Which SLA metric a clock measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaMetric {
    /// From the ticket's creation to the first agent reply.
    FirstResponse,
    /// From a customer message following an agent reply to the next agent reply.
    NextResponse,
    /// From creation to solved (a reopen resumes it).
    Resolution,
}

impl From<Metric> for SlaMetric {
    fn from(m: Metric) -> Self {
        match m {
            Metric::FirstResponse => SlaMetric::FirstResponse,
            Metric::NextResponse => SlaMetric::NextResponse,
            Metric::Resolution => SlaMetric::Resolution,
        }
    }
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaOutcome {
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

impl From<Outcome> for SlaOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Running => SlaOutcome::Running,
            Outcome::Paused => SlaOutcome::Paused,
            Outcome::Overdue => SlaOutcome::Overdue,
            Outcome::Met => SlaOutcome::Met,
            Outcome::Breached => SlaOutcome::Breached,
        }
    }
}

/// What a stretch of a clock's timeline was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaSegmentKind {
    /// Counting, in business hours, before the due instant.
    Running,
    /// The clock would count, but the calendar is closed.
    OutsideHours,
    /// Stopped by a status (see `status`).
    Paused,
    /// After the due instant while the clock would count.
    Breached,
}

/// One step of a clock's explanation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlaStepOut {
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// What happened, in words (instants in the policy's timezone).
    pub text: String,
}

/// One stretch `[start, end)` of a clock's timeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlaSegmentOut {
    pub kind: SlaSegmentKind,
    /// The status that paused the clock (`paused` segments only).
    pub status: Option<TicketStatus>,
    #[schema(value_type = String, format = DateTime)]
    pub start: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub end: DateTime<Utc>,
}

/// The segments with consecutive stretches of the same kind (a status
/// change that does not stop the clock splits them) merged for reading.
fn merged(segments: &[Segment]) -> Vec<SlaSegmentOut> {
    let mut out: Vec<Segment> = Vec::with_capacity(segments.len());
    for s in segments {
        match out.last_mut() {
            Some(last) if last.kind == s.kind && last.end == s.start => last.end = s.end,
            _ => out.push(*s),
        }
    }
    out.iter().map(SlaSegmentOut::from).collect()
}

impl From<&Segment> for SlaSegmentOut {
    fn from(s: &Segment) -> Self {
        let (kind, status) = match s.kind {
            SegmentKind::Running => (SlaSegmentKind::Running, None),
            SegmentKind::OutsideHours => (SlaSegmentKind::OutsideHours, None),
            SegmentKind::Paused(status) => (SlaSegmentKind::Paused, Some(status)),
            SegmentKind::Breached => (SlaSegmentKind::Breached, None),
        };
        Self { kind, status, start: s.start, end: s.end }
    }
}

/// One cycle of one metric at the time of the request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlaClockOut {
    pub metric: SlaMetric,
    /// 0 for first response and resolution; for next response the cycle's
    /// index, oldest first from 0 (as in stored segments and notices).
    pub cycle: i32,
    /// The business-time target, in seconds.
    pub target_secs: i64,
    /// When the clock started.
    #[schema(value_type = String, format = DateTime)]
    pub start: DateTime<Utc>,
    /// When it stopped (agent reply, solve); `null` while it runs or waits.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stop: Option<DateTime<Utc>>,
    /// When the target is (or was) reached; for a clock met early, when it
    /// would have been; `null` while paused before it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<DateTime<Utc>>,
    /// Business time counted up to the stop (or the time of the request).
    pub elapsed_business_secs: i64,
    /// Wall-clock time spent paused by statuses.
    pub paused_secs: i64,
    pub outcome: SlaOutcome,
    /// Share of the target used, in percent (may exceed 100).
    pub percent_used: i64,
    /// The explanation in one line, as the console shows it:
    /// "due Fri 06 Mar 19:05 because: …".
    pub explanation: String,
    /// The explanation as steps, oldest first; the last one is the verdict.
    pub steps: Vec<SlaStepOut>,
    /// The timeline from `start` to the stop (or the time of the request):
    /// adjacent, in order, consecutive stretches of the same kind merged.
    pub segments: Vec<SlaSegmentOut>,
}

impl SlaClockOut {
    fn new(clock: &MetricClock, cycle: i32, calendar: &Calendar) -> Self {
        Self {
            metric: clock.metric.into(),
            cycle,
            target_secs: clock.target.num_seconds(),
            start: clock.start,
            stop: clock.stop,
            due_at: clock.due_at,
            elapsed_business_secs: clock.elapsed.num_seconds(),
            paused_secs: clock.paused.num_seconds(),
            outcome: clock.outcome.into(),
            percent_used: clock.percent_used(),
            explanation: clock.explain_text(calendar),
            steps: clock.explain(calendar).into_iter().map(|s| SlaStepOut { at: s.at, text: s.text }).collect(),
            segments: merged(&clock.segments),
        }
    }
}

/// A ticket's SLA clocks. A ticket no policy was applied to yet answers
/// `tier: null`, `timezone: null`, `paused_now: false` and no clocks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketSlaOut {
    pub number: i64,
    /// Plan tier of the applied policy.
    pub tier: Option<String>,
    /// Whether the ticket's status pauses the clocks now.
    pub paused_now: bool,
    /// The timezone of the policy's calendar (IANA name), in which the
    /// explanations write instants.
    pub timezone: Option<String>,
    /// First response, every next-response cycle (oldest first), resolution;
    /// a metric the policy sets no target for is left out.
    pub clocks: Vec<SlaClockOut>,
}

impl TicketSlaOut {
    fn new(number: i64, clocks: Option<TicketClocks>) -> Self {
        let Some(tc) = clocks else {
            return Self { number, tier: None, paused_now: false, timezone: None, clocks: Vec::new() };
        };
        let calendar = &tc.calendar;
        let mut out = Vec::new();
        out.extend(tc.clocks.first_response.iter().map(|c| SlaClockOut::new(c, 0, calendar)));
        out.extend(
            tc.clocks
                .next_responses
                .iter()
                .enumerate()
                .map(|(i, c)| SlaClockOut::new(c, i32::try_from(i).unwrap_or(i32::MAX), calendar)),
        );
        out.extend(tc.clocks.resolution.iter().map(|c| SlaClockOut::new(c, 0, calendar)));
        Self {
            number,
            tier: Some(tc.tier),
            paused_now: tc.clocks.paused_now,
            timezone: calendar.timezone().map(|tz| tz.name().to_string()),
            clocks: out,
        }
    }
}

/// The ticket's SLA clocks now, each with its explanation: the due instant
/// and why (business hours, pauses, breach), as the console's SLA panel.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/sla",
    tag = "tickets",
    params(("number" = i64, Path, description = "Public ticket number")),
    responses(
        (status = 200, description = "The clocks (none before a policy is applied)", body = TicketSlaOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The number is not an integer", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:read"]))
)]
pub async fn show_ticket_sla(
    caller: ApiCaller,
    state: web::Data<AppState>,
    number: Input<web::Path<i64>>,
) -> AppResult<HttpResponse> {
    caller.require(Scope::TicketsRead)?;
    let number = input(number)?.into_inner();
    let clocks = state
        .db
        .run(move |conn| {
            let ticket = tickets::by_number(conn, number)?
                .ok_or_else(|| AppError::not_found(format!("ticket #{number} not found")))?;
            explain::clocks_of(conn, &ticket, Utc::now())
        })
        .await?;
    Ok(HttpResponse::Ok().json(TicketSlaOut::new(number, clocks)))
}
