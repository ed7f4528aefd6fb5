//! Ticket documents built from the database, a batch at a time (a handful
//! of queries per batch, whatever its size).

use std::collections::HashMap;

use diesel::prelude::*;

use super::TicketDoc;
use crate::db::models::Ticket;
use crate::db::schema::{contacts, instances, institutions, messages, ticket_tags, tickets};
use crate::db::{AnyConnection, MessageKind, TicketId};
use crate::error::AppResult;

/// Longest body text indexed per field and ticket (characters); beyond it a
/// thread is cut (its first part is usually the one that describes it).
pub const MAX_BODY_CHARS: usize = 200_000;
/// Tickets per database round in [`load`] (bounded by SQLite's bind limit).
pub const LOAD_CHUNK: usize = 1000;

/// What the index must do for a set of tickets: documents to write, and
/// tickets to remove (gone, or merged into another).
#[derive(Debug, Default)]
pub struct Loaded {
    pub docs: Vec<TicketDoc>,
    pub gone: Vec<TicketId>,
    /// Messages in the documents.
    pub messages: u64,
}

/// Builds the documents of `ids` from the database. `default_plan` is the
/// tier of tickets with neither instance nor institution.
pub fn load(conn: &mut AnyConnection, ids: &[TicketId], default_plan: &str) -> AppResult<Loaded> {
    let mut out = Loaded::default();
    for chunk in ids.chunks(LOAD_CHUNK) {
        let rows: Vec<Ticket> =
            tickets::table.filter(tickets::id.eq_any(chunk)).select(Ticket::as_select()).load(conn)?;
        let found: std::collections::HashSet<TicketId> = rows.iter().map(|t| t.id).collect();
        out.gone.extend(chunk.iter().filter(|id| !found.contains(id)));
        let (merged, live): (Vec<Ticket>, Vec<Ticket>) = rows.into_iter().partition(|t| t.merged_into_id.is_some());
        out.gone.extend(merged.iter().map(|t| t.id));
        build(conn, live, default_plan, &mut out)?;
    }
    Ok(out)
}

/// Ids of live (not merged) tickets after `after`, in id order, at most `limit`.
pub fn live_ids_after(conn: &mut AnyConnection, after: i64, limit: i64) -> AppResult<Vec<TicketId>> {
    Ok(tickets::table
        .filter(tickets::id.gt(after))
        .filter(tickets::merged_into_id.is_null())
        .order(tickets::id.asc())
        .limit(limit)
        .select(tickets::id)
        .load(conn)?)
}

/// Live tickets in the database.
pub fn live_count(conn: &mut AnyConnection) -> AppResult<i64> {
    Ok(tickets::table.filter(tickets::merged_into_id.is_null()).count().get_result(conn)?)
}

fn build(conn: &mut AnyConnection, live: Vec<Ticket>, default_plan: &str, out: &mut Loaded) -> AppResult<()> {
    if live.is_empty() {
        return Ok(());
    }
    let ids: Vec<TicketId> = live.iter().map(|t| t.id).collect();
    let mut bodies: HashMap<TicketId, (String, String)> = HashMap::new();
    let thread: Vec<(TicketId, MessageKind, String)> = messages::table
        .filter(messages::ticket_id.eq_any(&ids))
        .order((messages::ticket_id.asc(), messages::created_at.asc(), messages::id.asc()))
        .select((messages::ticket_id, messages::kind, messages::body_text))
        .load(conn)?;
    out.messages += thread.len() as u64;
    for (ticket, kind, body) in thread {
        let entry = bodies.entry(ticket).or_default();
        let field = if kind == MessageKind::Note { &mut entry.1 } else { &mut entry.0 };
        append_body(field, &body);
    }
    let mut tags: HashMap<TicketId, Vec<String>> = HashMap::new();
    let tag_rows: Vec<(TicketId, String)> = ticket_tags::table
        .filter(ticket_tags::ticket_id.eq_any(&ids))
        .order((ticket_tags::ticket_id.asc(), ticket_tags::tag.asc()))
        .select((ticket_tags::ticket_id, ticket_tags::tag))
        .load(conn)?;
    for (ticket, tag) in tag_rows {
        tags.entry(ticket).or_default().push(tag);
    }
    let mut merged_numbers: HashMap<TicketId, Vec<i64>> = HashMap::new();
    let merged_rows: Vec<(Option<TicketId>, i64)> = tickets::table
        .filter(tickets::merged_into_id.eq_any(&ids))
        .select((tickets::merged_into_id, tickets::number))
        .load(conn)?;
    for (target, number) in merged_rows {
        if let Some(target) = target {
            merged_numbers.entry(target).or_default().push(number);
        }
    }
    let contact_ids: Vec<_> = live.iter().map(|t| t.requester_id).collect();
    let people: HashMap<_, (String, Option<String>)> = contacts::table
        .filter(contacts::id.eq_any(&contact_ids))
        .select((contacts::id, contacts::email, contacts::name))
        .load::<(crate::db::ContactId, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, email, name)| (id, (email, name)))
        .collect();
    let institution_ids: Vec<_> = live.iter().filter_map(|t| t.institution_id).collect();
    let orgs: HashMap<_, (String, String)> = institutions::table
        .filter(institutions::id.eq_any(&institution_ids))
        .select((institutions::id, institutions::name, institutions::default_plan))
        .load::<(crate::db::InstitutionId, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, plan)| (id, (name, plan)))
        .collect();
    let instance_ids: Vec<_> = live.iter().filter_map(|t| t.instance_id).collect();
    let sites: HashMap<_, (String, String)> = instances::table
        .filter(instances::id.eq_any(&instance_ids))
        .select((instances::id, instances::domain, instances::plan))
        .load::<(crate::db::InstanceId, String, String)>(conn)?
        .into_iter()
        .map(|(id, domain, plan)| (id, (domain, plan)))
        .collect();

    for t in live {
        let (body_public, body_notes) = bodies.remove(&t.id).unwrap_or_default();
        let (email, name) = people.get(&t.requester_id).cloned().unwrap_or_default();
        let org = t.institution_id.and_then(|id| orgs.get(&id));
        let site = t.instance_id.and_then(|id| sites.get(&id));
        let plan = site
            .map(|(_, plan)| plan.clone())
            .or_else(|| org.map(|(_, plan)| plan.clone()))
            .unwrap_or_else(|| default_plan.to_string());
        let mut numbers = vec![t.number];
        numbers.extend(merged_numbers.remove(&t.id).unwrap_or_default());
        out.docs.push(TicketDoc {
            id: t.id.0,
            number: t.number,
            numbers,
            subject: clean(&t.subject),
            body_public,
            body_notes,
            requester_name: clean(name.as_deref().unwrap_or("")),
            requester_email: email,
            institution_name: org.map(|(name, _)| clean(name)),
            instance_domain: site.map(|(domain, _)| domain.clone()),
            tags: tags.remove(&t.id).unwrap_or_default(),
            status: t.status,
            priority: t.priority,
            plan,
            institution_id: t.institution_id.map(|i| i.0),
            instance_id: t.instance_id.map(|i| i.0),
            assignee_id: t.assignee_id.map(|a| a.0),
            requester_id: t.requester_id.0,
            created_at: t.created_at.and_utc().timestamp(),
            updated_at: t.updated_at.and_utc().timestamp(),
        });
    }
    Ok(())
}

/// Appends a message body, separated by a blank line, within [`MAX_BODY_CHARS`].
fn append_body(field: &mut String, body: &str) {
    let room = MAX_BODY_CHARS.saturating_sub(field.chars().count());
    if room < 3 {
        return;
    }
    if !field.is_empty() {
        field.push_str("\n\n");
    }
    field.extend(clean(body).chars().take(room - 2));
}

/// Drops the private-use characters the Meilisearch backend uses to mark
/// highlights, and NULs, so no text can forge markup in a snippet.
pub fn clean(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '\u{E000}' | '\u{E001}' | '\0')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_joined_and_bounded() {
        let mut f = String::new();
        append_body(&mut f, "one");
        append_body(&mut f, "two\u{E000}");
        assert_eq!(f, "one\n\ntwo");
        let mut big = "x".repeat(MAX_BODY_CHARS - 1);
        append_body(&mut big, "more");
        assert_eq!(big.chars().count(), MAX_BODY_CHARS - 1);
    }
}
