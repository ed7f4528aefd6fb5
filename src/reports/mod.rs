//! SLA reports for managers (issue 9): compliance by plan tier,
//! institution, instance, priority or agent; median and 90th percentile of
//! the achieved business times; the breach list; the backlog and its age;
//! weekly volume and compliance per tier. Computed from the stored SLA facts
//! (`ticket_sla`, written by [`crate::sla::store`]) and the tickets, never
//! from memory.
//!
//! # Definitions
//!
//! - **Population.** A report over `[from, to)` covers the tickets *opened*
//!   in that range (a cohort): each ticket counts once per metric, in the
//!   group of its plan tier / institution / instance / priority / assignee.
//! - **Outcome** of the first-response and resolution clocks, as stored by
//!   the SLA engine: *met* (stopped within the target), *breached* (stopped
//!   after it, or still counting past its due instant at `as_of`), or
//!   *pending* (not decided yet: counting before its due instant, or
//!   paused). A reopened ticket's resolution is judged on its latest solve:
//!   while reopened it is pending again (unless already past due).
//! - **Compliance** is `met / (met + breached)`, in percent; pending clocks
//!   are not in the denominator. `None` when nothing was decided.
//! - **Median / p90** are nearest-rank percentiles (the value at rank
//!   `ceil(p × n)` of the sorted achieved business times, as PostgreSQL's
//!   `percentile_disc`) over the clocks that stopped: first response at the
//!   first agent reply, resolution at the last solve. Business time is
//!   measured on the policy's calendar (holidays and closed hours excluded,
//!   paused statuses excluded).
//! - **Weeks** start on Monday 00:00 in the report's timezone (the support
//!   team's); tickets fall into weeks by their UTC hour, which is exact for
//!   timezones with whole-hour offsets.
//! - **Backlog** is the set of tickets not solved or closed at the moment
//!   the report runs (not limited to the range), by age since opening.
//!
//! Counting is done in SQL (`GROUP BY`, covering indexes from the
//! `2026-11-26-000008_reports` migration); percentiles load the achieved
//! times of the range (two integers per ticket) and select in memory.

pub mod csv;
mod query;
pub mod svg;
pub mod table;
pub mod weekly;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::db::AnyConnection;
use crate::error::{AppError, AppResult};

/// How rows of the compliance table are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Plan tier of the applied SLA policy.
    #[default]
    Tier,
    /// The ticket's institution.
    Institution,
    /// The ticket's Mastodon instance.
    Instance,
    /// The ticket's priority (of the applied policy).
    Priority,
    /// The ticket's assignee.
    Agent,
}

impl GroupBy {
    /// Every grouping.
    pub const ALL: [GroupBy; 5] =
        [GroupBy::Tier, GroupBy::Institution, GroupBy::Instance, GroupBy::Priority, GroupBy::Agent];

    /// The name used on the command line, in URLs and in CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Tier => "tier",
            GroupBy::Institution => "institution",
            GroupBy::Instance => "instance",
            GroupBy::Priority => "priority",
            GroupBy::Agent => "agent",
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GroupBy {
    type Err = AppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupBy::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| {
            AppError::invalid(format!(
                "unknown grouping `{s}`; expected tier, institution, instance, priority or agent"
            ))
        })
    }
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    /// Start of the range (inclusive), UTC.
    pub from: DateTime<Utc>,
    /// End of the range (exclusive), UTC.
    pub to: DateTime<Utc>,
    /// Grouping of the compliance table.
    pub group_by: GroupBy,
    /// The instant the report is computed for (overdue clocks, backlog age).
    pub as_of: DateTime<Utc>,
    /// Timezone of weeks and dates (the support team's).
    pub timezone: Tz,
    /// Longest breach list returned (the total is always counted).
    pub breach_limit: usize,
}

/// Default length of the breach list.
pub const DEFAULT_BREACH_LIMIT: usize = 500;

impl ReportQuery {
    /// The local dates `from..=to` (inclusive) in `timezone`.
    pub fn for_dates(
        from: NaiveDate,
        to: NaiveDate,
        timezone: Tz,
        group_by: GroupBy,
        as_of: DateTime<Utc>,
    ) -> AppResult<ReportQuery> {
        if to < from {
            return Err(AppError::invalid(format!("the range ends ({to}) before it starts ({from})")));
        }
        let end = to.succ_opt().ok_or_else(|| AppError::invalid("the end date is out of range"))?;
        Ok(ReportQuery {
            from: local_midnight(timezone, from)?,
            to: local_midnight(timezone, end)?,
            group_by,
            as_of,
            timezone,
            breach_limit: DEFAULT_BREACH_LIMIT,
        })
    }

    /// Parses a timezone name (`support.timezone`).
    pub fn timezone(name: &str) -> AppResult<Tz> {
        name.parse::<Tz>().map_err(|_| AppError::invalid(format!("unknown timezone `{name}`")))
    }
}

/// Midnight of `date` in `tz`, as UTC (the first instant of the day when
/// midnight falls in a DST gap).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> AppResult<DateTime<Utc>> {
    let mut at = date.and_hms_opt(0, 0, 0).ok_or_else(|| AppError::invalid("bad date"))?;
    for _ in 0..4 {
        if let Some(local) = tz.from_local_datetime(&at).earliest() {
            return Ok(local.with_timezone(&Utc));
        }
        at += Duration::hours(1);
    }
    Err(AppError::invalid(format!("{date} has no midnight in {tz}")))
}

/// Monday of the week holding `date`.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// Figures of one metric in one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricStats {
    /// Clocks stopped within their target.
    pub met: i64,
    /// Clocks stopped after their target, or still counting past it.
    pub breached: i64,
    /// Clocks not decided yet.
    pub pending: i64,
    /// `met / (met + breached)` in percent.
    pub percent_met: Option<f64>,
    /// Median achieved business time, seconds.
    pub median_secs: Option<i64>,
    /// 90th percentile of the achieved business time, seconds.
    pub p90_secs: Option<i64>,
}

impl MetricStats {
    fn finish(&mut self, mut values: Vec<i64>) {
        let decided = self.met + self.breached;
        self.percent_met = (decided > 0).then(|| self.met as f64 * 100.0 / decided as f64);
        self.median_secs = percentile(&mut values, 50);
        self.p90_secs = percentile(&mut values, 90);
    }
}

/// Nearest-rank percentile: the value at rank `ceil(p × n / 100)` (1-based)
/// of the sorted values. Reorders `values`.
pub fn percentile(values: &mut [i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let rank = (n * p as usize).div_ceil(100).clamp(1, n);
    let (_, v, _) = values.select_nth_unstable(rank - 1);
    Some(*v)
}

/// One row of the compliance table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupRow {
    /// Stable key: tier id, priority, or the numeric id (`none` when unset).
    pub key: String,
    /// What people read: plan tier, institution name, instance domain,
    /// priority, agent name.
    pub label: String,
    /// Tickets opened in the range in this group.
    pub tickets: i64,
    pub first_response: MetricStats,
    pub resolution: MetricStats,
}

/// Which metric a breach is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachMetric {
    FirstResponse,
    Resolution,
}

impl BreachMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            BreachMetric::FirstResponse => "first_response",
            BreachMetric::Resolution => "resolution",
        }
    }
}

/// One missed target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreachRow {
    pub number: i64,
    pub subject: String,
    /// `/console/tickets/<number>`.
    pub link: String,
    pub tier: String,
    pub priority: String,
    pub institution: Option<String>,
    pub instance: Option<String>,
    pub agent: Option<String>,
    pub metric: BreachMetric,
    /// When the target was (or is) due, UTC.
    pub due_at: Option<NaiveDateTime>,
    /// Achieved business time, when the clock stopped.
    pub business_secs: Option<i64>,
    /// Whether the clock is still counting (overdue, not yet answered/solved).
    pub still_open: bool,
}

/// Age buckets of the backlog.
pub const AGE_BUCKETS: [(&str, i64); 5] =
    [("< 1 d", 1), ("1-3 d", 3), ("3-7 d", 7), ("7-30 d", 30), ("> 30 d", i64::MAX)];

/// Open tickets of one tier by age since opening.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacklogRow {
    pub tier: String,
    /// Counts per [`AGE_BUCKETS`] entry, youngest first.
    pub by_age: Vec<i64>,
    pub total: i64,
}

/// One week of one tier.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WeekRow {
    /// Monday of the week (local date).
    pub week: NaiveDate,
    pub tier: String,
    /// Tickets opened that week.
    pub new: i64,
    /// Tickets solved that week (by their last solve).
    pub solved: i64,
    pub first_response_met: i64,
    pub first_response_breached: i64,
    pub resolution_met: i64,
    pub resolution_breached: i64,
}

impl WeekRow {
    /// First-response compliance of the week's cohort, in percent.
    pub fn first_response_percent(&self) -> Option<f64> {
        pct(self.first_response_met, self.first_response_breached)
    }

    /// Resolution compliance of the week's cohort, in percent.
    pub fn resolution_percent(&self) -> Option<f64> {
        pct(self.resolution_met, self.resolution_breached)
    }
}

fn pct(met: i64, breached: i64) -> Option<f64> {
    (met + breached > 0).then(|| met as f64 * 100.0 / (met + breached) as f64)
}

/// A whole SLA report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub timezone: String,
    pub group_by: GroupBy,
    /// Compliance per group, by key.
    pub groups: Vec<GroupRow>,
    /// Every group together.
    pub total: GroupRow,
    /// Missed targets, most recent due first, at most `breach_limit`.
    pub breaches: Vec<BreachRow>,
    /// Missed targets in all.
    pub breaches_total: i64,
    /// Open tickets by tier and age, now.
    pub backlog: Vec<BacklogRow>,
    /// Weekly volume and compliance per tier, oldest first.
    pub weeks: Vec<WeekRow>,
}

/// Computes the SLA report for `q`.
pub fn sla_report(conn: &mut AnyConnection, q: &ReportQuery) -> AppResult<SlaReport> {
    if q.to <= q.from {
        return Err(AppError::invalid("the report range is empty"));
    }
    let (from, to, as_of) = (q.from.naive_utc(), q.to.naive_utc(), q.as_of.naive_utc());
    let started = std::time::Instant::now();
    let lap = |what: &str| tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "sla report: {what}");
    let query::RangeFacts { groups: counts, achieved: mut values, hours } =
        query::range_facts(conn, q.group_by, from, to, as_of)?;
    lap("range facts");
    let labels = query::labels(conn, q.group_by, counts.iter().map(|c| c.key.as_str()))?;
    let mut groups = Vec::with_capacity(counts.len());
    let mut total = GroupRow { key: "total".into(), label: "All".into(), ..GroupRow::default() };
    let (mut all_fr, mut all_res) = (Vec::new(), Vec::new());
    for c in counts {
        let mut row = GroupRow {
            label: labels.get(&c.key).cloned().unwrap_or_else(|| c.key.clone()),
            key: c.key,
            tickets: c.tickets,
            first_response: MetricStats {
                met: c.fr_met,
                breached: c.fr_breached,
                pending: c.fr_pending,
                ..Default::default()
            },
            resolution: MetricStats {
                met: c.res_met,
                breached: c.res_breached,
                pending: c.res_pending,
                ..Default::default()
            },
        };
        total.tickets += row.tickets;
        for (t, r) in [(&mut total.first_response, &row.first_response), (&mut total.resolution, &row.resolution)] {
            t.met += r.met;
            t.breached += r.breached;
            t.pending += r.pending;
        }
        let (fr, res) = values.remove(&row.key).unwrap_or_default();
        all_fr.extend_from_slice(&fr);
        all_res.extend_from_slice(&res);
        row.first_response.finish(fr);
        row.resolution.finish(res);
        groups.push(row);
    }
    total.first_response.finish(all_fr);
    total.resolution.finish(all_res);
    lap("percentiles");
    let breaches = query::breaches(conn, from, to, as_of, q.breach_limit)?;
    lap("breaches");
    let breaches_total = total.first_response.breached + total.resolution.breached;
    let backlog = query::backlog(conn, as_of)?;
    lap("backlog");
    let weeks = query::weeks(conn, from, to, q.timezone, hours)?;
    lap("weeks");
    Ok(SlaReport {
        from: q.from,
        to: q.to,
        as_of: q.as_of,
        timezone: q.timezone.name().to_string(),
        group_by: q.group_by,
        groups,
        total,
        breaches,
        breaches_total,
        backlog,
        weeks,
    })
}

/// Report parameters as they come from a URL query (`?from=2026-11-01&to=
/// 2026-11-30&group_by=agent&format=csv&section=breaches`); every field
/// optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// First day, `YYYY-MM-DD` (default: 27 days before `to`).
    pub from: Option<String>,
    /// Last day, inclusive (default: today, in the report timezone).
    pub to: Option<String>,
    /// `tier` (default), `institution`, `instance`, `priority` or `agent`.
    pub group_by: Option<String>,
    /// `html` (console default), `json` (API default) or `csv`.
    pub format: Option<String>,
    /// With `csv`: `summary` (default), `breaches`, `backlog` or `weekly`.
    pub section: Option<String>,
}

/// Longest range a report covers.
pub const MAX_RANGE_DAYS: i64 = 1100;

impl ReportParams {
    /// The query these parameters ask for, in `tz`, computed at `now`.
    pub fn query(&self, tz: Tz, now: DateTime<Utc>) -> AppResult<ReportQuery> {
        let date = |name: &str, v: &Option<String>| -> AppResult<Option<NaiveDate>> {
            match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| AppError::invalid(format!("{name} must be a date like 2026-11-30"))),
            }
        };
        let to = date("to", &self.to)?.unwrap_or_else(|| now.with_timezone(&tz).date_naive());
        let from = date("from", &self.from)?.unwrap_or(to - Duration::days(27));
        if (to - from).num_days() > MAX_RANGE_DAYS {
            return Err(AppError::invalid(format!("a report covers at most {MAX_RANGE_DAYS} days")));
        }
        let group_by = match self.group_by.as_deref().filter(|g| !g.is_empty()) {
            Some(g) => g.parse()?,
            None => GroupBy::Tier,
        };
        ReportQuery::for_dates(from, to, tz, group_by, now)
    }

    /// The CSV section asked for (`summary` by default).
    pub fn section(&self) -> AppResult<csv::Section> {
        self.section.as_deref().filter(|s| !s.is_empty()).map_or(Ok(csv::Section::Summary), str::parse)
    }
}

/// A report rendered for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub content_type: &'static str,
    /// Suggested file name, e.g. `sla-tier-2026-11-01-2026-11-30.csv`.
    pub filename: String,
    pub body: String,
}

/// The report as CSV (one section) or JSON.
pub fn export(report: &SlaReport, format: &str, section: csv::Section) -> AppResult<Export> {
    let local =
        |t: DateTime<Utc>| t.with_timezone(&report.timezone.parse::<Tz>().unwrap_or(chrono_tz::UTC)).date_naive();
    let last = local(report.to - Duration::seconds(1));
    let stem = format!("sla-{}-{}-{}", report.group_by, local(report.from), last);
    match format {
        "csv" => Ok(Export {
            content_type: "text/csv; charset=utf-8",
            filename: format!("{stem}-{}.csv", section.as_str()),
            body: csv::section(report, section)?,
        }),
        "json" => {
            Ok(Export { content_type: "application/json", filename: format!("{stem}.json"), body: to_json(report)? })
        }
        other => Err(AppError::invalid(format!("format must be csv or json, not `{other}`"))),
    }
}

/// The report as pretty JSON.
pub fn to_json(report: &SlaReport) -> AppResult<String> {
    serde_json::to_string_pretty(report).map_err(|e| AppError::internal(anyhow::Error::from(e)))
}

/// Business seconds in words: `2 h 10 min`.
pub fn human_secs(secs: Option<i64>) -> String {
    secs.map_or_else(|| "-".to_string(), |s| crate::sla::clock::human(Duration::seconds(s)))
}

/// A percentage with one decimal, `-` when undefined.
pub fn human_pct(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_string(), |p| format!("{p:.1} %"))
}

/// Tier display names keyed by tier id, for labels.
pub type TierNames = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [7], 90), Some(7));
        assert_eq!(percentile(&mut [4, 1, 3, 2], 50), Some(2));
        assert_eq!(percentile(&mut [4, 1, 3, 2], 90), Some(4));
        let mut ten: Vec<i64> = (1..=10).rev().collect();
        assert_eq!(percentile(&mut ten, 90), Some(9));
        assert_eq!(percentile(&mut ten, 50), Some(5));
    }

    #[test]
    fn group_by_parses_its_names_only() {
        for g in GroupBy::ALL {
            assert_eq!(g.as_str().parse::<GroupBy>().unwrap(), g);
        }
        assert!("tiers".parse::<GroupBy>().is_err());
    }

    #[test]
    fn dates_are_local_midnights() {
        let q = ReportQuery::for_dates(
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
            chrono_tz::Europe::Paris,
            GroupBy::Tier,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(q.from.to_rfc3339(), "2026-02-28T23:00:00+00:00");
        // DST starts on 29 March: April 1st is at UTC+2.
        assert_eq!(q.to.to_rfc3339(), "2026-03-31T22:00:00+00:00");
        assert!(
            ReportQuery::for_dates(q.to.date_naive(), q.from.date_naive(), chrono_tz::UTC, GroupBy::Tier, Utc::now())
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn percentile_matches_sorting(mut v in proptest::collection::vec(-1000i64..1000, 1..200), p in 1u32..=100) {
            let mut sorted = v.clone();
            sorted.sort_unstable();
            let rank = ((sorted.len() as f64) * f64::from(p) / 100.0).ceil() as usize;
            prop_assert_eq!(percentile(&mut v, p), Some(sorted[rank.max(1) - 1]));
        }
    }
}
