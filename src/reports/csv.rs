//! CSV exports of an [`SlaReport`]: one table per section, a header row,
//! plain numbers (seconds, percentages with two decimals), UTC timestamps in
//! RFC 3339. Written with the `csv` crate, so commas and quotes in names are
//! quoted.

use super::{AGE_BUCKETS, GroupRow, MetricStats, SlaReport};
use crate::error::{AppError, AppResult};

/// A section of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Compliance per group, then the total row.
    Summary,
    /// The breach list.
    Breaches,
    /// Open tickets by tier and age.
    Backlog,
    /// Weekly volume and compliance per tier.
    Weekly,
}

impl Section {
    pub const ALL: [Section; 4] = [Section::Summary, Section::Breaches, Section::Backlog, Section::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Summary => "summary",
            Section::Breaches => "breaches",
            Section::Backlog => "backlog",
            Section::Weekly => "weekly",
        }
    }
}

impl std::str::FromStr for Section {
    type Err = AppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Section::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            AppError::invalid(format!("unknown report section `{s}`; expected summary, breaches, backlog or weekly"))
        })
    }
}

/// Columns of the summary section.
pub const SUMMARY_HEADER: [&str; 16] = [
    "group_by",
    "key",
    "label",
    "tickets",
    "first_response_met",
    "first_response_breached",
    "first_response_pending",
    "first_response_percent_met",
    "first_response_median_secs",
    "first_response_p90_secs",
    "resolution_met",
    "resolution_breached",
    "resolution_pending",
    "resolution_percent_met",
    "resolution_median_secs",
    "resolution_p90_secs",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_default()
}

fn metric(m: &MetricStats) -> [String; 6] {
    [
        m.met.to_string(),
        m.breached.to_string(),
        m.pending.to_string(),
        pct(m.percent_met),
        opt(m.median_secs),
        opt(m.p90_secs),
    ]
}

fn summary_row(group_by: &str, g: &GroupRow) -> Vec<String> {
    let mut row = vec![group_by.to_string(), g.key.clone(), g.label.clone(), g.tickets.to_string()];
    row.extend(metric(&g.first_response));
    row.extend(metric(&g.resolution));
    row
}

fn write(rows: Vec<Vec<String>>) -> AppResult<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(|e| AppError::internal(anyhow::Error::from(e)))?;
    }
    let bytes = w.into_inner().map_err(|e| AppError::internal(anyhow::anyhow!("csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::internal(anyhow::Error::from(e)))
}

/// One section as CSV.
pub fn section(report: &SlaReport, section: Section) -> AppResult<String> {
    match section {
        Section::Summary => summary(report),
        Section::Breaches => breaches(report),
        Section::Backlog => backlog(report),
        Section::Weekly => weekly(report),
    }
}

/// Compliance per group, then a `total` row.
pub fn summary(report: &SlaReport) -> AppResult<String> {
    let g = report.group_by.as_str();
    let mut rows = vec![SUMMARY_HEADER.iter().map(|s| (*s).to_string()).collect()];
    rows.extend(report.groups.iter().map(|r| summary_row(g, r)));
    rows.push(summary_row(g, &report.total));
    write(rows)
}

/// The breach list.
pub fn breaches(report: &SlaReport) -> AppResult<String> {
    let header = [
        "number",
        "subject",
        "link",
        "tier",
        "priority",
        "institution",
        "instance",
        "agent",
        "metric",
        "due_at",
        "business_secs",
        "still_open",
    ];
    let mut rows = vec![header.iter().map(|s| (*s).to_string()).collect()];
    rows.extend(report.breaches.iter().map(|b| {
        vec![
            b.number.to_string(),
            b.subject.clone(),
            b.link.clone(),
            b.tier.clone(),
            b.priority.clone(),
            opt(b.institution.clone()),
            opt(b.instance.clone()),
            opt(b.agent.clone()),
            b.metric.as_str().to_string(),
            opt(b.due_at.map(|d| d.and_utc().to_rfc3339())),
            opt(b.business_secs),
            b.still_open.to_string(),
        ]
    }));
    write(rows)
}

/// Open tickets by tier and age bucket.
pub fn backlog(report: &SlaReport) -> AppResult<String> {
    let mut header = vec!["tier".to_string()];
    header.extend(AGE_BUCKETS.iter().map(|(name, _)| format!("age {name}")));
    header.push("total".into());
    let mut rows = vec![header];
    rows.extend(report.backlog.iter().map(|b| {
        let mut row = vec![b.tier.clone()];
        row.extend(b.by_age.iter().map(i64::to_string));
        row.push(b.total.to_string());
        row
    }));
    write(rows)
}

/// Weekly volume and compliance per tier.
pub fn weekly(report: &SlaReport) -> AppResult<String> {
    let header = [
        "week",
        "tier",
        "new",
        "solved",
        "first_response_met",
        "first_response_breached",
        "first_response_percent_met",
        "resolution_met",
        "resolution_breached",
        "resolution_percent_met",
    ];
    let mut rows = vec![header.iter().map(|s| (*s).to_string()).collect()];
    rows.extend(report.weeks.iter().map(|w| {
        vec![
            w.week.to_string(),
            w.tier.clone(),
            w.new.to_string(),
            w.solved.to_string(),
            w.first_response_met.to_string(),
            w.first_response_breached.to_string(),
            pct(w.first_response_percent()),
            w.resolution_met.to_string(),
            w.resolution_breached.to_string(),
            pct(w.resolution_percent()),
        ]
    }));
    write(rows)
}
