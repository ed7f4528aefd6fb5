//! Hosted Mastodon instances, each owned by an institution and sold on a
//! plan tier.

use diesel::prelude::*;

use super::events::EventRecord;
use super::outbox::{TicketsOf, enqueue_tickets_of};
use super::validate::normalize_domain;
use super::{Actor, Plans, Upserted, institutions};
use crate::db::models::{Instance, NewInstance};
use crate::db::schema::instances;
use crate::db::{AnyConnection, InstanceId, InstanceStatus, InstitutionId, now};
use crate::error::{AppError, AppResult};

/// What a caller wants an instance to be; `None` leaves a field as it is
/// (on creation: plan = the institution's default plan, status = active).
#[derive(Debug, Clone, Default)]
pub struct InstanceInput {
    pub domain: String,
    pub institution_slug: String,
    pub plan: Option<String>,
    pub status: Option<InstanceStatus>,
    pub mastodon_version: Option<String>,
    pub region: Option<String>,
    pub notes: Option<String>,
}

fn optional_text(value: &Option<String>, field: &str, max: usize) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => {
            Err(AppError::invalid(format!("{field} is longer than {max} characters")))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// Creates or updates the instance with `input.domain`, in one transaction
/// with its events.
pub fn upsert(
    conn: &mut AnyConnection,
    plans: &Plans,
    input: &InstanceInput,
    actor: Actor,
) -> AppResult<(Instance, Upserted)> {
    let domain = normalize_domain(&input.domain)?;
    let plan = match &input.plan {
        Some(p) if !p.trim().is_empty() => Some(plans.resolve(Some(p))?),
        _ => None,
    };
    let version = optional_text(&input.mastodon_version, "mastodon_version", 50)?;
    let region = optional_text(&input.region, "region", 100)?;
    let notes = optional_text(&input.notes, "notes", 10_000)?;

    crate::db::write_transaction(conn, |conn| {
        let at = now();
        let institution = institutions::by_slug(conn, &input.institution_slug)?
            .ok_or_else(|| AppError::invalid(format!("unknown institution `{}`", input.institution_slug.trim())))?;
        let existing = by_domain(conn, &domain)?;
        match existing {
            None => {
                let plan = plan.unwrap_or_else(|| institution.default_plan.clone());
                let row: Instance = diesel::insert_into(instances::table)
                    .values(NewInstance {
                        domain: &domain,
                        institution_id: institution.id,
                        plan: &plan,
                        status: input.status.unwrap_or(InstanceStatus::Active),
                        mastodon_version: version.as_deref().filter(|v| !v.is_empty()),
                        region: region.as_deref().filter(|v| !v.is_empty()),
                        notes: notes.as_deref().filter(|v| !v.is_empty()),
                        created_at: at,
                        updated_at: at,
                    })
                    .get_result(conn)?;
                EventRecord::about("instance", row.id.0, "instance.created")
                    .data(serde_json::json!({
                        "domain": row.domain, "institution": institution.slug, "plan": row.plan
                    }))
                    .write(conn, actor, at)?;
                Ok((row, Upserted::Created))
            }
            Some(current) => {
                let wanted_plan = plan.unwrap_or_else(|| current.plan.clone());
                let wanted_status = input.status.unwrap_or(current.status);
                let pick = |new: &Option<String>, old: &Option<String>| match new {
                    Some(v) if v.is_empty() => None,
                    Some(v) => Some(v.clone()),
                    None => old.clone(),
                };
                let wanted_version = pick(&version, &current.mastodon_version);
                let wanted_region = pick(&region, &current.region);
                let wanted_notes = pick(&notes, &current.notes);
                let mut changes: Vec<(&'static str, Option<String>, Option<String>)> = Vec::new();
                if current.institution_id != institution.id {
                    changes.push((
                        "institution_id",
                        Some(current.institution_id.to_string()),
                        Some(institution.id.to_string()),
                    ));
                }
                if current.plan != wanted_plan {
                    changes.push(("plan", Some(current.plan.clone()), Some(wanted_plan.clone())));
                }
                if current.status != wanted_status {
                    changes.push(("status", Some(current.status.to_string()), Some(wanted_status.to_string())));
                }
                if current.mastodon_version != wanted_version {
                    changes.push(("mastodon_version", current.mastodon_version.clone(), wanted_version.clone()));
                }
                if current.region != wanted_region {
                    changes.push(("region", current.region.clone(), wanted_region.clone()));
                }
                if current.notes != wanted_notes {
                    changes.push(("notes", current.notes.clone(), wanted_notes.clone()));
                }
                if changes.is_empty() {
                    return Ok((current, Upserted::Unchanged));
                }
                let row: Instance = diesel::update(instances::table.find(current.id))
                    .set((
                        instances::institution_id.eq(institution.id),
                        instances::plan.eq(&wanted_plan),
                        instances::status.eq(wanted_status),
                        instances::mastodon_version.eq(&wanted_version),
                        instances::region.eq(&wanted_region),
                        instances::notes.eq(&wanted_notes),
                        instances::updated_at.eq(at),
                    ))
                    .get_result(conn)?;
                // Its tickets' search documents carry its plan.
                if changes.iter().any(|(field, _, _)| *field == "plan") {
                    enqueue_tickets_of(conn, TicketsOf::Instance(row.id), at)?;
                }
                for (field, old, new) in changes {
                    EventRecord::about("instance", row.id.0, "instance.updated")
                        .change(field, old, new)
                        .write(conn, actor, at)?;
                }
                Ok((row, Upserted::Updated))
            }
        }
    })
}

pub fn get(conn: &mut AnyConnection, id: InstanceId) -> AppResult<Instance> {
    crate::on_backend!(conn, |c| instances::table.find(id).select(Instance::as_select()).get_result(c))
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("instance {id} not found")))
}

pub fn by_domain(conn: &mut AnyConnection, domain: &str) -> AppResult<Option<Instance>> {
    Ok(instances::table
        .filter(instances::domain.eq(domain.trim().trim_end_matches('.').to_ascii_lowercase()))
        .select(Instance::as_select())
        .first(conn)
        .optional()?)
}

/// An institution's instances, by domain.
pub fn of_institution(conn: &mut AnyConnection, institution_id: InstitutionId) -> AppResult<Vec<Instance>> {
    Ok(crate::on_backend!(conn, |c| instances::table
        .filter(instances::institution_id.eq(institution_id))
        .order(instances::domain.asc())
        .select(Instance::as_select())
        .load(c))?)
}
