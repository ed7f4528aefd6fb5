//! The ticket list shared by the JSON API and the console queues: typed
//! filters, a sort with an id tiebreak, and keyset pagination through an
//! opaque cursor (no `OFFSET`, no `COUNT(*)`), answering rows joined with
//! the requester, institution, instance and assignee.
//!
//! Every sort walks an index `(key, id)` (see migration `…_api`), so a page
//! costs the same on page 1 and page 10,000. The cursor carries the sort it
//! was made for and the last row's key and id; the filters are sent again
//! with each page and re-applied, so a cursor never widens what a caller may
//! see.

use chrono::{DateTime, NaiveDateTime};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use super::validate::normalize_tag;
use crate::db::opaque as o;
use crate::db::schema::{agents, contacts, instances, institutions, ticket_tags, tickets};
use crate::db::{
    AgentId, AnyConnection, Channel, ContactId, InstanceId, InstitutionId, Priority, TicketId, TicketStatus,
};
use crate::error::{AppError, AppResult};

/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: u32 = 50;
/// Most rows a page may hold.
pub const MAX_LIMIT: u32 = 200;

/// The SQL rank of a priority (low 0 … urgent 3); the same expression is
/// indexed in the `…_api` migration, so keep the two identical.
const PRIORITY_RANK_SQL: &str =
    "(CASE tickets.priority WHEN 'low' THEN 0 WHEN 'normal' THEN 1 WHEN 'high' THEN 2 ELSE 3 END)";

/// The rank [`PRIORITY_RANK_SQL`] gives a priority.
pub fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

/// Whom a ticket must be assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssigneeFilter {
    #[default]
    Any,
    Unassigned,
    Agent(AgentId),
}

/// What the caller may see at all; applied on top of every filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Agents and API tokens: every ticket.
    #[default]
    Staff,
    /// An institution admin in the portal: the institution's tickets and
    /// the admin's own (which may sit under another institution, or none).
    Institution(InstitutionId, ContactId),
    /// A customer in the portal: their own tickets.
    Requester(ContactId),
}

/// Filters; empty lists and `None` mean "any". Ranges are `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub statuses: Vec<TicketStatus>,
    pub priorities: Vec<Priority>,
    /// Plan tier: the instance's plan, else the institution's default plan.
    pub plan: Option<String>,
    pub institution_id: Option<InstitutionId>,
    pub instance_id: Option<InstanceId>,
    pub assignee: AssigneeFilter,
    /// A tag (normalised like stored tags).
    pub tag: Option<String>,
    pub needs_triage: Option<bool>,
    pub requester_id: Option<ContactId>,
    pub visibility: Visibility,
    pub created_from: Option<NaiveDateTime>,
    pub created_to: Option<NaiveDateTime>,
    pub updated_from: Option<NaiveDateTime>,
    pub updated_to: Option<NaiveDateTime>,
}

impl TicketFilter {
    /// Whether nothing but a tag, statuses and the updated range narrows
    /// the list (what ticket_tags' own index can answer).
    fn is_tag_and_status_only(&self) -> bool {
        let TicketFilter {
            statuses: _,
            priorities,
            plan,
            institution_id,
            instance_id,
            assignee,
            tag,
            needs_triage,
            requester_id,
            visibility,
            created_from,
            created_to,
            updated_from: _,
            updated_to: _,
        } = self;
        tag.is_some()
            && priorities.is_empty()
            && plan.is_none()
            && institution_id.is_none()
            && instance_id.is_none()
            && matches!(assignee, AssigneeFilter::Any)
            && needs_triage.is_none()
            && requester_id.is_none()
            && matches!(visibility, Visibility::Staff)
            && created_from.is_none()
            && created_to.is_none()
    }
}

/// The key a list is ordered by; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Updated,
    Created,
    Priority,
    Number,
}

impl SortKey {
    pub const ALL: &'static [SortKey] = &[SortKey::Updated, SortKey::Created, SortKey::Priority, SortKey::Number];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Updated => "updated",
            SortKey::Created => "created",
            SortKey::Priority => "priority",
            SortKey::Number => "number",
        }
    }

    fn code(self) -> char {
        match self {
            SortKey::Updated => 'u',
            SortKey::Created => 'c',
            SortKey::Priority => 'p',
            SortKey::Number => 'n',
        }
    }

    fn from_code(c: char) -> Option<SortKey> {
        SortKey::ALL.iter().copied().find(|k| k.code() == c)
    }
}

impl std::str::FromStr for SortKey {
    type Err = AppError;
    fn from_str(s: &str) -> AppResult<SortKey> {
        SortKey::ALL.iter().copied().find(|k| k.as_str() == s).ok_or_else(|| {
            AppError::invalid(format!("unknown sort `{s}` (expected one of: updated, created, priority, number)"))
        })
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    Asc,
    #[default]
    Desc,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = AppError;
    fn from_str(s: &str) -> AppResult<Direction> {
        match s {
            "asc" => Ok(Direction::Asc),
            "desc" => Ok(Direction::Desc),
            _ => Err(AppError::invalid(format!("unknown order `{s}` (expected asc or desc)"))),
        }
    }
}

/// A sort: key and direction. The default is "recently updated first".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub key: SortKey,
    pub direction: Direction,
}

/// Where the previous page ended: the last row's sort key and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    /// Timestamps as microseconds since the epoch, ranks, or numbers.
    pub value: i64,
    pub id: i64,
}

const CURSOR_VERSION: char = '1';

impl Cursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        let dir = match self.sort.direction {
            Direction::Asc => 'a',
            Direction::Desc => 'd',
        };
        hex::encode(format!("{CURSOR_VERSION}{}{dir}.{}.{}", self.sort.key.code(), self.value, self.id))
    }

    /// Parses a cursor made by [`Cursor::encode`].
    pub fn decode(text: &str) -> AppResult<Cursor> {
        let bad = || AppError::invalid("the cursor is not valid (use the next_cursor of a previous page)");
        if text.len() > 200 {
            return Err(bad());
        }
        let raw = hex::decode(text.trim()).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.split('.');
        let head: Vec<char> = parts.next().ok_or_else(bad)?.chars().collect();
        let [version, key, dir] = head[..] else {
            return Err(bad());
        };
        if version != CURSOR_VERSION {
            return Err(bad());
        }
        let key = SortKey::from_code(key).ok_or_else(bad)?;
        let direction = match dir {
            'a' => Direction::Asc,
            'd' => Direction::Desc,
            _ => return Err(bad()),
        };
        let value: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let id: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Cursor { sort: Sort { key, direction }, value, id })
    }
}

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// `None`: the first page; else a `next_cursor` from the previous page.
    pub cursor: Option<String>,
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { cursor: None, limit: DEFAULT_LIMIT }
    }
}

/// One row of a ticket list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TicketListRow {
    pub id: TicketId,
    pub number: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: Priority,
    pub category: Option<String>,
    pub channel: Channel,
    pub needs_triage: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub requester_id: ContactId,
    pub requester_name: Option<String>,
    pub requester_email: String,
    pub institution_id: Option<InstitutionId>,
    pub institution_name: Option<String>,
    pub instance_id: Option<InstanceId>,
    pub instance_domain: Option<String>,
    pub instance_plan: Option<String>,
    /// The instance's plan, else the institution's default plan.
    pub plan: Option<String>,
    pub assignee_id: Option<AgentId>,
    pub assignee_name: Option<String>,
    /// Sorted.
    pub tags: Vec<String>,
}

/// A page of rows and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPage {
    pub rows: Vec<TicketListRow>,
    pub next_cursor: Option<String>,
}

type RawRow = (
    (TicketId, i64, String, TicketStatus, Priority, Option<String>, Channel, bool, NaiveDateTime, NaiveDateTime),
    (ContactId, Option<String>, String),
    (Option<InstitutionId>, Option<String>, Option<String>),
    (Option<InstanceId>, Option<String>, Option<String>),
    (Option<AgentId>, Option<String>),
    String,
);

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn from_micros(v: i64) -> AppResult<NaiveDateTime> {
    DateTime::from_timestamp_micros(v)
        .map(|t| t.naive_utc())
        .ok_or_else(|| AppError::invalid("the cursor is not valid (use the next_cursor of a previous page)"))
}

fn check_range(name: &str, from: Option<NaiveDateTime>, to: Option<NaiveDateTime>) -> AppResult<()> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(AppError::invalid(format!("{name}: the start is after the end"))),
        _ => Ok(()),
    }
}

/// Reads one page of tickets matching `filter` in `sort` order.
pub fn list(conn: &mut AnyConnection, filter: &TicketFilter, sort: Sort, page: &PageRequest) -> AppResult<TicketPage> {
    query(conn, filter, sort, page, None)
}

/// One ticket as a list row, if `visibility` lets the caller see it
/// (otherwise "not found", as if it did not exist).
pub fn get(conn: &mut AnyConnection, id: TicketId, visibility: Visibility) -> AppResult<TicketListRow> {
    let filter = TicketFilter { visibility, ..TicketFilter::default() };
    query(conn, &filter, Sort::default(), &PageRequest { cursor: None, limit: 1 }, Some(id))?
        .rows
        .pop()
        .ok_or_else(|| AppError::not_found(format!("ticket {id} not found")))
}

fn query(
    conn: &mut AnyConnection,
    filter: &TicketFilter,
    sort: Sort,
    page: &PageRequest,
    only: Option<TicketId>,
) -> AppResult<TicketPage> {
    if page.limit == 0 || page.limit > MAX_LIMIT {
        return Err(AppError::invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let cursor = match page.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(text) => {
            let c = Cursor::decode(text)?;
            if c.sort != sort {
                return Err(AppError::invalid("the cursor was made for another sort order; start again without it"));
            }
            Some(c)
        }
        None => None,
    };
    let tag = filter.tag.as_deref().map(normalize_tag).transpose()?;
    check_range("created", filter.created_from, filter.created_to)?;
    check_range("updated", filter.updated_from, filter.updated_to)?;

    let sqlite = matches!(*conn, AnyConnection::Sqlite(_));
    // On PostgreSQL a page is found in two steps in one statement: a
    // subquery finds the page's ids and the list reads only those rows.
    // The indexes of the sort keys carry every column the filters read
    // (migration `…_ticket_tags_column`), so the subquery is an index-only
    // scan: a filter that skips a thousand entries (a tag, a deep cursor
    // page of a status and priority) reads no table row for them; a single
    // statement fetched a table row for each (over 100,000 tickets, 1,600
    // rows and 600 tag probes for a page of a tag filter). SQLite reads a
    // row cheaply and keeps the single statement (but for a tag's page, see
    // `by_tag`).
    let two_steps = !sqlite && only.is_none();
    // A tag's page in the default order, filtered by nothing else than
    // statuses and the updated range, has its ids read from ticket_tags'
    // index, whose rows carry their ticket's updated_at and status
    // (migration `…_ticket_tags_order`): 51 entries for a page, where the
    // tickets' index took 1,600 (over 100,000 tickets, a tag on 8% of them;
    // SQLite also probed ticket_tags for each).
    let by_tag =
        tag.as_ref().filter(|_| only.is_none() && sort.key == SortKey::Updated && filter.is_tag_and_status_only());
    // Built on the concrete connection and kept prepared per SQL shape (the
    // filters present and enum names decide the text, never caller text).
    let raw: Vec<RawRow> = crate::on_backend!(conn, |c| {
        // Statuses and priorities are written into the SQL as literals
        // (enum names, never caller text): a handful of statement texts,
        // each kept prepared, and on PostgreSQL a generic plan can still use
        // the partial queue indexes, which a bound array would hide from it
        // (PostgreSQL then plans every run: 0.3 ms, more than running it).
        let in_list = |column: &str, mut values: Vec<&'static str>| {
            // Sorted and deduplicated: one text per set, however it was asked.
            values.sort_unstable();
            values.dedup();
            // SQLite without statistics takes an equality on the low-cardinality
            // status or priority for a selective index and sorts thousands of rows
            // (over a million tickets, `status=open` by priority: half a second);
            // walking the index of the sort key ((updated_at, id), (created_at, id),
            // (rank, id), number) and filtering finds a page after a few hundred
            // rows. `+column` keeps SQLite's planner off those indexes (the values
            // are enum names, never caller text). PostgreSQL's planner has
            // statistics and chooses by itself.
            let plus = if sqlite { "+" } else { "" };
            sql::<Bool>(&format!("{plus}{column} IN ({})", crate::db::sql_literals(values)))
        };
        // The filters and the keyset bound, on a query over `tickets` (and
        // maybe more). They read only `tickets` columns, but for SQLite's
        // plan filter, which reads the joined institution and instance (SQLite
        // has no page subquery).
        macro_rules! narrowed {
            ($query:expr) => {{
                let mut q = $query;
                match filter.visibility {
                    Visibility::Staff => {}
                    Visibility::Institution(id, admin) => {
                        q = q.filter(tickets::institution_id.eq(id).or(tickets::requester_id.eq(admin)))
                    }
                    Visibility::Requester(id) => q = q.filter(tickets::requester_id.eq(id)),
                }
                if !filter.statuses.is_empty() {
                    q = q.filter(in_list("tickets.status", filter.statuses.iter().map(|s| s.as_str()).collect()));
                }
                if !filter.priorities.is_empty() {
                    q = q.filter(in_list("tickets.priority", filter.priorities.iter().map(|p| p.as_str()).collect()));
                }
                if let Some(plan) = &filter.plan {
                    // The instance's plan, else the institution's default.
                    // PostgreSQL: two id sets read once and hashed, so the
                    // ids in a ticket's index entry decide, with no join per
                    // entry (the page subquery stays index-only). SQLite
                    // would walk the instances' index and sort every match;
                    // its single statement has the joined rows at hand.
                    q = if sqlite {
                        q.filter(
                            sql::<Bool>("(instances.plan = ")
                                .bind::<Text, _>(plan.clone())
                                .sql(" OR (tickets.instance_id IS NULL AND institutions.default_plan = ")
                                .bind::<Text, _>(plan.clone())
                                .sql("))"),
                        )
                    } else {
                        q.filter(
                            sql::<Bool>("(tickets.instance_id IN (SELECT pi.id FROM instances pi WHERE pi.plan = ")
                                .bind::<Text, _>(plan.clone())
                                .sql(") OR (tickets.instance_id IS NULL AND tickets.institution_id IN ")
                                .sql("(SELECT pn.id FROM institutions pn WHERE pn.default_plan = ")
                                .bind::<Text, _>(plan.clone())
                                .sql(")))"),
                        )
                    };
                }
                if let Some(id) = filter.institution_id {
                    q = q.filter(tickets::institution_id.eq(id));
                }
                if let Some(id) = filter.instance_id {
                    q = q.filter(tickets::instance_id.eq(id));
                }
                match filter.assignee {
                    AssigneeFilter::Any => {}
                    AssigneeFilter::Unassigned => q = q.filter(tickets::assignee_id.is_null()),
                    AssigneeFilter::Agent(id) => q = q.filter(tickets::assignee_id.eq(id)),
                }
                if let Some(tag) = &tag {
                    // PostgreSQL: in the index entry's tag text. SQLite: one
                    // primary-key probe of ticket_tags per candidate, cheaper
                    // there than reading the candidate's row.
                    q = if sqlite {
                        q.filter(
                            sql::<Bool>(
                                "EXISTS (SELECT 1 FROM ticket_tags tt WHERE tt.ticket_id = tickets.id AND tt.tag = ",
                            )
                            .bind::<Text, _>(tag.clone())
                            .sql(")"),
                        )
                    } else {
                        q.filter(sql::<Bool>("strpos(tickets.tags, ").bind::<Text, _>(format!(" {tag} ")).sql(") > 0"))
                    };
                }
                if let Some(flag) = filter.needs_triage {
                    q = q.filter(tickets::needs_triage.eq(flag));
                }
                if let Some(id) = filter.requester_id {
                    q = q.filter(tickets::requester_id.eq(id));
                }
                if let Some(t) = filter.created_from {
                    q = q.filter(tickets::created_at.ge(t));
                }
                if let Some(t) = filter.created_to {
                    q = q.filter(tickets::created_at.lt(t));
                }
                if let Some(t) = filter.updated_from {
                    q = q.filter(tickets::updated_at.ge(t));
                }
                if let Some(t) = filter.updated_to {
                    q = q.filter(tickets::updated_at.lt(t));
                }
                // Keyset: rows strictly after the cursor in the sort order. The
                // redundant `key <= v` (or `>=`) bounds the index range scan.
                if let Some(c) = &cursor {
                    let id = TicketId(c.id);
                    let desc = c.sort.direction == Direction::Desc;
                    // On PostgreSQL the cursor's values are hidden from the
                    // planner (`(SELECT $n)`, see `db::opaque`): seeing them, it
                    // planned every page anew (0.8 ms, longer than the page
                    // takes to read), as its generic plan looked costlier than
                    // one made for the values. The two plans are the same.
                    macro_rules! after {
                        ($col:expr, $v:expr) => {{
                            let v = $v;
                            q = match (sqlite, desc) {
                                (true, true) => q.filter($col.le(v).and($col.lt(v).or(tickets::id.lt(id)))),
                                (true, false) => q.filter($col.ge(v).and($col.gt(v).or(tickets::id.gt(id)))),
                                (false, true) => q.filter($col.le(o(v)).and($col.lt(o(v)).or(tickets::id.lt(o(id))))),
                                (false, false) => {
                                    q.filter($col.ge(o(v)).and($col.gt(o(v)).or(tickets::id.gt(o(id)))))
                                }
                            };
                        }};
                    }
                    match c.sort.key {
                        SortKey::Updated => after!(tickets::updated_at, from_micros(c.value)?),
                        SortKey::Created => after!(tickets::created_at, from_micros(c.value)?),
                        SortKey::Number => after!(tickets::number, c.value),
                        SortKey::Priority => {
                            // The rank is an integer we parsed, never caller text.
                            let r = c.value.clamp(-1, 4);
                            let (cmp, strict, idcmp) = if desc { ("<=", "<", "<") } else { (">=", ">", ">") };
                            q = q.filter(
                                sql::<Bool>(&format!(
                                    "({PRIORITY_RANK_SQL} {cmp} {r} AND ({PRIORITY_RANK_SQL} {strict} {r} OR tickets.id {idcmp} "
                                ))
                                .sql(if sqlite { "" } else { "(SELECT " })
                                .bind::<diesel::sql_types::BigInt, _>(id.0)
                                .sql(if sqlite { "))" } else { ")))" }),
                            );
                        }
                    }
                }
                q
            }};
        }
        macro_rules! ordered {
            ($query:expr) => {{
                let q = $query;
                let rank = || sql::<Integer>(PRIORITY_RANK_SQL);
                match (sort.key, sort.direction) {
                    (SortKey::Updated, Direction::Desc) => q.order((tickets::updated_at.desc(), tickets::id.desc())),
                    (SortKey::Updated, Direction::Asc) => q.order((tickets::updated_at.asc(), tickets::id.asc())),
                    (SortKey::Created, Direction::Desc) => q.order((tickets::created_at.desc(), tickets::id.desc())),
                    (SortKey::Created, Direction::Asc) => q.order((tickets::created_at.asc(), tickets::id.asc())),
                    (SortKey::Number, Direction::Desc) => q.order((tickets::number.desc(), tickets::id.desc())),
                    (SortKey::Number, Direction::Asc) => q.order((tickets::number.asc(), tickets::id.asc())),
                    (SortKey::Priority, Direction::Desc) => q.order((rank().desc(), tickets::id.desc())),
                    (SortKey::Priority, Direction::Asc) => q.order((rank().asc(), tickets::id.asc())),
                }
            }};
        }

        let list = crate::db::boxed_for(
            c,
            // Each row with its requester, institution, instance and
            // assignee (on PostgreSQL only the page's rows are joined).
            tickets::table
                .left_join(institutions::table)
                .left_join(instances::table)
                .inner_join(contacts::table)
                .left_join(agents::table)
                .select((
                    (
                        tickets::id,
                        tickets::number,
                        tickets::subject,
                        tickets::status,
                        tickets::priority,
                        tickets::category,
                        tickets::channel,
                        tickets::needs_triage,
                        tickets::created_at,
                        tickets::updated_at,
                    ),
                    (contacts::id, contacts::name, contacts::email),
                    (tickets::institution_id, institutions::name.nullable(), institutions::default_plan.nullable()),
                    (tickets::instance_id, instances::domain.nullable(), instances::plan.nullable()),
                    (tickets::assignee_id, agents::name.nullable()),
                    tickets::tags,
                )),
        );
        let q = if let Some(tag) = by_tag {
            let mut ids = crate::db::boxed_for(
                c,
                ticket_tags::table.select(ticket_tags::ticket_id).filter(ticket_tags::tag.eq(tag.clone())),
            );
            if !filter.statuses.is_empty() {
                ids = ids.filter(in_list("ticket_tags.status", filter.statuses.iter().map(|s| s.as_str()).collect()));
            }
            if let Some(t) = filter.updated_from {
                ids = ids.filter(ticket_tags::updated_at.ge(t));
            }
            if let Some(t) = filter.updated_to {
                ids = ids.filter(ticket_tags::updated_at.lt(t));
            }
            // The keyset bound, as on the tickets' index (see `after!`).
            if let Some(c) = &cursor {
                let (at, id) = (from_micros(c.value)?, c.id);
                macro_rules! tag_after {
                    ($at:expr, $id:expr) => {
                        match c.sort.direction {
                            Direction::Desc => ids.filter(
                                ticket_tags::updated_at
                                    .le($at)
                                    .and(ticket_tags::updated_at.lt($at).or(ticket_tags::ticket_id.lt($id))),
                            ),
                            Direction::Asc => ids.filter(
                                ticket_tags::updated_at
                                    .ge($at)
                                    .and(ticket_tags::updated_at.gt($at).or(ticket_tags::ticket_id.gt($id))),
                            ),
                        }
                    };
                }
                ids = if sqlite { tag_after!(at, id) } else { tag_after!(o(at), o(id)) };
            }
            let ids = match sort.direction {
                Direction::Desc => ids.order((ticket_tags::updated_at.desc(), ticket_tags::ticket_id.desc())),
                Direction::Asc => ids.order((ticket_tags::updated_at.asc(), ticket_tags::ticket_id.asc())),
            };
            ordered!(list.filter(crate::db::in_first("tickets.id", ids, page.limit + 1)))
        } else if two_steps {
            // The subquery's `tickets` is its own.
            let ids = ordered!(narrowed!(crate::db::boxed_for(c, tickets::table.select(tickets::id))));
            ordered!(list.filter(crate::db::in_first("tickets.id", ids, page.limit + 1)))
        } else {
            let mut q = narrowed!(list);
            if let Some(id) = only {
                q = q.filter(tickets::id.eq(id));
            }
            ordered!(q)
        };
        let q = crate::db::reused_limit(q, page.limit + 1);
        q.load(c)?
    });
    let limit = i64::from(page.limit);
    let has_more = raw.len() as i64 > limit;

    let rows: Vec<TicketListRow> = raw
        .into_iter()
        .take(page.limit as usize)
        .map(|(t, (requester_id, requester_name, requester_email), inst, ins, (assignee_id, assignee_name), tags)| {
            let (institution_id, institution_name, default_plan) = inst;
            let (instance_id, instance_domain, instance_plan) = ins;
            let plan = instance_plan.clone().or(default_plan);
            TicketListRow {
                id: t.0,
                number: t.1,
                subject: t.2,
                status: t.3,
                priority: t.4,
                category: t.5,
                channel: t.6,
                needs_triage: t.7,
                created_at: t.8,
                updated_at: t.9,
                requester_id,
                requester_name,
                requester_email,
                institution_id,
                institution_name,
                instance_id,
                instance_domain,
                instance_plan,
                plan,
                assignee_id,
                assignee_name,
                // Stored sorted (see `tickets::tags_text`).
                tags: tags.split_whitespace().map(str::to_string).collect(),
            }
        })
        .collect();

    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(
            Cursor {
                sort,
                value: match sort.key {
                    SortKey::Updated => micros(last.updated_at),
                    SortKey::Created => micros(last.created_at),
                    SortKey::Number => last.number,
                    SortKey::Priority => priority_rank(last.priority),
                },
                id: last.id.0,
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(TicketPage { rows, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            sort: Sort { key: SortKey::Updated, direction: Direction::Desc },
            value: 1_732_000_000_123_456,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let c = Cursor { sort: Sort { key: SortKey::Priority, direction: Direction::Asc }, value: -3, id: 1 };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn bad_cursors_are_refused() {
        for bad in [
            "",
            "zz",
            "00",
            &hex::encode("1ud.1"),
            &hex::encode("2ud.1.2"),
            &hex::encode("1xd.1.2"),
            &hex::encode("1ud.1.2.3"),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sort_names_parse() {
        for k in SortKey::ALL {
            assert_eq!(k.as_str().parse::<SortKey>().unwrap(), *k);
        }
        assert!("newest".parse::<SortKey>().is_err());
        assert_eq!("asc".parse::<Direction>().unwrap(), Direction::Asc);
        assert!("up".parse::<Direction>().is_err());
    }

    proptest! {
        #[test]
        fn any_cursor_round_trips(k in 0usize..4, asc: bool, value: i64, id: i64) {
            let c = Cursor {
                sort: Sort { key: SortKey::ALL[k], direction: if asc { Direction::Asc } else { Direction::Desc } },
                value,
                id,
            };
            prop_assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        }

        #[test]
        fn decode_never_panics(s in ".*") {
            let _ = Cursor::decode(&s);
            let _ = Cursor::decode(&hex::encode(&s));
        }
    }
}
