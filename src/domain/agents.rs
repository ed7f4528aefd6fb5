//! Staff accounts: argon2-hashed passwords, roles, activation.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use diesel::prelude::*;

use super::Actor;
use super::events::EventRecord;
use super::validate::{normalize_email, required_line};
use crate::db::models::{Agent, NewAgent};
use crate::db::schema::agents;
use crate::db::{AgentId, AnyConnection, Role, now};
use crate::error::{AppError, AppResult};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password failed: {e}")))
}

/// Checks `password` against a stored PHC hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Creates a staff account. The password is hashed; it is never stored.
pub fn create(
    conn: &mut AnyConnection,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
    actor: Actor,
) -> AppResult<Agent> {
    let email = normalize_email(email)?;
    let name = required_line("name", name, 200)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(format!("the password must have at least {MIN_PASSWORD_CHARS} characters")));
    }
    let hash = hash_password(password)?;
    crate::db::write_transaction(conn, |conn| {
        let at = now();
        if by_email(conn, &email)?.is_some() {
            return Err(AppError::conflict(format!("an agent with the email {email} already exists")));
        }
        let row: Agent = diesel::insert_into(agents::table)
            .values(NewAgent {
                email: &email,
                name: &name,
                role,
                password_hash: &hash,
                active: true,
                created_at: at,
                updated_at: at,
            })
            .get_result(conn)?;
        EventRecord::about("agent", row.id.0, "agent.created")
            .data(serde_json::json!({"email": row.email, "role": row.role}))
            .write(conn, actor, at)?;
        Ok(row)
    })
}

pub fn by_email(conn: &mut AnyConnection, email: &str) -> AppResult<Option<Agent>> {
    Ok(crate::on_backend!(conn, |c| agents::table
        .filter(agents::email.eq(email.trim().to_lowercase()))
        .select(Agent::as_select())
        .get_result(c))
    .optional()?)
}

pub fn get(conn: &mut AnyConnection, id: AgentId) -> AppResult<Agent> {
    crate::on_backend!(conn, |c| agents::table.find(id).select(Agent::as_select()).get_result(c))
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("agent {id} not found")))
}

/// Returns the active agent with these credentials. Takes the same time
/// whether or not the address exists, so it does not reveal accounts.
pub fn authenticate(conn: &mut AnyConnection, email: &str, password: &str) -> AppResult<Option<Agent>> {
    // A real hash, verified when there is no such agent so both paths cost the same.
    static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let agent = by_email(conn, email)?;
    match agent {
        Some(agent) if verify_password(password, &agent.password_hash) && agent.active => {
            diesel::update(agents::table.find(agent.id)).set(agents::last_login_at.eq(now())).execute(conn)?;
            Ok(Some(agent))
        }
        Some(_) => Ok(None),
        None => {
            let dummy = DUMMY_HASH.get_or_init(|| hash_password("no such agent, no such password").unwrap_or_default());
            let _ = verify_password(password, dummy);
            Ok(None)
        }
    }
}

/// Activates or deactivates an account (deactivated agents cannot sign in).
pub fn set_active(conn: &mut AnyConnection, id: AgentId, active: bool, actor: Actor) -> AppResult<Agent> {
    crate::db::write_transaction(conn, |conn| {
        let at = now();
        let current = get(conn, id)?;
        if current.active == active {
            return Ok(current);
        }
        let row: Agent = diesel::update(agents::table.find(id))
            .set((agents::active.eq(active), agents::updated_at.eq(at)))
            .get_result(conn)?;
        EventRecord::about("agent", id.0, if active { "agent.activated" } else { "agent.deactivated" })
            .change("active", Some(current.active.to_string()), Some(active.to_string()))
            .write(conn, actor, at)?;
        Ok(row)
    })
}

/// All agents by name.
pub fn list(conn: &mut AnyConnection) -> AppResult<Vec<Agent>> {
    // Every queue and ticket page: a cached statement.
    Ok(crate::on_backend!(conn, |c| agents::table.order(agents::name.asc()).select(Agent::as_select()).load(c))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
