//! Read models for the console: everything one page shows, loaded in one
//! call so handlers stay adapters. No writes here.

use diesel::prelude::*;

use super::{agents, events, instances, institutions, outbox, tickets};
use crate::db::models::{Agent, Attachment, Contact, Event, Instance, Institution, MailOutboxRow, Message, Ticket};
use crate::db::schema::{contacts as contacts_t, tickets as tickets_t};
use crate::db::{AnyConnection, ContactId, InstanceId, InstitutionId, TicketId};
use crate::error::{AppError, AppResult};

/// Everything the ticket page shows.
#[derive(Debug, Clone)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub tags: Vec<String>,
    pub requester: Contact,
    pub institution: Option<Institution>,
    pub instance: Option<Instance>,
    /// The institution's instances, for relinking.
    pub institution_instances: Vec<Instance>,
    /// Other recent tickets of the same instance (or requester when unlinked).
    pub related: Vec<Ticket>,
    pub messages: Vec<Message>,
    pub attachments: Vec<Attachment>,
    pub events: Vec<Event>,
    pub mail: Vec<MailOutboxRow>,
    /// The active agents.
    pub agents: std::sync::Arc<Vec<Agent>>,
    /// The ticket this one was merged into, if any.
    pub merged_into: Option<Ticket>,
}

/// Loads the ticket page of ticket `number`; the agents through `agents`.
pub fn ticket_detail(conn: &mut AnyConnection, number: i64, agents: &ActiveAgentsCache) -> AppResult<TicketDetail> {
    use crate::db::schema::{instances as instances_t, institutions as institutions_t};
    // The ticket with its requester, institution and instance: one cached
    // statement (unique key, no LIMIT), where there were four round trips.
    let head = crate::on_backend!(conn, |c| tickets_t::table
        .inner_join(contacts_t::table)
        .left_join(institutions_t::table)
        .left_join(instances_t::table)
        .filter(tickets_t::number.eq(number))
        .select((
            Ticket::as_select(),
            Contact::as_select(),
            Option::<Institution>::as_select(),
            Option::<Instance>::as_select(),
        ))
        .get_result::<(Ticket, Contact, Option<Institution>, Option<Instance>)>(c))
    .optional()?;
    let (ticket, requester, institution, instance) =
        head.ok_or_else(|| AppError::not_found(format!("no ticket #{number}")))?;
    let tags = tickets::tags_of(conn, ticket.id)?;
    let institution_instances = match ticket.institution_id {
        Some(id) => instances::of_institution(conn, id)?,
        None => Vec::new(),
    };
    // Two statement shapes, each kept prepared with a literal LIMIT.
    let related = crate::on_backend!(conn, |c| {
        let related_query = crate::db::boxed_for(c, tickets_t::table.filter(tickets_t::id.ne(ticket.id)));
        let related_query = match ticket.instance_id {
            Some(instance_id) => related_query.filter(tickets_t::instance_id.eq(instance_id)),
            None => related_query.filter(tickets_t::requester_id.eq(ticket.requester_id)),
        };
        crate::db::reused_limit(
            related_query.order((tickets_t::updated_at.desc(), tickets_t::id.desc())).select(Ticket::as_select()),
            8,
        )
        .load(c)
    })?;
    let messages = tickets::messages_of(conn, ticket.id)?;
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    let attachments = tickets::attachments_of(conn, &ids)?;
    let events = events::for_ticket(conn, ticket.id)?;
    let mail = outbox::mail_for_ticket(conn, ticket.id)?;
    let agents = active_agents(conn, agents)?;
    let merged_into = ticket.merged_into_id.map(|id| tickets::get(conn, id)).transpose()?;
    Ok(TicketDetail {
        ticket,
        tags,
        requester,
        institution,
        instance,
        institution_instances,
        related,
        messages,
        attachments,
        events,
        mail,
        agents,
        merged_into,
    })
}

/// An institution with its domains, instances and recent tickets.
#[derive(Debug, Clone)]
pub struct InstitutionDetail {
    pub institution: Institution,
    pub domains: Vec<String>,
    pub instances: Vec<Instance>,
    pub contacts: Vec<Contact>,
    pub tickets: Vec<Ticket>,
}

pub fn institution_detail(conn: &mut AnyConnection, slug: &str) -> AppResult<InstitutionDetail> {
    let institution =
        institutions::by_slug(conn, slug)?.ok_or_else(|| AppError::not_found(format!("no institution {slug}")))?;
    let domains = institutions::domains_of(conn, institution.id)?;
    let instances = instances::of_institution(conn, institution.id)?;
    let contacts = contacts_t::table
        .filter(contacts_t::institution_id.eq(institution.id))
        .order(contacts_t::email.asc())
        .limit(200)
        .select(Contact::as_select())
        .load(conn)?;
    let tickets = recent_tickets(conn, TicketsOf::Institution(institution.id), 50)?;
    Ok(InstitutionDetail { institution, domains, instances, contacts, tickets })
}

/// An instance with its institution and ticket history.
#[derive(Debug, Clone)]
pub struct InstanceDetail {
    pub instance: Instance,
    pub institution: Institution,
    pub tickets: Vec<Ticket>,
}

pub fn instance_detail(conn: &mut AnyConnection, domain: &str) -> AppResult<InstanceDetail> {
    let instance =
        instances::by_domain(conn, domain)?.ok_or_else(|| AppError::not_found(format!("no instance {domain}")))?;
    let institution = institutions::get(conn, instance.institution_id)?;
    let tickets = recent_tickets(conn, TicketsOf::Instance(instance.id), 100)?;
    Ok(InstanceDetail { instance, institution, tickets })
}

/// Whose tickets to list.
#[derive(Debug, Clone, Copy)]
pub enum TicketsOf {
    Institution(InstitutionId),
    Instance(InstanceId),
    Requester(ContactId),
}

/// The most recent tickets of an institution, instance or requester.
pub fn recent_tickets(conn: &mut AnyConnection, of: TicketsOf, limit: i64) -> AppResult<Vec<Ticket>> {
    let query = tickets_t::table.into_boxed();
    let query = match of {
        TicketsOf::Institution(id) => query.filter(tickets_t::institution_id.eq(id)),
        TicketsOf::Instance(id) => query.filter(tickets_t::instance_id.eq(id)),
        TicketsOf::Requester(id) => query.filter(tickets_t::requester_id.eq(id)),
    };
    Ok(query
        .order((tickets_t::updated_at.desc(), tickets_t::id.desc()))
        .limit(limit)
        .select(Ticket::as_select())
        .load(conn)?)
}

/// Contacts, optionally those whose address or name contains `needle`,
/// by address, at most `limit`.
pub fn contacts(conn: &mut AnyConnection, needle: Option<&str>, limit: i64) -> AppResult<Vec<Contact>> {
    let mut query = contacts_t::table.into_boxed();
    if let Some(n) = needle.map(str::trim).filter(|n| !n.is_empty()) {
        let pattern = format!("%{}%", n.to_lowercase().replace(['%', '_'], ""));
        query = query.filter(contacts_t::email.like(pattern.clone()).or(contacts_t::name.like(pattern)));
    }
    Ok(query.order(contacts_t::email.asc()).limit(limit).select(Contact::as_select()).load(conn)?)
}

/// The ticket of an attachment, for permission checks before a download.
pub fn ticket_of_message(conn: &mut AnyConnection, message: crate::db::MessageId) -> AppResult<TicketId> {
    use crate::db::schema::messages;
    messages::table
        .find(message)
        .select(messages::ticket_id)
        .first::<TicketId>(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such message"))
}

/// One attachment row and the ticket it belongs to.
pub fn attachment(conn: &mut AnyConnection, id: i64) -> AppResult<(Attachment, TicketId)> {
    use crate::db::schema::attachments;
    let row = attachments::table
        .filter(attachments::id.eq(id))
        .select(Attachment::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such attachment"))?;
    let ticket = ticket_of_message(conn, row.message_id)?;
    Ok((row, ticket))
}

/// Statuses of work still to do (queues "mine" and "unassigned").
pub const OPEN_STATUSES: &[crate::db::TicketStatus] =
    &[crate::db::TicketStatus::New, crate::db::TicketStatus::Open, crate::db::TicketStatus::OnHold];

/// Queue sizes are counted up to this; larger queues show "1000+".
pub const COUNT_CAP: i64 = 1000;

/// Sizes of the console queues, each counted up to [`COUNT_CAP`] + 1 over
/// an index, so a page view never counts a million rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub mine: i64,
    pub unassigned: i64,
    pub due: i64,
    pub pending: i64,
    pub triage: i64,
}

pub fn queue_counts(
    conn: &mut AnyConnection,
    me: crate::db::AgentId,
    now: chrono::DateTime<chrono::Utc>,
    due_within: chrono::Duration,
) -> AppResult<QueueCounts> {
    use diesel::sql_types::{BigInt, Timestamp};
    let cap = COUNT_CAP + 1;
    // Six capped counts in one statement, kept prepared: one round trip per
    // page view, and no ids sent back. The SQL is fixed text; the agent id
    // and the due horizon are bound.
    let open = crate::db::sql_literals(OPEN_STATUSES.iter().map(|s| s.as_str()));
    let capped =
        |table: &str, cond: &str| format!("(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {cond} LIMIT {cap}) c)");
    let (me_param, horizon_param) = match conn {
        AnyConnection::Sqlite(_) => ("?", "?"),
        AnyConnection::Postgresql(_) => ("$1", "$2"),
    };
    // The due counts walk the partial index `ticket_sla_open_due`.
    let sql = format!(
        "SELECT {} AS mine, {} AS unassigned, {} AS pending, {} AS triage, {} AS breached, {} AS due_soon",
        capped("tickets", &format!("assignee_id = {me_param} AND status IN ({open})")),
        capped("tickets", &format!("assignee_id IS NULL AND status IN ({open})")),
        capped("tickets", "status = 'pending'"),
        capped("tickets", &format!("needs_triage = TRUE AND status IN ({open})")),
        capped("ticket_sla", "state <> 'done' AND breached = TRUE"),
        capped("ticket_sla", &format!("state <> 'done' AND breached = FALSE AND next_due_at <= {horizon_param}")),
    );
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = BigInt)]
        mine: i64,
        #[diesel(sql_type = BigInt)]
        unassigned: i64,
        #[diesel(sql_type = BigInt)]
        pending: i64,
        #[diesel(sql_type = BigInt)]
        triage: i64,
        #[diesel(sql_type = BigInt)]
        breached: i64,
        #[diesel(sql_type = BigInt)]
        due_soon: i64,
    }
    let horizon = (now + due_within).naive_utc();
    let counts: Counts = crate::on_backend!(conn, |c| crate::db::reused(
        diesel::sql_query(sql).bind::<BigInt, _>(me.0).bind::<Timestamp, _>(horizon)
    )
    .get_result(c)?);
    let due = (counts.breached + counts.due_soon).min(cap);
    Ok(QueueCounts {
        mine: counts.mine,
        unassigned: counts.unassigned,
        due,
        pending: counts.pending,
        triage: counts.triage,
    })
}

/// How long a [`ReadCache`] reuses a value when nothing was written.
pub const READ_CACHE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(2);

/// Values read for recent page views, by key. An entry is used only while
/// this process has committed no write since it was read
/// ([`crate::db::write_generation`]) and for at most [`READ_CACHE_MAX_AGE`]: an
/// agent's own action shows at once; another process's writes, and
/// tickets coming due, within two seconds.
///
/// Used for the queue counts, per agent: counting costs about a third of a
/// millisecond of database time (six capped index scans), a fifth of a
/// queue page's work over a million tickets. And for the active agents of
/// the assignee pickers, a statement on every queue and ticket page.
#[derive(Debug)]
pub struct ReadCache<K, V> {
    entries: std::sync::Mutex<std::collections::HashMap<K, (u64, std::time::Instant, V)>>,
}

impl<K, V> Default for ReadCache<K, V> {
    fn default() -> Self {
        Self { entries: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }
}

impl<K: std::hash::Hash + Eq + Copy, V: Clone> ReadCache<K, V> {
    /// Keys remembered at most (the map is emptied when full).
    const MAX_ENTRIES: usize = 1024;

    /// The value of `key`, from the cache when still valid, else `read`.
    pub fn get(
        &self,
        conn: &mut AnyConnection,
        key: K,
        read: impl FnOnce(&mut AnyConnection) -> AppResult<V>,
    ) -> AppResult<V> {
        let generation = crate::db::write_generation();
        let lock = || self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at_generation, at, value)) = lock().get(&key)
            && *at_generation == generation
            && at.elapsed() < READ_CACHE_MAX_AGE
        {
            return Ok(value.clone());
        }
        let read_at = std::time::Instant::now();
        let value = read(conn)?;
        let mut entries = lock();
        if entries.len() >= Self::MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (generation, read_at, value.clone()));
        Ok(value)
    }
}

/// Queue counts per agent.
pub type QueueCountsCache = ReadCache<crate::db::AgentId, QueueCounts>;

/// The active agents, by name (one key).
pub type ActiveAgentsCache = ReadCache<(), std::sync::Arc<Vec<Agent>>>;

/// The active agents through `cache`.
pub fn active_agents(conn: &mut AnyConnection, cache: &ActiveAgentsCache) -> AppResult<std::sync::Arc<Vec<Agent>>> {
    cache.get(conn, (), |conn| Ok(std::sync::Arc::new(agents::list(conn)?.into_iter().filter(|a| a.active).collect())))
}

/// A row of the "due soon / breached" queue.
#[derive(Debug, Clone)]
pub struct DueRow {
    pub ticket: Ticket,
    pub next_due_at: Option<chrono::NaiveDateTime>,
    pub breached: bool,
    pub requester_email: String,
    pub institution_name: Option<String>,
    pub instance_domain: Option<String>,
    pub assignee_name: Option<String>,
}

/// Open tickets breached or due within `within`, breached first, then by
/// due instant; at most `limit`.
pub fn due_queue(
    conn: &mut AnyConnection,
    now: chrono::DateTime<chrono::Utc>,
    within: chrono::Duration,
    limit: i64,
) -> AppResult<Vec<DueRow>> {
    use crate::db::schema::{agents as agents_t, instances as instances_t, institutions as institutions_t};
    let due = crate::sla::evaluator::due_soon(conn, now, within, limit)?;
    // The tickets with their names in one statement (not one per row).
    let ids: Vec<TicketId> = due.iter().map(|d| d.ticket_id).collect();
    type Loaded = (Ticket, String, Option<String>, Option<String>, Option<String>);
    // Kept prepared: one text per page length on SQLite (`IN (?, …)`), one
    // on PostgreSQL (`= ANY($1)`).
    let loaded: Vec<Loaded> = crate::on_backend!(conn, |c| crate::db::reused(
        tickets_t::table
            .inner_join(contacts_t::table)
            .left_join(institutions_t::table)
            .left_join(instances_t::table)
            .left_join(agents_t::table)
            .filter(tickets_t::id.eq_any(&ids))
            .filter(tickets_t::merged_into_id.is_null())
            .select((
                Ticket::as_select(),
                contacts_t::email,
                institutions_t::name.nullable(),
                instances_t::domain.nullable(),
                agents_t::name.nullable(),
            ))
    )
    .load(c))?;
    let mut by_id: std::collections::HashMap<TicketId, Loaded> =
        loaded.into_iter().map(|row| (row.0.id, row)).collect();
    Ok(due
        .into_iter()
        .filter_map(|d| {
            let (ticket, requester_email, institution_name, instance_domain, assignee_name) =
                by_id.remove(&d.ticket_id)?;
            Some(DueRow {
                ticket,
                next_due_at: d.next_due_at,
                breached: d.breached,
                requester_email,
                institution_name,
                instance_domain,
                assignee_name,
            })
        })
        .collect())
}

/// Institution and instance ids of filter values typed in the console
/// (slug, domain); unknown values give `Some(-1)`, which matches nothing.
pub fn resolve_refs(
    conn: &mut AnyConnection,
    institution_slug: Option<&str>,
    instance_domain: Option<&str>,
) -> AppResult<(Option<InstitutionId>, Option<InstanceId>)> {
    let institution = match institution_slug.map(str::trim).filter(|s| !s.is_empty()) {
        Some(slug) => Some(institutions::by_slug(conn, slug)?.map_or(InstitutionId(-1), |i| i.id)),
        None => None,
    };
    let instance = match instance_domain.map(str::trim).filter(|s| !s.is_empty()) {
        Some(domain) => Some(instances::by_domain(conn, &domain.to_lowercase())?.map_or(InstanceId(-1), |i| i.id)),
        None => None,
    };
    Ok((institution, instance))
}
