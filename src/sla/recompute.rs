//! `tusk sla recompute [--dry-run] [--policy FILE]`: replays every ticket's
//! stored facts against the current (or a proposed) policy and reports what
//! would change — due instants, achieved durations, breach flags, the
//! snapshot itself. Nothing is written with `--dry-run`; otherwise each
//! changed ticket gets the new snapshot (with an `sla.policy_applied`
//! event), its recomputed row and its new segments. Past events and notices
//! are never rewritten.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;

use super::policy::{SlaPolicies, SlaPolicyConfig};
use super::store::{self, TicketSlaRow};
use crate::config::Config;
use crate::db::models::Ticket;
use crate::db::schema::tickets;
use crate::db::{AnyConnection, TicketId};
use crate::error::AppResult;

/// One field of one ticket that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The ticket.
    pub ticket_id: TicketId,
    /// Its public number.
    pub number: i64,
    /// The field of `ticket_sla`.
    pub field: &'static str,
    /// Stored value (`None`: no row, or no value).
    pub old: Option<String>,
    /// Recomputed value.
    pub new: Option<String>,
}

/// What a recompute found (and did).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecomputeReport {
    /// Tickets replayed.
    pub tickets: usize,
    /// Tickets with at least one change.
    pub changed_tickets: usize,
    /// Every change.
    pub changes: Vec<Change>,
    /// Whether the changes were written.
    pub applied: bool,
}

impl fmt::Display for RecomputeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            writeln!(
                f,
                "#{} {}: {} -> {}",
                c.number,
                c.field,
                c.old.as_deref().unwrap_or("-"),
                c.new.as_deref().unwrap_or("-")
            )?;
        }
        write!(
            f,
            "{} tickets replayed, {} would change{}",
            self.tickets,
            self.changed_tickets,
            if self.applied { " (written)" } else { " (dry run: nothing written)" }
        )
    }
}

fn diff(ticket: &Ticket, old: Option<&TicketSlaRow>, new: &TicketSlaRow) -> Vec<Change> {
    fn show<T: fmt::Display>(v: Option<T>) -> Option<String> {
        v.map(|v| v.to_string())
    }
    let fields: [(&'static str, Option<String>, Option<String>); 10] = [
        ("tier", old.map(|o| o.tier.clone()), Some(new.tier.clone())),
        ("priority", old.map(|o| o.priority.to_string()), Some(new.priority.to_string())),
        ("policy", old.map(|o| o.policy.clone()), Some(new.policy.clone())),
        ("first_response_due_at", show(old.and_then(|o| o.first_response_due_at)), show(new.first_response_due_at)),
        ("next_response_due_at", show(old.and_then(|o| o.next_response_due_at)), show(new.next_response_due_at)),
        ("resolution_due_at", show(old.and_then(|o| o.resolution_due_at)), show(new.resolution_due_at)),
        (
            "first_response_business_secs",
            show(old.and_then(|o| o.first_response_business_secs)),
            show(new.first_response_business_secs),
        ),
        ("breached", old.map(|o| o.breached.to_string()), Some(new.breached.to_string())),
        (
            "first_response_outcome",
            old.and_then(|o| o.first_response_outcome.clone()),
            new.first_response_outcome.clone(),
        ),
        ("resolution_outcome", old.and_then(|o| o.resolution_outcome.clone()), new.resolution_outcome.clone()),
    ];
    fields
        .into_iter()
        .filter(|(_, o, n)| o != n)
        .map(|(field, old, new)| {
            // The snapshot JSON is long: name the change, not the text.
            let (old, new) =
                if field == "policy" { (old.map(|_| "stored".into()), Some("proposed".into())) } else { (old, new) };
            Change { ticket_id: ticket.id, number: ticket.number, field, old, new }
        })
        .collect()
}

/// Replays every ticket against `policies` at `now`; writes the changed
/// tickets when `apply`.
pub fn recompute(
    conn: &mut AnyConnection,
    policies: &SlaPolicies,
    now: DateTime<Utc>,
    apply: bool,
) -> AppResult<RecomputeReport> {
    let mut report = RecomputeReport { applied: apply, ..RecomputeReport::default() };
    let mut after = TicketId(0);
    loop {
        let batch: Vec<Ticket> = tickets::table
            .filter(tickets::id.gt(after))
            .order(tickets::id.asc())
            .limit(1000)
            .select(Ticket::as_select())
            .load(conn)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for ticket in &batch {
            let (old, new) = store::preview(conn, ticket, policies, now)?;
            let changes = diff(ticket, old.as_ref(), &new);
            report.tickets += 1;
            if !changes.is_empty() {
                report.changed_tickets += 1;
                report.changes.extend(changes);
                if apply {
                    store::reapply(conn, ticket, policies, now)?;
                }
            }
        }
    }
    Ok(report)
}

/// A proposed policy file: `[sla.<tier>]` tables as in the configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    sla: BTreeMap<String, SlaPolicyConfig>,
}

/// Reads and validates a proposed policy file against the configured plans.
pub fn policies_from_file(path: &Path, config: &Config) -> anyhow::Result<SlaPolicies> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: PolicyFile = toml::from_str(&text).with_context(|| format!("{}: not a policy file", path.display()))?;
    SlaPolicies::compile(&file.sla, &config.plan_ids(), &config.support.default_plan)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The CLI command: current policies, or those of `policy_file`.
pub fn command(config: &Config, dry_run: bool, policy_file: Option<&Path>) -> anyhow::Result<RecomputeReport> {
    let policies = match policy_file {
        Some(path) => policies_from_file(path, config)?,
        None => SlaPolicies::from_config(config).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let db = crate::commands::open_and_migrate(config)?;
    let mut conn = db.get()?;
    Ok(recompute(&mut conn, &policies, Utc::now(), !dry_run)?)
}
