//! The console search page: full-text over every ticket, notes included,
//! with filters, recency or relevance, highlighted snippets and pages.
//! When the engine is down the page says so; nothing else is affected.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{Chrome, local_time};
use crate::db::{Priority, TicketStatus};
use crate::domain::views;
use crate::error::AppError;
use crate::search::{Filters, SearchRequest, SortOrder};
use crate::web::AppState;
use crate::web::session::{AgentUser, PageError, url_encode};

const PER_PAGE: u32 = 20;

#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub plan: Option<String>,
    pub institution: Option<String>,
    pub instance: Option<String>,
    pub tag: Option<String>,
    pub sort: Option<String>,
    pub page: Option<u32>,
}

#[derive(Serialize)]
struct HitView {
    number: i64,
    subject: String,
    status: String,
    priority: String,
    institution: Option<String>,
    instance: Option<String>,
    updated: String,
    /// Escaped text with `<mark>` only (built by the search module).
    snippet_html: String,
}

#[derive(Serialize)]
struct Opt {
    value: String,
    selected: bool,
}

#[derive(Serialize)]
struct Page {
    chrome: Chrome,
    q: String,
    searched: bool,
    total: u64,
    hits: Vec<HitView>,
    unavailable: bool,
    prev_url: Option<String>,
    next_url: Option<String>,
    page: u32,
    statuses: Vec<Opt>,
    priorities: Vec<Opt>,
    plans: Vec<Opt>,
    recent: bool,
    institution: String,
    instance: String,
    tag: String,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn opts(values: impl IntoIterator<Item = String>, current: Option<&str>) -> Vec<Opt> {
    let mut out = vec![Opt { value: String::new(), selected: current.is_none() }];
    out.extend(values.into_iter().map(|v| Opt { selected: Some(v.as_str()) == current, value: v }));
    out
}

fn page_url(q: &SearchQuery, page: u32) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("q", &q.q),
        ("status", &q.status),
        ("priority", &q.priority),
        ("plan", &q.plan),
        ("institution", &q.institution),
        ("instance", &q.instance),
        ("tag", &q.tag),
        ("sort", &q.sort),
    ] {
        if let Some(v) = non_empty(v) {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    }
    parts.push(format!("page={page}"));
    format!("/console/search?{}", parts.join("&"))
}

/// `GET /console/search`
pub async fn show_search(
    state: web::Data<AppState>,
    user: AgentUser,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, PageError> {
    let q = query.into_inner();
    let text = q.q.clone().unwrap_or_default();
    let mut filters = Filters::default();
    if let Some(s) = non_empty(&q.status) {
        filters.statuses =
            vec![s.parse::<TicketStatus>().map_err(|_| AppError::invalid(format!("unknown status `{s}`")))?];
    }
    if let Some(p) = non_empty(&q.priority) {
        filters.priorities =
            vec![p.parse::<Priority>().map_err(|_| AppError::invalid(format!("unknown priority `{p}`")))?];
    }
    if let Some(p) = non_empty(&q.plan) {
        filters.plans = vec![p.to_string()];
    }
    if let Some(t) = non_empty(&q.tag) {
        filters.tags = vec![t.to_string()];
    }
    let institution = non_empty(&q.institution).map(str::to_string);
    let instance = non_empty(&q.instance).map(str::to_string);
    let (institution_id, instance_id) =
        state.db.run(move |conn| views::resolve_refs(conn, institution.as_deref(), instance.as_deref())).await?;
    filters.institution_id = institution_id;
    filters.instance_id = instance_id;
    let searched = !text.trim().is_empty() || filters != Filters::default();
    let recent = non_empty(&q.sort) == Some("recent");
    let page = q.page.unwrap_or(1).max(1);
    let mut view = Page {
        chrome: Chrome::new(&state, &user, "Search", "search"),
        q: text.clone(),
        searched,
        total: 0,
        hits: Vec::new(),
        unavailable: false,
        prev_url: None,
        next_url: None,
        page,
        statuses: opts(TicketStatus::ALL.iter().map(|s| s.to_string()), non_empty(&q.status)),
        priorities: opts(Priority::ALL.iter().map(|s| s.to_string()), non_empty(&q.priority)),
        plans: opts(state.plans.ids().iter().cloned(), non_empty(&q.plan)),
        recent,
        institution: q.institution.clone().unwrap_or_default(),
        instance: q.instance.clone().unwrap_or_default(),
        tag: q.tag.clone().unwrap_or_default(),
    };
    if searched {
        let mut request = SearchRequest::agent(text);
        request.filters = filters;
        request.sort = if recent { SortOrder::Recent } else { SortOrder::Relevance };
        request.page = page;
        request.per_page = PER_PAGE;
        match state.search.search(request).await {
            Ok(results) => {
                view.total = results.total;
                view.page = results.page;
                if results.page > 1 {
                    view.prev_url = Some(page_url(&q, results.page - 1));
                }
                if u64::from(results.page) * u64::from(results.per_page) < results.total {
                    view.next_url = Some(page_url(&q, results.page + 1));
                }
                view.hits = results
                    .hits
                    .into_iter()
                    .map(|h| HitView {
                        number: h.number,
                        subject: h.subject,
                        status: h.status.to_string(),
                        priority: h.priority.to_string(),
                        institution: h.institution_name,
                        instance: h.instance_domain,
                        updated: local_time(&state, h.updated_at),
                        snippet_html: h.snippet_html,
                    })
                    .collect();
            }
            Err(e) if e.kind == crate::error::ErrorKind::Invalid => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = ?e, "search failed");
                view.unavailable = true;
            }
        }
    }
    Ok(state.views.page("console/search", &view)?)
}
