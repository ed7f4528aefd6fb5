//! `GET /api/v1/reports/sla`: the SLA report as JSON (default) or one CSV
//! section, for the `reports:read` scope.

use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::schema::ProblemDoc;
use super::{ApiCaller, Input, input};
use crate::domain::api_tokens::Scope;
use crate::error::{AppError, AppResult};
use crate::reports::{self, ReportParams};
use crate::web::AppState;

/// Range, grouping and format of `GET /api/v1/reports/sla`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlaReportQuery {
    /// First day (YYYY-MM-DD, support timezone); default 27 days before `to`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, inclusive; default today.
    #[param(format = Date)]
    pub to: Option<String>,
    /// `tier` (default), `institution`, `instance`, `priority` or `agent`.
    #[param(pattern = r"^(tier|institution|instance|priority|agent)$")]
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = r"^(json|csv)$")]
    pub format: Option<String>,
    /// With `csv`: `summary` (default), `breaches`, `backlog` or `weekly`.
    #[param(pattern = r"^(summary|breaches|backlog|weekly)$")]
    pub section: Option<String>,
}

/// SLA compliance of the tickets opened in a date range: per group met /
/// breached / pending counts, % met, median and p90 business times; the
/// breach list; the open backlog by age; weekly volume and compliance per
/// plan tier (see `tusk::reports` for the definitions).
#[utoipa::path(
    get,
    path = "/api/v1/reports/sla",
    tag = "reports",
    params(SlaReportQuery),
    responses(
        (status = 200, description = "The report (JSON), or one section as CSV with format=csv",
            content((Object = "application/json"), (String = "text/csv"))),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks reports:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid date, grouping, format or section", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["reports:read"]))
)]
pub async fn show_sla_report(
    caller: ApiCaller,
    state: web::Data<AppState>,
    query: Input<web::Query<SlaReportQuery>>,
) -> AppResult<HttpResponse> {
    caller.require(Scope::ReportsRead)?;
    let q = input(query)?.into_inner();
    // The API is strict where the console's form is lenient: a parameter
    // that is present must be well formed (no empty values, exact dates).
    for (name, value) in [("from", &q.from), ("to", &q.to)] {
        if let Some(v) = value
            && (v.len() != 10 || chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err())
        {
            return Err(AppError::invalid(format!("{name} must be a date like 2026-11-30")));
        }
    }
    for (name, value) in [("group_by", &q.group_by), ("format", &q.format), ("section", &q.section)] {
        if value.as_deref() == Some("") {
            return Err(AppError::invalid(format!("{name} is empty")));
        }
    }
    let params = ReportParams { from: q.from, to: q.to, group_by: q.group_by, format: q.format, section: q.section };
    let tz = reports::ReportQuery::timezone(&state.config.support.timezone)?;
    let report_query = params.query(tz, chrono::Utc::now())?;
    let section = params.section()?;
    let format = params.format.clone().unwrap_or_else(|| "json".into());
    let report = state.db.run(move |conn| reports::sla_report(conn, &report_query)).await?;
    let export = reports::export(&report, &format, section)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, export.content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(export.body))
}
