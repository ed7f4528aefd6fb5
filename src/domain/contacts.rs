//! Customer people, identified by their lower-cased email address and
//! attached to an institution by their email domain.

use diesel::prelude::*;

use super::events::EventRecord;
use super::validate::{email_domain, normalize_email};
use super::{Actor, institutions};
use crate::db::models::{Contact, NewContact};
use crate::db::schema::contacts;
use crate::db::{AnyConnection, ContactId, now};
use crate::error::{AppError, AppResult};

/// Finds the contact with `email`, or creates it (with the institution that
/// owns the address's domain). A display name fills in a missing one but
/// never overwrites a name already known.
pub fn find_or_create(conn: &mut AnyConnection, email: &str, name: Option<&str>, actor: Actor) -> AppResult<Contact> {
    let email = normalize_email(email)?;
    let name = name
        .map(|n| n.trim().chars().filter(|c| !c.is_control()).take(200).collect::<String>())
        .filter(|n| !n.is_empty());
    crate::db::write_transaction(conn, |conn| {
        let at = now();
        if let Some(existing) = by_email(conn, &email)? {
            if existing.name.is_none()
                && let Some(n) = &name
            {
                let row: Contact = diesel::update(contacts::table.find(existing.id))
                    .set((contacts::name.eq(n), contacts::updated_at.eq(at)))
                    .get_result(conn)?;
                EventRecord::about("contact", row.id.0, "contact.updated")
                    .change("name", None, Some(n.clone()))
                    .write(conn, actor, at)?;
                return Ok(row);
            }
            return Ok(existing);
        }
        let institution_id = match email_domain(&email) {
            Some(domain) => institutions::by_email_domain(conn, domain)?,
            None => None,
        };
        let row: Contact = diesel::insert_into(contacts::table)
            .values(NewContact {
                email: &email,
                name: name.as_deref(),
                institution_id,
                is_institution_admin: false,
                blocked: false,
                created_at: at,
                updated_at: at,
            })
            .get_result(conn)?;
        EventRecord::about("contact", row.id.0, "contact.created")
            .data(serde_json::json!({"email": row.email, "institution_id": row.institution_id}))
            .write(conn, actor, at)?;
        Ok(row)
    })
}

/// After institutions' email domains changed: every contact whose address is
/// under one of `changed` (the domain or a subdomain of it) gets the
/// institution that now owns its address, or none. A contact that changes
/// institution loses its admin flag (it was an admin of the other one) and
/// gets a `contact.updated` event. Returns how many contacts moved.
pub fn follow_domains(
    conn: &mut AnyConnection,
    changed: &[String],
    actor: Actor,
    at: chrono::NaiveDateTime,
) -> AppResult<usize> {
    if changed.is_empty() {
        return Ok(0);
    }
    let under = |domain: &str| changed.iter().any(|d| domain == d || domain.ends_with(&format!(".{d}")));
    // Domains hold no LIKE wildcards (see validate::normalize_domain); the
    // exact rule is checked again below.
    let mut candidates = contacts::table.into_boxed();
    for d in changed {
        candidates = candidates
            .or_filter(contacts::email.like(format!("%@{d}")))
            .or_filter(contacts::email.like(format!("%.{d}")));
    }
    let found: Vec<Contact> = candidates.select(Contact::as_select()).load(conn)?;
    let found: Vec<(Contact, String)> = found
        .into_iter()
        .filter_map(|c| {
            let domain = email_domain(&c.email).filter(|d| under(d))?.to_string();
            Some((c, domain))
        })
        .collect();
    // One statement for the owners of all their domains (a university's
    // domain may hold thousands of people).
    let owners = institutions::owners_of_email_domains(conn, found.iter().map(|(_, d)| d.as_str()))?;
    let mut moved = 0;
    for (contact, domain) in found {
        let owner = owners.get(&domain).copied().flatten();
        if owner == contact.institution_id {
            continue;
        }
        diesel::update(contacts::table.find(contact.id))
            .set((
                contacts::institution_id.eq(owner),
                contacts::is_institution_admin.eq(false),
                contacts::updated_at.eq(at),
            ))
            .execute(conn)?;
        EventRecord::about("contact", contact.id.0, "contact.updated")
            .change("institution_id", contact.institution_id.map(|i| i.0.to_string()), owner.map(|i| i.0.to_string()))
            .data(serde_json::json!({ "reason": "email domains changed", "was_admin": contact.is_institution_admin }))
            .write(conn, actor, at)?;
        moved += 1;
    }
    Ok(moved)
}

pub fn by_email(conn: &mut AnyConnection, email: &str) -> AppResult<Option<Contact>> {
    Ok(crate::on_backend!(conn, |c| contacts::table
        .filter(contacts::email.eq(email.trim().to_lowercase()))
        .select(Contact::as_select())
        .get_result(c))
    .optional()?)
}

pub fn get(conn: &mut AnyConnection, id: ContactId) -> AppResult<Contact> {
    crate::on_backend!(conn, |c| contacts::table.find(id).select(Contact::as_select()).get_result(c))
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("contact {id} not found")))
}

/// Marks a contact as an administrator of its institution (sees all of the
/// institution's tickets in the portal).
pub fn set_institution_admin(conn: &mut AnyConnection, id: ContactId, admin: bool, actor: Actor) -> AppResult<Contact> {
    crate::db::write_transaction(conn, |conn| {
        let at = now();
        let current = get(conn, id)?;
        if current.is_institution_admin == admin {
            return Ok(current);
        }
        if admin && current.institution_id.is_none() {
            return Err(AppError::invalid("a contact without an institution cannot be its admin"));
        }
        let row: Contact = diesel::update(contacts::table.find(id))
            .set((contacts::is_institution_admin.eq(admin), contacts::updated_at.eq(at)))
            .get_result(conn)?;
        EventRecord::about("contact", id.0, "contact.updated")
            .change("is_institution_admin", Some(current.is_institution_admin.to_string()), Some(admin.to_string()))
            .write(conn, actor, at)?;
        Ok(row)
    })
}
