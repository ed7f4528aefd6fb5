//! Institutions (customer organisations) and the email domains that map
//! senders to them.

use diesel::prelude::*;

use super::events::EventRecord;
use super::outbox::{TicketsOf, enqueue_tickets_of};
use super::validate::{normalize_domain, normalize_slug, required_line};
use super::{Actor, Plans, Upserted};
use crate::db::models::{Institution, InstitutionDomain, NewInstitution, NewInstitutionDomain};
use crate::db::schema::{institution_domains, institutions};
use crate::db::{AnyConnection, InstitutionId, InstitutionStatus, now};
use crate::error::{AppError, AppResult};

/// What a caller (CSV import, API, console) wants an institution to be.
/// `None` fields are left as they are (or defaulted on creation).
#[derive(Debug, Clone, Default)]
pub struct InstitutionInput {
    pub slug: String,
    pub name: String,
    pub default_plan: Option<String>,
    pub status: Option<InstitutionStatus>,
    /// When given, replaces the institution's set of email domains.
    pub domains: Option<Vec<String>>,
}

/// Creates or updates the institution with `input.slug`, in one transaction
/// with its event. Refuses an email domain that another institution owns.
pub fn upsert(
    conn: &mut AnyConnection,
    plans: &Plans,
    input: &InstitutionInput,
    actor: Actor,
) -> AppResult<(Institution, Upserted)> {
    let slug = normalize_slug(&input.slug)?;
    let name = required_line("name", &input.name, 200)?;
    let plan = match &input.default_plan {
        Some(p) => Some(plans.resolve(Some(p))?),
        None => None,
    };
    let domains = match &input.domains {
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for d in list.iter().filter(|d| !d.trim().is_empty()) {
                let d = normalize_domain(d)?;
                if out.contains(&d) {
                    return Err(AppError::invalid(format!("email domain `{d}` is listed twice")));
                }
                out.push(d);
            }
            out.sort();
            Some(out)
        }
        None => None,
    };

    crate::db::write_transaction(conn, |conn| {
        let at = now();
        let existing = institutions::table
            .filter(institutions::slug.eq(&slug))
            .select(Institution::as_select())
            .first(conn)
            .optional()?;
        let (institution, mut outcome) = match existing {
            None => {
                let default_plan = plans.resolve(plan.as_deref())?;
                let row: Institution = diesel::insert_into(institutions::table)
                    .values(NewInstitution {
                        slug: &slug,
                        name: &name,
                        default_plan: &default_plan,
                        status: input.status.unwrap_or(InstitutionStatus::Active),
                        created_at: at,
                        updated_at: at,
                    })
                    .get_result(conn)?;
                EventRecord::about("institution", row.id.0, "institution.created")
                    .data(serde_json::json!({"slug": row.slug, "name": row.name, "default_plan": row.default_plan}))
                    .write(conn, actor, at)?;
                (row, Upserted::Created)
            }
            Some(current) => {
                let mut changes = Vec::new();
                if current.name != name {
                    changes.push(("name", current.name.clone(), name.clone()));
                }
                if let Some(p) = &plan
                    && &current.default_plan != p
                {
                    changes.push(("default_plan", current.default_plan.clone(), p.clone()));
                }
                if let Some(s) = input.status
                    && current.status != s
                {
                    changes.push(("status", current.status.to_string(), s.to_string()));
                }
                if changes.is_empty() {
                    (current, Upserted::Unchanged)
                } else {
                    let row: Institution = diesel::update(institutions::table.find(current.id))
                        .set((
                            institutions::name.eq(&name),
                            institutions::default_plan.eq(plan.as_deref().unwrap_or(&current.default_plan)),
                            institutions::status.eq(input.status.unwrap_or(current.status)),
                            institutions::updated_at.eq(at),
                        ))
                        .get_result(conn)?;
                    // Its tickets' search documents carry its name and plan.
                    if changes.iter().any(|(field, _, _)| matches!(*field, "name" | "default_plan")) {
                        enqueue_tickets_of(conn, TicketsOf::Institution(row.id), at)?;
                    }
                    for (field, old, new) in changes {
                        EventRecord::about("institution", row.id.0, "institution.updated")
                            .change(field, Some(old), Some(new))
                            .write(conn, actor, at)?;
                    }
                    (row, Upserted::Updated)
                }
            }
        };
        if let Some(domains) = &domains
            && replace_domains(conn, &institution, domains, actor, at)?
            && outcome == Upserted::Unchanged
        {
            outcome = Upserted::Updated;
        }
        Ok((institution, outcome))
    })
}

/// Sets the institution's email domains to exactly `wanted` (normalised,
/// sorted). Returns whether anything changed.
fn replace_domains(
    conn: &mut AnyConnection,
    institution: &Institution,
    wanted: &[String],
    actor: Actor,
    at: chrono::NaiveDateTime,
) -> AppResult<bool> {
    let current = domains_of(conn, institution.id)?;
    if current == wanted {
        return Ok(false);
    }
    for domain in wanted.iter().filter(|d| !current.contains(d)) {
        let owner: Option<(InstitutionId, String)> = institution_domains::table
            .inner_join(institutions::table)
            .filter(institution_domains::domain.eq(domain))
            .select((institutions::id, institutions::slug))
            .first(conn)
            .optional()?;
        if let Some((_, slug)) = owner {
            return Err(AppError::conflict(format!("email domain `{domain}` already belongs to institution `{slug}`")));
        }
    }
    diesel::delete(
        institution_domains::table
            .filter(institution_domains::institution_id.eq(institution.id))
            .filter(institution_domains::domain.ne_all(wanted)),
    )
    .execute(conn)?;
    for domain in wanted.iter().filter(|d| !current.contains(d)) {
        diesel::insert_into(institution_domains::table)
            .values(NewInstitutionDomain { institution_id: institution.id, domain })
            .execute(conn)?;
    }
    EventRecord::about("institution", institution.id.0, "institution.updated")
        .change("domains", Some(current.join(" ")), Some(wanted.join(" ")))
        .write(conn, actor, at)?;
    // Contacts belong to the institution that owns their address's domain:
    // those under a domain that came or went follow it.
    let changed: Vec<String> = current
        .iter()
        .filter(|d| !wanted.contains(d))
        .chain(wanted.iter().filter(|d| !current.contains(d)))
        .cloned()
        .collect();
    super::contacts::follow_domains(conn, &changed, actor, at)?;
    Ok(true)
}

/// The institution's email domains, sorted.
pub fn domains_of(conn: &mut AnyConnection, id: InstitutionId) -> AppResult<Vec<String>> {
    Ok(institution_domains::table
        .filter(institution_domains::institution_id.eq(id))
        .order(institution_domains::domain.asc())
        .select(institution_domains::domain)
        .load(conn)?)
}

pub fn get(conn: &mut AnyConnection, id: InstitutionId) -> AppResult<Institution> {
    crate::on_backend!(conn, |c| institutions::table.find(id).select(Institution::as_select()).get_result(c))
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("institution {id} not found")))
}

pub fn by_slug(conn: &mut AnyConnection, slug: &str) -> AppResult<Option<Institution>> {
    Ok(institutions::table
        .filter(institutions::slug.eq(slug.trim().to_ascii_lowercase()))
        .select(Institution::as_select())
        .first(conn)
        .optional()?)
}

/// The institution whose email domain is `domain` or a parent of it
/// (`cs.uni-lyon.fr` matches `uni-lyon.fr`); the most specific one wins.
pub fn by_email_domain(conn: &mut AnyConnection, domain: &str) -> AppResult<Option<InstitutionId>> {
    let candidates = domain_and_parents(domain);
    let rows: Vec<InstitutionDomain> = institution_domains::table
        .filter(institution_domains::domain.eq_any(&candidates))
        .select(InstitutionDomain::as_select())
        .load(conn)?;
    Ok(most_specific(&candidates, &rows))
}

/// The domain (lower-cased) and each parent of it that still has a dot:
/// `cs.univ-lyon.example`, `univ-lyon.example`.
fn domain_and_parents(domain: &str) -> Vec<String> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    domain
        .match_indices('.')
        .map(|(i, _)| domain[i + 1..].to_string())
        .filter(|d| d.contains('.'))
        .chain(std::iter::once(domain.clone()))
        .collect()
}

/// The institution owning the longest of `candidates` among `rows`.
fn most_specific(candidates: &[String], rows: &[InstitutionDomain]) -> Option<InstitutionId> {
    rows.iter().filter(|r| candidates.contains(&r.domain)).max_by_key(|r| r.domain.len()).map(|r| r.institution_id)
}

/// The owner of each email domain, as [`by_email_domain`] answers, for many
/// domains with one statement.
pub fn owners_of_email_domains<'a>(
    conn: &mut AnyConnection,
    domains: impl IntoIterator<Item = &'a str>,
) -> AppResult<std::collections::HashMap<String, Option<InstitutionId>>> {
    let wanted: Vec<(String, Vec<String>)> =
        domains.into_iter().map(|d| (d.to_string(), domain_and_parents(d))).collect();
    let mut all: Vec<&String> = wanted.iter().flat_map(|(_, c)| c).collect();
    all.sort();
    all.dedup();
    let rows: Vec<InstitutionDomain> = institution_domains::table
        .filter(institution_domains::domain.eq_any(all))
        .select(InstitutionDomain::as_select())
        .load(conn)?;
    Ok(wanted.into_iter().map(|(d, candidates)| (d, most_specific(&candidates, &rows))).collect())
}

/// All institutions by name.
pub fn list(conn: &mut AnyConnection) -> AppResult<Vec<Institution>> {
    Ok(institutions::table.order(institutions::name.asc()).select(Institution::as_select()).load(conn)?)
}
