//! Business rules and transactions. Every function here is synchronous,
//! takes `&mut AnyConnection`, runs its writes in one transaction, and writes
//! the audit event and any outbox rows inside that same transaction. No HTTP,
//! no SMTP, no search engine.

pub mod agents;
pub mod api_ops;
pub mod api_tokens;
pub mod contacts;
pub mod events;
pub mod instances;
pub mod institutions;
pub mod intake;
pub mod mail_queue;
pub mod merge;
pub mod outbox;
pub mod portal;
pub mod replies;
pub mod sessions;
pub mod ticket_query;
pub mod ticket_update;
pub mod tickets;
pub mod validate;
pub mod views;

use crate::config::Config;
use crate::db::{ActorKind, AgentId, ContactId};

/// Who is making a change; recorded on every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Tusk itself (workers, mail intake, imports run by an operator).
    System,
    Agent(AgentId),
    Contact(ContactId),
    /// An API token, by its id.
    Api(i64),
}

impl Actor {
    pub fn kind(self) -> ActorKind {
        match self {
            Actor::System => ActorKind::System,
            Actor::Agent(_) => ActorKind::Agent,
            Actor::Contact(_) => ActorKind::Contact,
            Actor::Api(_) => ActorKind::Api,
        }
    }

    pub fn id(self) -> Option<i64> {
        match self {
            Actor::System => None,
            Actor::Agent(id) => Some(id.0),
            Actor::Contact(id) => Some(id.0),
            Actor::Api(id) => Some(id),
        }
    }
}

/// The plan tiers an operator sells, as configured in `[plans]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans {
    ids: Vec<String>,
    default: String,
}

impl Plans {
    pub fn new(ids: Vec<String>, default: impl Into<String>) -> Self {
        Self { ids, default: default.into() }
    }

    pub fn from_config(config: &Config) -> Self {
        Self::new(config.plan_ids(), config.support.default_plan.clone())
    }

    /// The id given, checked; or the default tier when none is given.
    pub fn resolve(&self, plan: Option<&str>) -> crate::AppResult<String> {
        match plan.map(str::trim).filter(|p| !p.is_empty()) {
            None => Ok(self.default.clone()),
            Some(p) if self.ids.iter().any(|id| id == p) => Ok(p.to_string()),
            Some(p) => {
                Err(crate::AppError::invalid(format!("unknown plan tier `{p}` (known: {})", self.ids.join(", "))))
            }
        }
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }
}

/// Whether a write created a row, changed it, or found it already as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

/// Plan tiers referenced by institutions or instances, sorted; `tusk serve`
/// refuses to start when one of them is no longer configured.
pub fn plans_in_use(conn: &mut crate::db::AnyConnection) -> crate::AppResult<Vec<String>> {
    use crate::db::schema::{instances, institutions};
    use diesel::prelude::*;
    let mut plans: Vec<String> = institutions::table.select(institutions::default_plan).distinct().load(conn)?;
    plans.extend(instances::table.select(instances::plan).distinct().load::<String>(conn)?);
    plans.sort();
    plans.dedup();
    Ok(plans)
}
