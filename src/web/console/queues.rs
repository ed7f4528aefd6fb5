//! Ticket queues: mine, unassigned, due soon / breached, pending, triage,
//! all; with filters, sort, keyset pagination and capped counts.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{Chrome, local_time, see_other};
use crate::db::{AgentId, Priority, TicketStatus};
use crate::domain::ticket_query::{self, AssigneeFilter, Direction, PageRequest, Sort, SortKey, TicketFilter};
use crate::domain::views::{self, COUNT_CAP, OPEN_STATUSES, QueueCounts};
use crate::error::AppError;
use crate::web::AppState;
use crate::web::session::{AgentUser, PageError, url_encode};

/// How far ahead the "due soon" queue looks.
const DUE_WITHIN_HOURS: i64 = 4;

/// `GET /console`
pub async fn show_home(_user: AgentUser) -> HttpResponse {
    see_other("/console/tickets?queue=mine")
}

#[derive(Debug, Deserialize, Default)]
pub struct QueueQuery {
    pub queue: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub plan: Option<String>,
    pub institution: Option<String>,
    pub instance: Option<String>,
    pub assignee: Option<String>,
    pub tag: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Serialize)]
struct Row {
    number: i64,
    subject: String,
    status: String,
    priority: String,
    requester: String,
    institution: Option<String>,
    instance: Option<String>,
    plan: Option<String>,
    assignee: Option<String>,
    /// When it is due (due queue), else when it was last updated.
    when: String,
    breached: bool,
    triage: bool,
    tags: String,
}

#[derive(Serialize)]
struct Tab {
    key: &'static str,
    label: &'static str,
    count: String,
    active: bool,
}

#[derive(Serialize)]
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct QueuePage {
    chrome: Chrome,
    queue: String,
    tabs: Vec<Tab>,
    rows: Vec<Row>,
    next_url: Option<String>,
    first_url: Option<String>,
    filters_shown: bool,
    statuses: Vec<Opt>,
    priorities: Vec<Opt>,
    plans: Vec<Opt>,
    sorts: Vec<Opt>,
    dirs: Vec<Opt>,
    assignees: Vec<Opt>,
    institution: String,
    instance: String,
    tag: String,
    empty_text: &'static str,
}

fn count_text(n: i64) -> String {
    if n > COUNT_CAP { format!("{COUNT_CAP}+") } else { n.to_string() }
}

impl Opt {
    /// An option shown as its own value.
    fn plain(value: &str, selected: bool) -> Opt {
        Opt { value: value.to_string(), label: value.to_string(), selected }
    }
}

/// "any", then the values, each its own label.
fn opts(values: impl IntoIterator<Item = String>, current: &str) -> Vec<Opt> {
    let mut out = vec![Opt { value: String::new(), label: "any".to_string(), selected: current.is_empty() }];
    out.extend(values.into_iter().map(|v| Opt::plain(&v, v == current)));
    out
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The URL of this queue with the same filters and another cursor.
fn url_with(q: &QueueQuery, cursor: Option<&str>) -> String {
    let mut parts = Vec::new();
    let mut push = |k: &str, v: &Option<String>| {
        if let Some(v) = non_empty(v) {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    };
    push("queue", &q.queue);
    push("status", &q.status);
    push("priority", &q.priority);
    push("plan", &q.plan);
    push("institution", &q.institution);
    push("instance", &q.instance);
    push("assignee", &q.assignee);
    push("tag", &q.tag);
    push("sort", &q.sort);
    push("dir", &q.dir);
    if let Some(c) = cursor {
        parts.push(format!("cursor={}", url_encode(c)));
    }
    format!("/console/tickets?{}", parts.join("&"))
}

/// `GET /console/tickets`
pub async fn list_tickets(
    state: web::Data<AppState>,
    user: AgentUser,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, PageError> {
    let q = query.into_inner();
    let queue = non_empty(&q.queue).unwrap_or("all").to_string();
    let me = user.agent.id;
    let mut filter = TicketFilter::default();
    match queue.as_str() {
        "mine" => {
            filter.assignee = AssigneeFilter::Agent(me);
            filter.statuses = OPEN_STATUSES.to_vec();
        }
        "unassigned" => {
            filter.assignee = AssigneeFilter::Unassigned;
            filter.statuses = OPEN_STATUSES.to_vec();
        }
        "pending" => filter.statuses = vec![TicketStatus::Pending],
        "triage" => {
            filter.needs_triage = Some(true);
            filter.statuses = OPEN_STATUSES.to_vec();
        }
        "all" | "due" => {}
        other => return Err(AppError::invalid(format!("unknown queue `{other}`")).into()),
    }
    if let Some(s) = non_empty(&q.status) {
        filter.statuses =
            vec![s.parse::<TicketStatus>().map_err(|_| AppError::invalid(format!("unknown status `{s}`")))?];
    }
    if let Some(p) = non_empty(&q.priority) {
        filter.priorities =
            vec![p.parse::<Priority>().map_err(|_| AppError::invalid(format!("unknown priority `{p}`")))?];
    }
    filter.plan = non_empty(&q.plan).map(str::to_string);
    filter.tag = non_empty(&q.tag).map(str::to_lowercase);
    match non_empty(&q.assignee) {
        None => {}
        Some("none") => filter.assignee = AssigneeFilter::Unassigned,
        Some(id) => {
            filter.assignee = AssigneeFilter::Agent(AgentId(
                id.parse().map_err(|_| AppError::invalid(format!("bad assignee `{id}`")))?,
            ))
        }
    }
    let sort = Sort {
        key: non_empty(&q.sort).map(str::parse::<SortKey>).transpose()?.unwrap_or_default(),
        direction: non_empty(&q.dir).map(str::parse::<Direction>).transpose()?.unwrap_or_default(),
    };
    let limit = state.config.console.page_size.clamp(1, 200);
    let page_request = PageRequest { cursor: non_empty(&q.cursor).map(str::to_string), limit };
    let institution = non_empty(&q.institution).map(str::to_string);
    let instance = non_empty(&q.instance).map(str::to_string);
    let due_queue = queue == "due";
    let within = chrono::Duration::hours(DUE_WITHIN_HOURS);
    let counts_cache = state.queue_counts.clone();
    let agents_cache = state.active_agents.clone();
    let (counts, rows, next_cursor, agents) = state
        .db
        .run(move |conn| {
            let (institution_id, instance_id) = views::resolve_refs(conn, institution.as_deref(), instance.as_deref())?;
            filter.institution_id = institution_id;
            filter.instance_id = instance_id;
            let counts = counts_cache.get(conn, me, |conn| views::queue_counts(conn, me, Utc::now(), within))?;
            let agents = views::active_agents(conn, &agents_cache)?;
            if due_queue {
                let due = views::due_queue(conn, Utc::now(), within, i64::from(limit))?;
                return Ok((counts, Err(due), None, agents));
            }
            let page = ticket_query::list(conn, &filter, sort, &page_request)?;
            Ok::<_, AppError>((counts, Ok(page.rows), page.next_cursor, agents))
        })
        .await?;
    let rows: Vec<Row> = match rows {
        Ok(list) => list
            .into_iter()
            .map(|r| Row {
                number: r.number,
                subject: r.subject,
                status: r.status.to_string(),
                priority: r.priority.to_string(),
                requester: r.requester_name.unwrap_or(r.requester_email),
                institution: r.institution_name,
                instance: r.instance_domain,
                plan: r.plan,
                assignee: r.assignee_name,
                when: local_time(&state, r.updated_at),
                breached: false,
                triage: r.needs_triage,
                tags: r.tags.join(", "),
            })
            .collect(),
        Err(due) => due
            .into_iter()
            .map(|d| Row {
                number: d.ticket.number,
                subject: d.ticket.subject,
                status: d.ticket.status.to_string(),
                priority: d.ticket.priority.to_string(),
                requester: d.requester_email,
                institution: d.institution_name,
                instance: d.instance_domain,
                plan: None,
                assignee: d.assignee_name,
                // A breached ticket without a next due instant shows only "breached".
                when: match d.next_due_at {
                    Some(at) => local_time(&state, at),
                    None if d.breached => String::new(),
                    None => local_time(&state, d.ticket.updated_at),
                },
                breached: d.breached,
                triage: d.ticket.needs_triage,
                tags: String::new(),
            })
            .collect(),
    };
    let QueueCounts { mine, unassigned, due, pending, triage } = counts;
    let tab = |key: &'static str, label: &'static str, count: Option<i64>| Tab {
        key,
        label,
        count: count.map(count_text).unwrap_or_default(),
        active: queue == key,
    };
    let tabs = vec![
        tab("mine", "My open tickets", Some(mine)),
        tab("unassigned", "Unassigned", Some(unassigned)),
        tab("due", "Due soon / breached", Some(due)),
        tab("pending", "Pending", Some(pending)),
        tab("triage", "Needs triage", Some(triage)),
        tab("all", "All", None),
    ];
    let empty_text = match queue.as_str() {
        "mine" => "Nothing assigned to you is open.",
        "due" => "Nothing is due in the next hours, and nothing is breached.",
        _ => "No tickets match.",
    };
    let assignee_current = q.assignee.clone().unwrap_or_default();
    let mut assignees = opts(std::iter::empty(), &assignee_current);
    assignees.push(Opt {
        value: "none".to_string(),
        label: "unassigned".to_string(),
        selected: assignee_current == "none",
    });
    assignees.extend(agents.iter().map(|a| {
        let value = a.id.0.to_string();
        Opt { selected: value == assignee_current, value, label: a.name.clone() }
    }));
    let page = QueuePage {
        chrome: Chrome::new(&state, &user, "Tickets", "tickets"),
        tabs,
        rows,
        next_url: next_cursor.as_deref().map(|c| url_with(&q, Some(c))),
        first_url: non_empty(&q.cursor).map(|_| url_with(&q, None)),
        filters_shown: [&q.status, &q.priority, &q.plan, &q.institution, &q.instance, &q.assignee, &q.tag]
            .iter()
            .any(|v| non_empty(v).is_some()),
        statuses: opts(TicketStatus::ALL.iter().map(|s| s.to_string()), q.status.as_deref().unwrap_or("")),
        priorities: opts(Priority::ALL.iter().map(|s| s.to_string()), q.priority.as_deref().unwrap_or("")),
        plans: opts(state.plans.ids().iter().cloned(), q.plan.as_deref().unwrap_or("")),
        sorts: SortKey::ALL.iter().map(|k| Opt::plain(k.as_str(), *k == sort.key)).collect(),
        dirs: [Direction::Desc, Direction::Asc].iter().map(|d| Opt::plain(d.as_str(), *d == sort.direction)).collect(),
        assignees,
        institution: q.institution.clone().unwrap_or_default(),
        instance: q.instance.clone().unwrap_or_default(),
        tag: q.tag.clone().unwrap_or_default(),
        empty_text,
        queue,
    };
    Ok(state.views.page("console/queue", &page)?)
}
