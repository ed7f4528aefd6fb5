//! `GET /api/v1/search`: full-text search over every ticket's history
//! (agents' view: internal notes included), with typed filters, relevance or
//! recency order, highlighted snippets and pages.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::schema::{ProblemDoc, parse_list, parse_time, utc};
use super::{ApiCaller, Input, input};
use crate::db::{AgentId, ContactId, InstanceId, InstitutionId, Priority, TicketStatus};
use crate::domain::api_tokens::Scope;
use crate::error::{AppError, AppResult};
use crate::search::{self, AssigneeFilter, Filters, SearchRequest, SortOrder, TimeRange};
use crate::web::AppState;

/// Query, filters, order and page of `GET /api/v1/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (prefix and typo tolerant); empty lists by the filters.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Comma-separated statuses, e.g. `new,open`.
    #[param(pattern = r"^(new|open|pending|on_hold|solved|closed)(,(new|open|pending|on_hold|solved|closed))*$")]
    pub status: Option<String>,
    /// Comma-separated priorities, e.g. `high,urgent`.
    #[param(pattern = r"^(low|normal|high|urgent)(,(low|normal|high|urgent))*$")]
    pub priority: Option<String>,
    /// Comma-separated plan tiers (the instance's plan, else the institution's default plan).
    pub plan: Option<String>,
    pub institution_id: Option<i64>,
    pub instance_id: Option<i64>,
    /// `any` (default), `none` (unassigned) or an agent id.
    #[param(pattern = r"^(any|none|[0-9]{1,18})$")]
    pub assignee: Option<String>,
    /// Comma-separated tags; every one must be on the ticket.
    pub tag: Option<String>,
    /// Tickets of this requester (contact id).
    pub requester_id: Option<i64>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime)]
    pub created_from: Option<String>,
    /// Created before (RFC 3339).
    #[param(format = DateTime)]
    pub created_to: Option<String>,
    /// Updated at or after (RFC 3339).
    #[param(format = DateTime)]
    pub updated_from: Option<String>,
    /// Updated before (RFC 3339).
    #[param(format = DateTime)]
    pub updated_to: Option<String>,
    /// `relevance` (default; recency when `q` is empty) or `recent`.
    #[param(pattern = r"^(relevance|recent)$")]
    pub sort: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Results per page (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

impl SearchQuery {
    fn into_request(self) -> AppResult<SearchRequest> {
        let assignee = match self.assignee.as_deref().map(str::trim) {
            None | Some("") | Some("any") => None,
            Some("none") => Some(AssigneeFilter::Unassigned),
            Some(id) => Some(AssigneeFilter::Agent(AgentId(
                id.parse().map_err(|_| AppError::invalid("assignee must be `any`, `none` or an agent id"))?,
            ))),
        };
        let list = |v: Option<String>| -> Vec<String> {
            v.unwrap_or_default().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
        };
        let sort = match self.sort.as_deref().map(str::trim) {
            None | Some("") | Some("relevance") => SortOrder::Relevance,
            Some("recent") => SortOrder::Recent,
            Some(_) => return Err(AppError::invalid("sort must be `relevance` or `recent`")),
        };
        let text = self.q.unwrap_or_default();
        if text.chars().count() > search::MAX_QUERY_CHARS {
            return Err(AppError::invalid(format!("q is limited to {} characters", search::MAX_QUERY_CHARS)));
        }
        Ok(SearchRequest {
            text,
            filters: Filters {
                statuses: parse_list::<TicketStatus>("status", self.status.as_deref())?,
                priorities: parse_list::<Priority>("priority", self.priority.as_deref())?,
                plans: list(self.plan),
                institution_id: self.institution_id.map(InstitutionId),
                instance_id: self.instance_id.map(InstanceId),
                assignee,
                requester_id: self.requester_id.map(ContactId),
                tags: list(self.tag),
                created: TimeRange {
                    from: parse_time("created_from", self.created_from.as_deref())?,
                    to: parse_time("created_to", self.created_to.as_deref())?,
                },
                updated: TimeRange {
                    from: parse_time("updated_from", self.updated_from.as_deref())?,
                    to: parse_time("updated_to", self.updated_to.as_deref())?,
                },
            },
            sort,
            page: self.page.unwrap_or(1),
            per_page: self.per_page.unwrap_or(search::DEFAULT_PER_PAGE),
            scope: search::Scope::Agent,
        })
    }
}

/// One matching ticket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchHitOut {
    pub id: i64,
    pub number: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub institution_name: Option<String>,
    pub instance_domain: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Excerpt around the matches: HTML-escaped text whose only markup is `<mark>`.
    pub snippet_html: String,
}

/// A page of search results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchPageOut {
    /// Matching tickets in all pages (at most 10,000 are reachable).
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub hits: Vec<SearchHitOut>,
}

/// Full-text search over tickets, their whole thread (notes included),
/// requester, institution, instance and tags.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of results", body = SearchPageOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter or sort", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 503, description = "The search engine is unavailable", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:read"]))
)]
pub async fn search_tickets(
    caller: ApiCaller,
    state: web::Data<AppState>,
    query: Input<web::Query<SearchQuery>>,
) -> AppResult<HttpResponse> {
    caller.require(Scope::TicketsRead)?;
    let request = input(query)?.into_inner().into_request()?;
    let results = state.search.search(request).await?;
    Ok(HttpResponse::Ok().json(SearchPageOut {
        total: results.total,
        page: results.page,
        per_page: results.per_page,
        hits: results
            .hits
            .into_iter()
            .map(|h| SearchHitOut {
                id: h.ticket_id.0,
                number: h.number,
                subject: h.subject,
                status: h.status,
                priority: h.priority,
                institution_name: h.institution_name,
                instance_domain: h.instance_domain,
                updated_at: utc(h.updated_at),
                snippet_html: h.snippet_html,
            })
            .collect(),
    }))
}
