//! Institutions, instances and contacts: lists, details with ticket
//! history, edits.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{Chrome, flash_text, local_time, see_other};
use crate::db::models::{Instance, Ticket};
use crate::db::{InstanceStatus, InstitutionStatus, Role};
use crate::domain::instances::{self, InstanceInput};
use crate::domain::institutions::{self, InstitutionInput};
use crate::domain::views;
use crate::error::AppError;
use crate::web::AppState;
use crate::web::session::{AgentUser, PageError};

#[derive(Serialize)]
struct TicketLine {
    number: i64,
    subject: String,
    status: String,
    priority: String,
    created: String,
}

fn ticket_lines(state: &AppState, tickets: &[Ticket]) -> Vec<TicketLine> {
    tickets
        .iter()
        .map(|t| TicketLine {
            number: t.number,
            subject: t.subject.clone(),
            status: t.status.to_string(),
            priority: t.priority.to_string(),
            created: local_time(state, t.created_at),
        })
        .collect()
}

#[derive(Serialize)]
struct InstanceLine {
    domain: String,
    plan: String,
    status: String,
    version: Option<String>,
}

fn instance_lines(instances: &[Instance]) -> Vec<InstanceLine> {
    instances
        .iter()
        .map(|i| InstanceLine {
            domain: i.domain.clone(),
            plan: i.plan.clone(),
            status: i.status.to_string(),
            version: i.mastodon_version.clone(),
        })
        .collect()
}

#[derive(Serialize)]
struct Option_ {
    value: String,
    selected: bool,
}

fn options(values: impl IntoIterator<Item = String>, current: &str) -> Vec<Option_> {
    values.into_iter().map(|v| Option_ { selected: v == current, value: v }).collect()
}

#[derive(Debug, Deserialize)]
pub struct FlashQuery {
    pub flash: Option<String>,
}

#[derive(Serialize)]
struct InstitutionLine {
    slug: String,
    name: String,
    plan: String,
    status: String,
}

/// `GET /console/institutions`
pub async fn list_institutions(state: web::Data<AppState>, user: AgentUser) -> Result<HttpResponse, PageError> {
    let list = state.db.run(institutions::list).await?;
    #[derive(Serialize)]
    struct Page {
        chrome: Chrome,
        institutions: Vec<InstitutionLine>,
    }
    let page = Page {
        chrome: Chrome::new(&state, &user, "Institutions", "institutions"),
        institutions: list
            .iter()
            .map(|i| InstitutionLine {
                slug: i.slug.clone(),
                name: i.name.clone(),
                plan: i.default_plan.clone(),
                status: i.status.to_string(),
            })
            .collect(),
    };
    Ok(state.views.page("console/institutions", &page)?)
}

/// `GET /console/institutions/{slug}`
pub async fn show_institution(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<String>,
    query: web::Query<FlashQuery>,
) -> Result<HttpResponse, PageError> {
    let slug = path.into_inner();
    let d = state.db.run(move |conn| views::institution_detail(conn, &slug)).await?;
    #[derive(Serialize)]
    struct ContactLine {
        email: String,
        name: Option<String>,
        admin: bool,
    }
    #[derive(Serialize)]
    struct Page {
        chrome: Chrome,
        slug: String,
        name: String,
        plan: String,
        status: String,
        domains: String,
        plans: Vec<Option_>,
        statuses: Vec<Option_>,
        instances: Vec<InstanceLine>,
        contacts: Vec<ContactLine>,
        tickets: Vec<TicketLine>,
        can_edit: bool,
    }
    let page = Page {
        chrome: Chrome::new(&state, &user, d.institution.name.clone(), "institutions")
            .with_flash(flash_text(query.flash.as_deref())),
        slug: d.institution.slug.clone(),
        name: d.institution.name.clone(),
        plan: d.institution.default_plan.clone(),
        status: d.institution.status.to_string(),
        domains: d.domains.join(", "),
        plans: options(state.plans.ids().iter().cloned(), &d.institution.default_plan),
        statuses: options(InstitutionStatus::ALL.iter().map(|s| s.to_string()), &d.institution.status.to_string()),
        instances: instance_lines(&d.instances),
        contacts: d
            .contacts
            .iter()
            .map(|c| ContactLine { email: c.email.clone(), name: c.name.clone(), admin: c.is_institution_admin })
            .collect(),
        tickets: ticket_lines(&state, &d.tickets),
        can_edit: user.agent.role >= Role::Manager,
    };
    Ok(state.views.page("console/institution", &page)?)
}

#[derive(Debug, Deserialize)]
pub struct InstitutionForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub default_plan: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub domains: String,
}

/// `POST /console/institutions/{slug}` (managers and admins).
pub async fn update_institution(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<String>,
    form: web::Form<InstitutionForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    user.require(Role::Manager)?;
    let slug = path.into_inner();
    let form = form.into_inner();
    let status = form
        .status
        .parse::<InstitutionStatus>()
        .map_err(|_| AppError::invalid(format!("unknown status `{}`", form.status)))?;
    let input = InstitutionInput {
        slug: slug.clone(),
        name: form.name,
        default_plan: Some(form.default_plan),
        status: Some(status),
        domains: Some(
            form.domains.split([',', ' ', '\n']).map(str::trim).filter(|d| !d.is_empty()).map(String::from).collect(),
        ),
    };
    let plans = state.plans.clone();
    let actor = user.actor();
    let slug_check = slug.clone();
    state
        .db
        .run(move |conn| {
            if institutions::by_slug(conn, &slug_check)?.is_none() {
                return Err(AppError::not_found(format!("no institution {slug_check}")));
            }
            institutions::upsert(conn, &plans, &input, actor)
        })
        .await?;
    Ok(see_other(format!("/console/institutions/{slug}?flash=saved")))
}

/// `GET /console/instances/{domain}`
pub async fn show_instance(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<String>,
    query: web::Query<FlashQuery>,
) -> Result<HttpResponse, PageError> {
    let domain = path.into_inner();
    let d = state.db.run(move |conn| views::instance_detail(conn, &domain)).await?;
    #[derive(Serialize)]
    struct Page {
        chrome: Chrome,
        domain: String,
        institution_name: String,
        institution_slug: String,
        plan: String,
        status: String,
        version: String,
        region: String,
        notes: String,
        plans: Vec<Option_>,
        statuses: Vec<Option_>,
        tickets: Vec<TicketLine>,
        can_edit: bool,
    }
    let i = &d.instance;
    let page = Page {
        chrome: Chrome::new(&state, &user, i.domain.clone(), "institutions")
            .with_flash(flash_text(query.flash.as_deref())),
        domain: i.domain.clone(),
        institution_name: d.institution.name.clone(),
        institution_slug: d.institution.slug.clone(),
        plan: i.plan.clone(),
        status: i.status.to_string(),
        version: i.mastodon_version.clone().unwrap_or_default(),
        region: i.region.clone().unwrap_or_default(),
        notes: i.notes.clone().unwrap_or_default(),
        plans: options(state.plans.ids().iter().cloned(), &i.plan),
        statuses: options(InstanceStatus::ALL.iter().map(|s| s.to_string()), &i.status.to_string()),
        tickets: ticket_lines(&state, &d.tickets),
        can_edit: user.agent.role >= Role::Manager,
    };
    Ok(state.views.page("console/instance", &page)?)
}

#[derive(Debug, Deserialize)]
pub struct InstanceForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub plan: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub notes: String,
}

/// `POST /console/instances/{domain}` (managers and admins).
pub async fn update_instance(
    state: web::Data<AppState>,
    user: AgentUser,
    path: web::Path<String>,
    form: web::Form<InstanceForm>,
) -> Result<HttpResponse, PageError> {
    user.check_csrf(&form.csrf)?;
    user.require(Role::Manager)?;
    let domain = path.into_inner();
    let form = form.into_inner();
    let status = form
        .status
        .parse::<InstanceStatus>()
        .map_err(|_| AppError::invalid(format!("unknown status `{}`", form.status)))?;
    let plans = state.plans.clone();
    let actor = user.actor();
    let target = domain.clone();
    state
        .db
        .run(move |conn| {
            let existing = instances::by_domain(conn, &target)?
                .ok_or_else(|| AppError::not_found(format!("no instance {target}")))?;
            let institution = institutions::get(conn, existing.institution_id)?;
            let input = InstanceInput {
                domain: target,
                institution_slug: institution.slug,
                plan: Some(form.plan),
                status: Some(status),
                mastodon_version: Some(form.version),
                region: Some(form.region),
                notes: Some(form.notes),
            };
            instances::upsert(conn, &plans, &input, actor)
        })
        .await?;
    Ok(see_other(format!("/console/instances/{domain}?flash=saved")))
}

#[derive(Debug, Deserialize)]
pub struct ContactsQuery {
    pub q: Option<String>,
}

/// `GET /console/contacts`
pub async fn list_contacts(
    state: web::Data<AppState>,
    user: AgentUser,
    query: web::Query<ContactsQuery>,
) -> Result<HttpResponse, PageError> {
    let needle = query.q.clone();
    let list = state.db.run(move |conn| views::contacts(conn, needle.as_deref(), 200)).await?;
    #[derive(Serialize)]
    struct ContactLine {
        email: String,
        name: Option<String>,
        admin: bool,
        blocked: bool,
    }
    #[derive(Serialize)]
    struct Page {
        chrome: Chrome,
        q: String,
        contacts: Vec<ContactLine>,
    }
    let page = Page {
        chrome: Chrome::new(&state, &user, "Contacts", "contacts"),
        q: query.q.clone().unwrap_or_default(),
        contacts: list
            .iter()
            .map(|c| ContactLine {
                email: c.email.clone(),
                name: c.name.clone(),
                admin: c.is_institution_admin,
                blocked: c.blocked,
            })
            .collect(),
    };
    Ok(state.views.page("console/contacts", &page)?)
}
