//! The SLA evaluator: refreshes the clocks of tickets that changed or reach
//! a threshold, and sends exactly one notice per (ticket, metric, cycle,
//! threshold) — warnings at the policy's `warn_at` percentages, the breach
//! at 100 %. Exactly-once holds across several `tusk serve` processes
//! because each notice is first claimed by inserting its `sla_notices` row
//! (unique key, `ON CONFLICT DO NOTHING`) in the same transaction as its
//! event and its mail-outbox row.
//!
//! Warnings of non-urgent tickets wait for the support team's business
//! hours (the policy calendar): nobody is mailed a reminder at midnight.
//! Breach notices go out when they happen.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::clock::MetricClock;
use super::policy::{Metric, SlaPolicies};
use super::store::{self, Refreshed};
use crate::db::models::Ticket;
use crate::db::schema::{agents, sla_notices, ticket_sla, tickets};
use crate::db::{AnyConnection, Priority, Role, TicketId, TicketStatus};
use crate::domain::Actor;
use crate::domain::events::EventRecord;
use crate::domain::outbox::{OutgoingMail, enqueue_mail};
use crate::domain::tickets::generate_message_id;
use crate::error::{AppError, AppResult};

/// What one evaluation pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Tickets whose clocks were recomputed.
    pub refreshed: usize,
    /// Warning notices sent.
    pub warnings: usize,
    /// Breach notices sent.
    pub breaches: usize,
}

/// Settings of the evaluator.
#[derive(Debug, Clone)]
pub struct EvaluatorOptions {
    /// The domain of generated Message-IDs (the support address's domain).
    pub mail_domain: String,
    /// Most tickets handled per pass.
    pub batch: i64,
    /// Plan tier id -> the name people read (`[plans.<id>] name`), for the
    /// notices' emails; a tier missing here is shown by its id.
    pub tier_names: std::collections::BTreeMap<String, String>,
}

/// The tickets to look at now: those whose SLA row reaches a check
/// instant, those changed since their clocks were computed, and open
/// tickets without an SLA row.
///
/// The check instants come from an index. Changed or missing rows can only
/// be found by comparing tickets with their SLA rows; with `changed_since`
/// only tickets updated since then are compared (a range of the
/// `updated_at` index), without it every ticket is (a full scan: over a
/// million tickets, more than a second).
fn candidates(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    batch: i64,
    changed_since: Option<NaiveDateTime>,
) -> AppResult<Vec<Ticket>> {
    let mut due: Vec<Ticket> = tickets::table
        .inner_join(ticket_sla::table)
        .filter(ticket_sla::next_check_at.le(now))
        .order((ticket_sla::next_check_at.asc(), ticket_sla::ticket_id.asc()))
        .limit(batch)
        .select(Ticket::as_select())
        .load(conn)?;
    let room = |due: &Vec<Ticket>| batch - i64::try_from(due.len()).unwrap_or(batch);
    if room(&due) > 0 {
        let mut changed = tickets::table
            .inner_join(ticket_sla::table)
            .filter(tickets::updated_at.gt(ticket_sla::computed_at))
            .filter(ticket_sla::next_check_at.is_null().or(ticket_sla::next_check_at.gt(now)))
            .into_boxed();
        if let Some(since) = changed_since {
            changed = changed.filter(tickets::updated_at.ge(since));
        }
        let changed: Vec<Ticket> = changed
            .order((tickets::updated_at.asc(), tickets::id.asc()))
            .limit(room(&due))
            .select(Ticket::as_select())
            .load(conn)?;
        due.extend(changed);
    }
    if room(&due) > 0 {
        let mut missing = tickets::table
            .left_join(ticket_sla::table)
            .filter(ticket_sla::ticket_id.is_null())
            .filter(tickets::status.ne_all([TicketStatus::Solved, TicketStatus::Closed]))
            .into_boxed();
        if let Some(since) = changed_since {
            missing = missing.filter(tickets::updated_at.ge(since));
        }
        let missing: Vec<Ticket> = missing
            .order((tickets::updated_at.asc(), tickets::id.asc()))
            .limit(room(&due))
            .select(Ticket::as_select())
            .load(conn)?;
        due.extend(missing);
    }
    Ok(due)
}

/// Tickets evaluated per transaction.
const GROUP: usize = 50;

/// One evaluation pass at `now`: refreshes up to `options.batch` tickets
/// and sends the notices they owe. Compares every ticket with its SLA row;
/// see [`evaluate_changed_since`] for the cheap pass.
pub fn evaluate(
    conn: &mut AnyConnection,
    policies: &SlaPolicies,
    options: &EvaluatorOptions,
    now: DateTime<Utc>,
) -> AppResult<Evaluation> {
    evaluate_changed_since(conn, policies, options, now, None)
}

/// [`evaluate`], looking for changed tickets (and tickets without an SLA
/// row) only among those updated at or after `changed_since`, when given.
/// Check instants are always honoured.
pub fn evaluate_changed_since(
    conn: &mut AnyConnection,
    policies: &SlaPolicies,
    options: &EvaluatorOptions,
    now: DateTime<Utc>,
    changed_since: Option<NaiveDateTime>,
) -> AppResult<Evaluation> {
    let mut out = Evaluation::default();
    let candidates = candidates(conn, now.naive_utc(), options.batch, changed_since)?;
    // Several tickets per transaction (each in its own savepoint): one
    // commit, hence one fsync, per group instead of per ticket. A group is
    // small so that SQLite's single writer is not held for long.
    for group in candidates.chunks(GROUP) {
        crate::db::write_transaction(conn, |conn| {
            for ticket in group {
                let (warnings, breaches) = evaluate_ticket(conn, ticket, policies, options, now)?;
                out.refreshed += 1;
                out.warnings += warnings;
                out.breaches += breaches;
            }
            Ok::<_, AppError>(())
        })?;
    }
    Ok(out)
}

/// Policies and options of the evaluator, for refreshing a ticket's clocks
/// right after a change (in the change's own transaction).
#[derive(Debug, Clone)]
pub struct SlaContext {
    pub policies: SlaPolicies,
    pub options: EvaluatorOptions,
}

impl SlaContext {
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        let policies = SlaPolicies::from_config(config).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self { policies, options: EvaluatorOptions::from_config(config) })
    }

    /// Runs `change` and re-evaluates the clocks of the ticket it names, in
    /// one transaction: what every console, API and portal write goes
    /// through, so stored clocks, due instants and notices never lag.
    pub fn change<T>(
        &self,
        conn: &mut AnyConnection,
        change: impl FnOnce(&mut AnyConnection) -> AppResult<(T, TicketId)>,
    ) -> AppResult<T> {
        crate::db::write_transaction(conn, |conn| {
            let (out, ticket_id) = change(conn)?;
            self.refresh(conn, ticket_id)?;
            Ok(out)
        })
    }

    /// Re-evaluates the ticket now: call it inside the transaction of the
    /// change (status, priority, instance, reply…), so the stored clocks,
    /// due instants and notices are never behind the ticket.
    pub fn refresh(&self, conn: &mut AnyConnection, ticket_id: TicketId) -> AppResult<()> {
        let ticket = crate::domain::tickets::get(conn, ticket_id)?;
        evaluate_ticket(conn, &ticket, &self.policies, &self.options, Utc::now())?;
        Ok(())
    }
}

/// Refreshes one ticket and sends the notices it owes, in one transaction.
/// Returns (warnings, breaches) sent by this call.
pub fn evaluate_ticket(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    policies: &SlaPolicies,
    options: &EvaluatorOptions,
    now: DateTime<Utc>,
) -> AppResult<(usize, usize)> {
    crate::db::write_transaction(conn, |conn| {
        let refreshed = store::refresh(conn, ticket, policies, now)?;
        let mut sent = (0, 0);
        let mut cycles: Vec<(i32, &MetricClock)> = Vec::new();
        cycles.extend(refreshed.clocks.first_response.iter().map(|c| (0, c)));
        if let Some(last) = refreshed.clocks.next_responses.last() {
            let index = refreshed.clocks.next_responses.len() - 1;
            cycles.push((i32::try_from(index).unwrap_or(i32::MAX), last));
        }
        cycles.extend(refreshed.clocks.resolution.iter().map(|c| (0, c)));
        for (cycle, clock) in cycles {
            if let Some(breach_at) = clock.due_at.filter(|_| clock.outcome.is_breached()) {
                if notify(conn, ticket, &refreshed, options, clock.metric, cycle, 100, breach_at, now)? {
                    sent.1 += 1;
                }
                continue;
            }
            if !clock.is_active() {
                continue;
            }
            let waits = ticket.priority != Priority::Urgent && !refreshed.policy.calendar.is_open(now);
            if waits {
                continue;
            }
            // Only the highest threshold crossed is sent: one mail, not a burst.
            let crossed = refreshed.policy.snapshot.warn_at.iter().rev().find_map(|&percent| {
                clock
                    .threshold_at(&refreshed.policy.calendar, percent, refreshed.clocks.paused_now)
                    .filter(|at| *at <= now)
                    .map(|at| (percent, at))
            });
            if let Some((percent, at)) = crossed
                && notify(conn, ticket, &refreshed, options, clock.metric, cycle, i32::from(percent), at, now)?
            {
                sent.0 += 1;
            }
        }
        Ok(sent)
    })
}

/// Claims the notice row; when this call claimed it, writes the event and
/// queues the mail. Returns whether the notice was sent by this call.
#[allow(clippy::too_many_arguments)]
fn notify(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    refreshed: &Refreshed,
    options: &EvaluatorOptions,
    metric: Metric,
    cycle: i32,
    threshold: i32,
    crossed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    if !claim_notice(conn, ticket.id, metric, cycle, threshold, crossed_at.naive_utc(), now.naive_utc())? {
        return Ok(false);
    }
    let breach = threshold >= 100;
    let (action, kind) = if breach { ("sla.breached", "sla_breach") } else { ("sla.warning", "sla_warning") };
    let due_at = refreshed.clocks.current().find(|c| c.metric == metric).and_then(|c| c.due_at);
    let explanation =
        refreshed.clocks.current().find(|c| c.metric == metric).map(|c| c.explain_text(&refreshed.policy.calendar));
    let data = serde_json::json!({
        "metric": metric,
        "cycle": cycle,
        "threshold": threshold,
        "crossed_at": crossed_at,
        "due_at": due_at,
        "tier": refreshed.row.tier,
        "priority": refreshed.row.priority,
        "explanation": explanation,
    });
    EventRecord::ticket(ticket.id, action).data(data.clone()).write(conn, Actor::System, now.naive_utc())?;
    let recipients = recipients(conn, ticket)?;
    if !recipients.is_empty() {
        let message_id = generate_message_id(&options.mail_domain);
        // What the `sla_warning` / `sla_breach` templates need (see
        // mail::outbound::worker): the deadline in the calendar's timezone,
        // the plan tier, the institution and instance by name.
        let tz = refreshed.policy.calendar.timezone().unwrap_or(chrono_tz::UTC);
        let due_text = due_at.map_or_else(
            || "paused".to_string(),
            |d| format!("{} ({})", d.with_timezone(&tz).format("%a %d %b %Y %H:%M"), tz.name()),
        );
        let institution = match ticket.institution_id {
            Some(id) => crate::domain::institutions::get(conn, id)?.name,
            None => "(no institution)".to_string(),
        };
        let instance =
            ticket.instance_id.map(|id| crate::domain::instances::get(conn, id)).transpose()?.map(|i| i.domain);
        let mut payload = data;
        payload["ticket_number"] = serde_json::json!(ticket.number);
        payload["subject"] = serde_json::json!(ticket.subject);
        payload["metric"] = serde_json::json!(metric.to_string().replace('_', " "));
        payload["due_at"] = serde_json::json!(due_text);
        let tier = &refreshed.row.tier;
        payload["plan"] = serde_json::json!(options.tier_names.get(tier).unwrap_or(tier));
        payload["institution"] = serde_json::json!(institution);
        payload["instance"] = serde_json::json!(instance);
        enqueue_mail(
            conn,
            &OutgoingMail {
                kind,
                ticket_id: Some(ticket.id),
                message_ref: None,
                recipients: &recipients,
                rfc_message_id: &message_id,
                payload,
            },
            now.naive_utc(),
        )?;
    }
    Ok(true)
}

/// Inserts the notice row unless it exists; true when this call inserted it.
fn claim_notice(
    conn: &mut AnyConnection,
    ticket_id: TicketId,
    metric: Metric,
    cycle: i32,
    threshold: i32,
    due_at: NaiveDateTime,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let values = (
        sla_notices::ticket_id.eq(ticket_id),
        sla_notices::metric.eq(metric.as_str()),
        sla_notices::cycle.eq(cycle),
        sla_notices::threshold.eq(threshold),
        sla_notices::due_at.eq(due_at),
        sla_notices::created_at.eq(now),
    );
    let inserted = match conn {
        AnyConnection::Sqlite(c) => {
            diesel::insert_into(sla_notices::table).values(values).on_conflict_do_nothing().execute(c)?
        }
        AnyConnection::Postgresql(c) => {
            diesel::insert_into(sla_notices::table).values(values).on_conflict_do_nothing().execute(c)?
        }
    };
    Ok(inserted == 1)
}

/// The assignee when there is an active one, else the active managers and
/// admins.
fn recipients(conn: &mut AnyConnection, ticket: &Ticket) -> AppResult<Vec<String>> {
    if let Some(assignee) = ticket.assignee_id {
        let email: Option<String> = agents::table
            .find(assignee)
            .filter(agents::active.eq(true))
            .select(agents::email)
            .first(conn)
            .optional()?;
        if let Some(email) = email {
            return Ok(vec![email]);
        }
    }
    Ok(agents::table
        .filter(agents::active.eq(true))
        .filter(agents::role.eq_any([Role::Manager, Role::Admin]))
        .order(agents::id.asc())
        .select(agents::email)
        .load(conn)?)
}

/// A ticket for the "due soon / breached" console queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTicket {
    /// The ticket.
    pub ticket_id: TicketId,
    /// Its earliest due instant of a counting clock.
    pub next_due_at: Option<NaiveDateTime>,
    /// Whether a target is already missed.
    pub breached: bool,
}

/// Open tickets already breached or due within `within` of `now`, breached
/// first, then by due instant. Two index range scans (partial index
/// `ticket_sla_open_due`), never a scan of every clock.
pub fn due_soon(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    within: Duration,
    limit: i64,
) -> AppResult<Vec<DueTicket>> {
    let horizon = (now + within).naive_utc();
    // The due queue's page view: cached statements, literal LIMITs.
    let limit = u32::try_from(limit.clamp(0, 10_000)).unwrap_or(0);
    let breached: Vec<(TicketId, Option<NaiveDateTime>)> = crate::on_backend!(conn, |c| crate::db::reused_limit(
        ticket_sla::table
            .filter(ticket_sla::state.ne("done"))
            .filter(ticket_sla::breached.eq(true))
            .order((ticket_sla::breached.asc(), ticket_sla::next_due_at.asc(), ticket_sla::ticket_id.asc()))
            .select((ticket_sla::ticket_id, ticket_sla::next_due_at)),
        limit
    )
    .load(c))?;
    let room = limit.saturating_sub(u32::try_from(breached.len()).unwrap_or(limit));
    let soon: Vec<(TicketId, Option<NaiveDateTime>)> = if room > 0 {
        crate::on_backend!(conn, |c| crate::db::reused_limit(
            ticket_sla::table
                .filter(ticket_sla::state.ne("done"))
                .filter(ticket_sla::breached.eq(false))
                .filter(ticket_sla::next_due_at.le(horizon))
                .order((ticket_sla::breached.asc(), ticket_sla::next_due_at.asc(), ticket_sla::ticket_id.asc()))
                .select((ticket_sla::ticket_id, ticket_sla::next_due_at)),
            room
        )
        .load(c))?
    } else {
        Vec::new()
    };
    Ok(breached
        .into_iter()
        .map(|(ticket_id, next_due_at)| DueTicket { ticket_id, next_due_at, breached: true })
        .chain(soon.into_iter().map(|(ticket_id, next_due_at)| DueTicket { ticket_id, next_due_at, breached: false }))
        .collect())
}

impl EvaluatorOptions {
    /// Options from the configuration: Message-IDs in the support
    /// address's domain, 500 tickets per pass, the tiers' names.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let domain = config.support.address.rsplit_once('@').map_or("localhost", |(_, d)| d);
        let tier_names = config.plans.iter().map(|(id, p)| (id.clone(), p.name.clone())).collect();
        Self { mail_domain: domain.to_string(), batch: 500, tier_names }
    }
}

/// How often the periodic evaluator compares every ticket with its SLA row
/// (the other passes compare only recently updated tickets).
const FULL_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// How far before the previous pass's start a pass looks for changed
/// tickets: covers transactions that wrote `updated_at` before that start
/// and committed after it, and small clock differences between processes.
const CHANGED_SLACK_MINUTES: i64 = 10;

/// Starts the periodic evaluator of `tusk serve`: every 30 seconds, passes
/// until a pass handles less than a full batch. The first pass, and one an
/// hour, compare every ticket with its SLA row; the others only tickets
/// updated since shortly before the previous pass (every change made
/// through Tusk refreshes the clocks in its own transaction anyway, so
/// these passes are a safety net, and a full scan every 30 seconds costs a
/// core-second per million tickets). Errors are logged and the next tick
/// tries again.
pub fn spawn(db: crate::db::Db, config: &crate::config::Config) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let policies = SlaPolicies::from_config(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = EvaluatorOptions::from_config(config);
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        let mut last_full_sweep: Option<std::time::Instant> = None;
        let mut changed_since: Option<NaiveDateTime> = None;
        loop {
            tick.tick().await;
            let started = Utc::now();
            let full = last_full_sweep.is_none_or(|at| at.elapsed() >= FULL_SWEEP_EVERY);
            let since = if full { None } else { changed_since };
            let mut failed = false;
            // Bounded, so rows that stay candidates (clock skew) never spin.
            for _ in 0..1000 {
                let (policies, options) = (policies.clone(), options.clone());
                let batch = options.batch;
                match db.run(move |conn| evaluate_changed_since(conn, &policies, &options, Utc::now(), since)).await {
                    Ok(done) => {
                        if done.warnings + done.breaches > 0 {
                            tracing::info!(warnings = done.warnings, breaches = done.breaches, "SLA notices queued");
                        }
                        if i64::try_from(done.refreshed).unwrap_or(0) < batch {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = ?e, "SLA evaluation failed");
                        failed = true;
                        break;
                    }
                }
            }
            // After a failure, the next pass starts again from the last
            // point every change up to which was looked at.
            if !failed {
                if full {
                    last_full_sweep = Some(std::time::Instant::now());
                }
                changed_since = Some((started - Duration::minutes(CHANGED_SLACK_MINUTES)).naive_utc());
            }
        }
    }))
}
