//! `/api/v1/tickets`: list (filters + cursor), show, create, update.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::schema::{ProblemDoc, parse_list, parse_time, utc};
use super::{ApiBearer, ApiCaller, Input, input};
use crate::db::{AgentId, Channel, ContactId, InstanceId, InstitutionId, Priority, TicketStatus};
use crate::domain::api_ops::{self, OpenTicket};
use crate::domain::api_tokens::Scope;
use crate::domain::ticket_query::{
    self, AssigneeFilter, Direction, PageRequest, Sort, SortKey, TicketFilter, TicketListRow, Visibility,
};
use crate::domain::ticket_update::TicketUpdate;
use crate::error::{AppError, AppResult};
use crate::web::AppState;

/// A ticket as the API shows it (the same shape in lists and alone).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketOut {
    pub id: i64,
    /// The public ticket number (`#1234`), used in URLs.
    pub number: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Option<String>,
    pub channel: Channel,
    pub needs_triage: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    pub requester_id: i64,
    pub requester_name: Option<String>,
    pub requester_email: String,
    pub institution_id: Option<i64>,
    pub institution_name: Option<String>,
    pub instance_id: Option<i64>,
    pub instance_domain: Option<String>,
    pub instance_plan: Option<String>,
    /// Plan tier: the instance's plan, else the institution's default plan.
    pub plan: Option<String>,
    pub assignee_id: Option<i64>,
    pub assignee_name: Option<String>,
    pub tags: Vec<String>,
}

impl From<TicketListRow> for TicketOut {
    fn from(r: TicketListRow) -> Self {
        Self {
            id: r.id.0,
            number: r.number,
            subject: r.subject,
            status: r.status,
            priority: r.priority,
            category: r.category,
            channel: r.channel,
            needs_triage: r.needs_triage,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
            requester_id: r.requester_id.0,
            requester_name: r.requester_name,
            requester_email: r.requester_email,
            institution_id: r.institution_id.map(|i| i.0),
            institution_name: r.institution_name,
            instance_id: r.instance_id.map(|i| i.0),
            instance_domain: r.instance_domain,
            instance_plan: r.instance_plan,
            plan: r.plan,
            assignee_id: r.assignee_id.map(|a| a.0),
            assignee_name: r.assignee_name,
            tags: r.tags,
        }
    }
}

impl TicketOut {
    /// Appends what `serde_json` writes for this ticket, byte for byte,
    /// without escaping the keys (see [`super::json`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use super::json::{boolean, int, opt_int, opt_string, string, timestamp};
        out.extend_from_slice(b"{\"id\":");
        int(out, self.id);
        out.extend_from_slice(b",\"number\":");
        int(out, self.number);
        out.extend_from_slice(b",\"subject\":");
        string(out, &self.subject);
        out.extend_from_slice(b",\"status\":");
        string(out, self.status.as_str());
        out.extend_from_slice(b",\"priority\":");
        string(out, self.priority.as_str());
        out.extend_from_slice(b",\"category\":");
        opt_string(out, self.category.as_deref());
        out.extend_from_slice(b",\"channel\":");
        string(out, self.channel.as_str());
        out.extend_from_slice(b",\"needs_triage\":");
        boolean(out, self.needs_triage);
        out.extend_from_slice(b",\"created_at\":");
        timestamp(out, &self.created_at);
        out.extend_from_slice(b",\"updated_at\":");
        timestamp(out, &self.updated_at);
        out.extend_from_slice(b",\"requester_id\":");
        int(out, self.requester_id);
        out.extend_from_slice(b",\"requester_name\":");
        opt_string(out, self.requester_name.as_deref());
        out.extend_from_slice(b",\"requester_email\":");
        string(out, &self.requester_email);
        out.extend_from_slice(b",\"institution_id\":");
        opt_int(out, self.institution_id);
        out.extend_from_slice(b",\"institution_name\":");
        opt_string(out, self.institution_name.as_deref());
        out.extend_from_slice(b",\"instance_id\":");
        opt_int(out, self.instance_id);
        out.extend_from_slice(b",\"instance_domain\":");
        opt_string(out, self.instance_domain.as_deref());
        out.extend_from_slice(b",\"instance_plan\":");
        opt_string(out, self.instance_plan.as_deref());
        out.extend_from_slice(b",\"plan\":");
        opt_string(out, self.plan.as_deref());
        out.extend_from_slice(b",\"assignee_id\":");
        opt_int(out, self.assignee_id);
        out.extend_from_slice(b",\"assignee_name\":");
        opt_string(out, self.assignee_name.as_deref());
        out.extend_from_slice(b",\"tags\":[");
        for (i, tag) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, tag);
        }
        out.extend_from_slice(b"]}");
    }
}

/// A page of tickets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketPageOut {
    pub tickets: Vec<TicketOut>,
    /// Pass as `cursor` (with the same filters and sort) for the next page;
    /// `null` on the last page.
    pub next_cursor: Option<String>,
}

impl TicketPageOut {
    /// What `serde_json::to_vec` gives for the page, written by
    /// [`TicketOut::write_json`] into one buffer sized up front.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.tickets.len() * 768);
        out.extend_from_slice(b"{\"tickets\":[");
        for (i, ticket) in self.tickets.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            ticket.write_json(&mut out);
        }
        out.extend_from_slice(b"],\"next_cursor\":");
        super::json::opt_string(&mut out, self.next_cursor.as_deref());
        out.push(b'}');
        out
    }
}

/// Filters, sort and page of `GET /api/v1/tickets`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTicketsQuery {
    /// Comma-separated statuses, e.g. `new,open`.
    #[param(pattern = r"^(new|open|pending|on_hold|solved|closed)(,(new|open|pending|on_hold|solved|closed))*$")]
    pub status: Option<String>,
    /// Comma-separated priorities, e.g. `high,urgent`.
    #[param(pattern = r"^(low|normal|high|urgent)(,(low|normal|high|urgent))*$")]
    pub priority: Option<String>,
    /// Plan tier (the instance's plan, else the institution's default plan).
    pub plan: Option<String>,
    pub institution_id: Option<i64>,
    pub instance_id: Option<i64>,
    /// `any` (default), `none` (unassigned) or an agent id.
    #[param(pattern = r"^(any|none|[0-9]{1,18})$")]
    pub assignee: Option<String>,
    /// A tag (letters, digits, `- _ . :`).
    pub tag: Option<String>,
    pub needs_triage: Option<bool>,
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
    /// Sort key (ties broken by id): `updated` (default), `created`, `priority`, `number`.
    #[param(pattern = r"^(updated|created|priority|number)$")]
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    #[param(pattern = r"^(asc|desc)$")]
    pub order: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Tickets per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl ListTicketsQuery {
    fn into_domain(self) -> AppResult<(TicketFilter, Sort, PageRequest)> {
        let assignee = match self.assignee.as_deref().map(str::trim) {
            None | Some("any") => AssigneeFilter::Any,
            Some("none") => AssigneeFilter::Unassigned,
            Some(id) => AssigneeFilter::Agent(AgentId(
                id.parse().map_err(|_| AppError::invalid("assignee must be `any`, `none` or an agent id"))?,
            )),
        };
        let filter = TicketFilter {
            statuses: parse_list("status", self.status.as_deref())?,
            priorities: parse_list("priority", self.priority.as_deref())?,
            plan: self.plan.map(|p| p.trim().to_string()).filter(|p| !p.is_empty()),
            institution_id: self.institution_id.map(InstitutionId),
            instance_id: self.instance_id.map(InstanceId),
            assignee,
            tag: self.tag.filter(|t| !t.trim().is_empty()),
            needs_triage: self.needs_triage,
            requester_id: self.requester_id.map(ContactId),
            visibility: Visibility::Staff,
            created_from: parse_time("created_from", self.created_from.as_deref())?,
            created_to: parse_time("created_to", self.created_to.as_deref())?,
            updated_from: parse_time("updated_from", self.updated_from.as_deref())?,
            updated_to: parse_time("updated_to", self.updated_to.as_deref())?,
        };
        let sort = Sort {
            key: match self.sort.as_deref() {
                Some(s) => s.trim().parse::<SortKey>()?,
                None => SortKey::default(),
            },
            direction: match self.order.as_deref() {
                Some(s) => s.trim().parse::<Direction>()?,
                None => Direction::default(),
            },
        };
        let page = PageRequest { cursor: self.cursor, limit: self.limit.unwrap_or(ticket_query::DEFAULT_LIMIT) };
        Ok((filter, sort, page))
    }
}

/// Tickets, filtered, newest activity first by default, by keyset pages.
#[utoipa::path(
    get,
    path = "/api/v1/tickets",
    tag = "tickets",
    params(ListTicketsQuery),
    responses(
        (status = 200, description = "A page of tickets", body = TicketPageOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter, sort or cursor", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:read"]))
)]
pub async fn list_tickets(
    bearer: ApiBearer,
    state: web::Data<AppState>,
    query: Input<web::Query<ListTicketsQuery>>,
) -> AppResult<HttpResponse> {
    let (filter, sort, page) = match input(query).and_then(|q| q.into_inner().into_domain()) {
        Ok(parsed) => parsed,
        Err(e) => return bearer.refuse(&state, Scope::TicketsRead, e).await,
    };
    let page =
        bearer.run(&state, Scope::TicketsRead, move |conn, _| ticket_query::list(conn, &filter, sort, &page)).await?;
    let out =
        TicketPageOut { tickets: page.rows.into_iter().map(TicketOut::from).collect(), next_cursor: page.next_cursor };
    Ok(HttpResponse::Ok().content_type(actix_web::http::header::ContentType::json()).body(out.to_json()))
}

/// One ticket by its public number.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}",
    tag = "tickets",
    params(("number" = i64, Path, description = "Public ticket number")),
    responses(
        (status = 200, description = "The ticket", body = TicketOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:read", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The number is not an integer", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:read"]))
)]
pub async fn show_ticket(
    bearer: ApiBearer,
    state: web::Data<AppState>,
    number: Input<web::Path<i64>>,
) -> AppResult<HttpResponse> {
    let number = match input(number) {
        Ok(n) => n.into_inner(),
        Err(e) => return bearer.refuse(&state, Scope::TicketsRead, e).await,
    };
    let row = bearer.run(&state, Scope::TicketsRead, move |conn, _| api_ops::ticket_row(conn, number)).await?;
    Ok(HttpResponse::Ok().json(TicketOut::from(row)))
}

/// A ticket to open on behalf of a customer.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketBody {
    #[schema(max_length = 500)]
    pub subject: String,
    /// The customer's address; the contact is created when new.
    pub requester_email: String,
    #[serde(default)]
    pub requester_name: Option<String>,
    /// The instance concerned, by domain; it decides the institution.
    #[serde(default)]
    pub instance_domain: Option<String>,
    /// Default `normal`.
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub category: Option<String>,
    /// The customer's message.
    pub body_text: String,
    /// Tags (letters, digits, `- _ . :`; each at most 50 characters; at most
    /// 50 tags and 1,000 bytes together).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub assignee_id: Option<i64>,
}

/// Opens a ticket (channel `api`) with its first message from the requester.
#[utoipa::path(
    post,
    path = "/api/v1/tickets",
    tag = "tickets",
    request_body = CreateTicketBody,
    responses(
        (status = 201, description = "The ticket opened", body = TicketOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:write, or the requester is blocked", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Conflict", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`Content-Type: application/json`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:write"]))
)]
pub async fn create_ticket(
    caller: ApiCaller,
    state: web::Data<AppState>,
    body: Input<web::Json<CreateTicketBody>>,
) -> AppResult<HttpResponse> {
    let actor = caller.require(Scope::TicketsWrite)?;
    let b = input(body)?.into_inner();
    let input = OpenTicket {
        subject: b.subject,
        requester_email: b.requester_email,
        requester_name: b.requester_name,
        instance_domain: b.instance_domain.filter(|d| !d.trim().is_empty()),
        priority: b.priority.unwrap_or(Priority::Normal),
        category: b.category,
        body_text: b.body_text,
        tags: b.tags.unwrap_or_default(),
        assignee: b.assignee_id.map(AgentId),
    };
    let support = state.config.support.address.clone();
    let sla = state.sla.clone();
    let row = state
        .db
        .run(move |conn| {
            sla.change(conn, |conn| {
                let row = api_ops::open_ticket_row(conn, &input, actor, &support)?;
                let ticket_id = row.id;
                Ok((row, ticket_id))
            })
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/tickets/{}", row.number)))
        .json(TicketOut::from(row)))
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a ticket; absent fields stay as they are.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicketBody {
    #[serde(default)]
    pub status: Option<TicketStatus>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// An agent id; `null` unassigns.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<i64>>,
    /// Replaces the tags (limits as on creation).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// With `status: solved`, email the requester that the ticket is solved.
    #[serde(default)]
    pub notify_solved: Option<bool>,
}

/// Changes status, priority, assignee and tags in one transaction (each
/// change writes its event; solving may email the requester).
#[utoipa::path(
    patch,
    path = "/api/v1/tickets/{number}",
    tag = "tickets",
    params(("number" = i64, Path, description = "Public ticket number")),
    request_body = UpdateTicketBody,
    responses(
        (status = 200, description = "The ticket after the change", body = TicketOut),
        (status = 401, description = "No valid token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks tickets:write", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The ticket is closed or merged", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`Content-Type: application/json`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["tickets:write"]))
)]
pub async fn update_ticket(
    caller: ApiCaller,
    state: web::Data<AppState>,
    number: Input<web::Path<i64>>,
    body: Input<web::Json<UpdateTicketBody>>,
) -> AppResult<HttpResponse> {
    let actor = caller.require(Scope::TicketsWrite)?;
    let number = input(number)?.into_inner();
    let b = input(body)?.into_inner();
    let update = TicketUpdate {
        status: b.status,
        priority: b.priority,
        assignee: b.assignee_id.map(|a| a.map(AgentId)),
        tags: b.tags,
        instance: None,
        notify_solved: b.notify_solved.unwrap_or(false),
    };
    let support = state.config.support.address.clone();
    let sla = state.sla.clone();
    let row = state
        .db
        .run(move |conn| {
            sla.change(conn, |conn| {
                let row = api_ops::update_ticket_row(conn, number, &update, actor, &support)?;
                let ticket_id = row.id;
                Ok((row, ticket_id))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(TicketOut::from(row)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ticket(text: &str, some: bool, at: DateTime<Utc>, tags: Vec<String>) -> TicketOut {
        let opt = |s: &str| some.then(|| s.to_string());
        TicketOut {
            id: 7,
            number: -1_000_000_000_001,
            subject: text.to_string(),
            status: TicketStatus::OnHold,
            priority: Priority::Urgent,
            category: opt(text),
            channel: Channel::Web,
            needs_triage: some,
            created_at: at,
            updated_at: at + chrono::Duration::nanoseconds(1_500),
            requester_id: i64::MAX,
            requester_name: opt(text),
            requester_email: format!("{text}@example.org"),
            institution_id: some.then_some(3),
            institution_name: opt("Université \"Paris\""),
            instance_id: some.then_some(i64::MIN),
            instance_domain: opt("social.example.edu"),
            instance_plan: opt("managed"),
            plan: opt("single"),
            assignee_id: some.then_some(0),
            assignee_name: opt("Ana\\Lee"),
            tags,
        }
    }

    #[test]
    fn page_json_is_what_serde_writes() {
        let at: DateTime<Utc> = "2026-11-27T05:39:28.991086Z".parse().unwrap();
        let page = TicketPageOut {
            tickets: vec![
                ticket("Certificate \u{1} from our\nown authority", true, at, vec!["dns".into(), "tls".into()]),
                ticket("", false, at, vec![]),
            ],
            next_cursor: Some("3175642e".into()),
        };
        assert_eq!(String::from_utf8(page.to_json()).unwrap(), serde_json::to_string(&page).unwrap());
        let empty = TicketPageOut { tickets: vec![], next_cursor: None };
        assert_eq!(String::from_utf8(empty.to_json()).unwrap(), r#"{"tickets":[],"next_cursor":null}"#);
    }

    proptest! {
        #[test]
        fn any_ticket_json_is_what_serde_writes(
            text in "\\PC{0,40}|[\\x00-\\x7f]{0,40}",
            some in any::<bool>(),
            secs in 0i64..20_000_000_000,
            nanos in 0u32..1_000_000_000,
            tags in proptest::collection::vec("[a-z\"\\\\]{1,8}", 0..4),
        ) {
            let at = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let page = TicketPageOut { tickets: vec![ticket(&text, some, at, tags)], next_cursor: None };
            prop_assert_eq!(String::from_utf8(page.to_json()).unwrap(), serde_json::to_string(&page).unwrap());
        }
    }
}
