//! `GET /console/reports/sla`: SLA reports for managers and admins — charts
//! (server-side SVG), tables, and CSV/JSON downloads of the same report.

use actix_web::{HttpResponse, http::header, web};
use serde::Serialize;

use super::Chrome;
use crate::db::Role;
use crate::reports::{self, GroupBy, ReportParams, SlaReport, human_pct, human_secs};
use crate::web::AppState;
use crate::web::session::{AgentUser, PageError};

#[derive(Serialize)]
struct Metric {
    met: i64,
    breached: i64,
    pending: i64,
    percent: String,
    median: String,
    p90: String,
}

impl Metric {
    fn of(m: &reports::MetricStats) -> Metric {
        Metric {
            met: m.met,
            breached: m.breached,
            pending: m.pending,
            percent: human_pct(m.percent_met),
            median: human_secs(m.median_secs),
            p90: human_secs(m.p90_secs),
        }
    }
}

#[derive(Serialize)]
struct Row {
    label: String,
    tickets: i64,
    first_response: Metric,
    resolution: Metric,
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    selected: bool,
}

#[derive(Serialize)]
struct Page {
    chrome: Chrome,
    from: String,
    to: String,
    group_by: &'static str,
    groupings: Vec<Choice>,
    rows: Vec<Row>,
    total: Row,
    /// Trusted SVG built by `reports::svg` (every text escaped there).
    charts: Vec<String>,
    breaches: Vec<reports::BreachRow>,
    breaches_total: i64,
    backlog_header: Vec<&'static str>,
    backlog: Vec<reports::BacklogRow>,
    weeks: Vec<Week>,
    downloads: Vec<(String, String)>,
}

#[derive(Serialize)]
struct Week {
    week: String,
    tier: String,
    new: i64,
    solved: i64,
    first_response: String,
    resolution: String,
}

fn row(g: &reports::GroupRow) -> Row {
    Row {
        label: g.label.clone(),
        tickets: g.tickets,
        first_response: Metric::of(&g.first_response),
        resolution: Metric::of(&g.resolution),
    }
}

fn page(state: &AppState, user: &AgentUser, report: &SlaReport, from: String, to: String) -> Page {
    let base = format!("/console/reports/sla?from={from}&to={to}&group_by={}", report.group_by);
    let mut downloads = vec![("JSON".to_string(), format!("{base}&format=json"))];
    for s in reports::csv::Section::ALL {
        downloads.push((format!("CSV: {}", s.as_str()), format!("{base}&format=csv&section={}", s.as_str())));
    }
    Page {
        chrome: Chrome::new(state, user, "SLA report", "reports"),
        from,
        to,
        group_by: report.group_by.as_str(),
        groupings: GroupBy::ALL.iter().map(|g| Choice { value: g.as_str(), selected: *g == report.group_by }).collect(),
        rows: report.groups.iter().map(row).collect(),
        total: row(&report.total),
        charts: vec![
            reports::svg::compliance_over_weeks(report, reports::svg::ComplianceMetric::FirstResponse),
            reports::svg::compliance_over_weeks(report, reports::svg::ComplianceMetric::Resolution),
            reports::svg::weekly_volume(report),
            reports::svg::backlog_ageing(report),
        ],
        breaches: report.breaches.iter().take(200).cloned().collect(),
        breaches_total: report.breaches_total,
        backlog_header: reports::AGE_BUCKETS.iter().map(|(n, _)| *n).collect(),
        backlog: report.backlog.clone(),
        weeks: report
            .weeks
            .iter()
            .map(|w| Week {
                week: w.week.to_string(),
                tier: w.tier.clone(),
                new: w.new,
                solved: w.solved,
                first_response: human_pct(w.first_response_percent()),
                resolution: human_pct(w.resolution_percent()),
            })
            .collect(),
        downloads,
    }
}

/// `GET /console/reports/sla?from=&to=&group_by=&format=html|csv|json&section=`
pub async fn show_sla_report(
    state: web::Data<AppState>,
    user: AgentUser,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, PageError> {
    user.require(Role::Manager)?;
    let tz = reports::ReportQuery::timezone(&state.config.support.timezone)?;
    let query = params.query(tz, chrono::Utc::now())?;
    let section = params.section()?;
    let report = state.db.run(move |conn| reports::sla_report(conn, &query)).await?;
    match params.format.as_deref().unwrap_or("html") {
        "html" | "" => {
            let from = report.from.with_timezone(&tz).date_naive().to_string();
            let to = (report.to - chrono::Duration::seconds(1)).with_timezone(&tz).date_naive().to_string();
            Ok(state.views.page("console/reports_sla", &page(&state, &user, &report, from, to))?)
        }
        format => {
            let export = reports::export(&report, format, section)?;
            Ok(HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, export.content_type))
                .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", export.filename)))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(export.body))
        }
    }
}
