//! Browser sessions (console agents and portal contacts) and the sign-in
//! attempt log behind login rate limiting.
//!
//! The session cookie carries a random 256-bit token; the database keeps only
//! its SHA-256, so reading the table does not let anyone sign in. Each session
//! has its own CSRF synchronizer token that every form must echo.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::models::Agent;
use crate::db::schema::{agents, login_attempts, web_sessions};
use crate::db::{AnyConnection, now};
use crate::error::AppResult;

/// Who a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Agent(i64),
    Contact(i64),
}

impl Principal {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Principal::Agent(id) => ("agent", id),
            Principal::Contact(id) => ("contact", id),
        }
    }
}

/// A live session as loaded for a request.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub principal: Principal,
    pub csrf_token: String,
    pub expires_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = web_sessions)]
struct SessionRow {
    id: i64,
    principal_kind: String,
    principal_id: i64,
    csrf_token: String,
    expires_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
}

/// A fresh random token, 64 hex characters.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// SHA-256 of a token, hex; what the database stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Starts a session; returns the cookie token (shown once) and the session.
pub fn create(conn: &mut AnyConnection, principal: Principal, ttl: Duration) -> AppResult<(String, Session)> {
    let token = random_token();
    let csrf = random_token();
    let at = now();
    let (kind, pid) = principal.parts();
    let id = diesel::insert_into(web_sessions::table)
        .values((
            web_sessions::token_hash.eq(token_hash(&token)),
            web_sessions::principal_kind.eq(kind),
            web_sessions::principal_id.eq(pid),
            web_sessions::csrf_token.eq(&csrf),
            web_sessions::created_at.eq(at),
            web_sessions::last_seen_at.eq(at),
            web_sessions::expires_at.eq(at + ttl),
        ))
        .returning(web_sessions::id)
        .get_result::<i64>(conn)?;
    Ok((token, Session { id, principal, csrf_token: csrf, expires_at: at + ttl, last_seen_at: at }))
}

/// The live session of a cookie token, if any. Sliding expiry: a session
/// seen again more than a minute after its last use is extended by `ttl`.
pub fn lookup(conn: &mut AnyConnection, token: &str, ttl: Duration) -> AppResult<Option<Session>> {
    if !well_formed(token) {
        return Ok(None);
    }
    let at = now();
    let hash = token_hash(token);
    // A cached statement (unique key, no LIMIT).
    let row = crate::on_backend!(conn, |c| web_sessions::table
        .filter(web_sessions::token_hash.eq(&hash))
        .filter(web_sessions::expires_at.gt(at))
        .select(SessionRow::as_select())
        .get_result(c))
    .optional()?;
    match row {
        Some(row) => refreshed(conn, row, at, ttl),
        None => Ok(None),
    }
}

/// [`lookup`] for the console: the live session of an agent's token with
/// its agent, in one statement (every console page view).
pub fn lookup_agent(conn: &mut AnyConnection, token: &str, ttl: Duration) -> AppResult<Option<(Session, Agent)>> {
    if !well_formed(token) {
        return Ok(None);
    }
    let at = now();
    let hash = token_hash(token);
    let row = crate::on_backend!(conn, |c| web_sessions::table
        .inner_join(agents::table.on(agents::id.eq(web_sessions::principal_id)))
        .filter(web_sessions::token_hash.eq(&hash))
        .filter(web_sessions::expires_at.gt(at))
        .filter(web_sessions::principal_kind.eq("agent"))
        .select((SessionRow::as_select(), Agent::as_select()))
        .get_result::<(SessionRow, Agent)>(c))
    .optional()?;
    let Some((row, agent)) = row else { return Ok(None) };
    Ok(refreshed(conn, row, at, ttl)?.map(|session| (session, agent)))
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The session of a live row, extended by `ttl` when last seen more than a
/// minute ago.
fn refreshed(
    conn: &mut AnyConnection,
    row: SessionRow,
    at: NaiveDateTime,
    ttl: Duration,
) -> AppResult<Option<Session>> {
    let principal = match row.principal_kind.as_str() {
        "agent" => Principal::Agent(row.principal_id),
        "contact" => Principal::Contact(row.principal_id),
        _ => return Ok(None),
    };
    let mut session = Session {
        id: row.id,
        principal,
        csrf_token: row.csrf_token,
        expires_at: row.expires_at,
        last_seen_at: row.last_seen_at,
    };
    if at - session.last_seen_at > Duration::minutes(1) {
        session.expires_at = at + ttl;
        session.last_seen_at = at;
        diesel::update(web_sessions::table.filter(web_sessions::id.eq(session.id)))
            .set((web_sessions::last_seen_at.eq(at), web_sessions::expires_at.eq(at + ttl)))
            .execute(conn)?;
    }
    Ok(Some(session))
}

/// Ends one session (sign-out).
pub fn delete(conn: &mut AnyConnection, token: &str) -> AppResult<()> {
    diesel::delete(web_sessions::table.filter(web_sessions::token_hash.eq(token_hash(token)))).execute(conn)?;
    Ok(())
}

/// Ends every session of a principal (deactivated agent, blocked contact).
pub fn delete_all_of(conn: &mut AnyConnection, principal: Principal) -> AppResult<usize> {
    let (kind, pid) = principal.parts();
    Ok(diesel::delete(
        web_sessions::table.filter(web_sessions::principal_kind.eq(kind)).filter(web_sessions::principal_id.eq(pid)),
    )
    .execute(conn)?)
}

/// Drops expired sessions and attempts older than a day.
pub fn purge_expired(conn: &mut AnyConnection) -> AppResult<usize> {
    let at = now();
    let sessions = diesel::delete(web_sessions::table.filter(web_sessions::expires_at.le(at))).execute(conn)?;
    let attempts = diesel::delete(login_attempts::table.filter(login_attempts::created_at.lt(at - Duration::days(1))))
        .execute(conn)?;
    Ok(sessions + attempts)
}

/// Records a sign-in attempt under each key (e.g. `email:…` and `ip:…`).
pub fn record_attempt(conn: &mut AnyConnection, keys: &[String], succeeded: bool) -> AppResult<()> {
    let at = now();
    for key in keys {
        diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::attempt_key.eq(key),
                login_attempts::succeeded.eq(succeeded),
                login_attempts::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Failed attempts under `key` since `since`.
pub fn failures_since(conn: &mut AnyConnection, key: &str, since: NaiveDateTime) -> AppResult<i64> {
    Ok(login_attempts::table
        .filter(login_attempts::attempt_key.eq(key))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::created_at.ge(since))
        .count()
        .get_result(conn)?)
}

/// Sign-in rate limits.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub max_failures_per_email: u32,
    pub max_failures_per_ip: u32,
    pub window: Duration,
    pub session_ttl: Duration,
}

/// How a sign-in attempt ended.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the cookie token and the session.
    Ok { token: String, session: Session, agent: Box<crate::db::models::Agent> },
    /// Wrong address or password (the same answer for both).
    Refused,
    /// Too many failures for this address or client; nothing was checked.
    RateLimited,
}

/// Signs an agent in: refuses without checking the password once the
/// address or the client has too many recent failures, records the attempt
/// under both keys, and opens a session on success.
pub fn sign_in_agent(
    conn: &mut AnyConnection,
    email: &str,
    password: &str,
    client_ip: &str,
    limits: LoginLimits,
) -> AppResult<SignIn> {
    let email = email.trim().to_lowercase();
    let keys = [format!("email:{email}"), format!("ip:{client_ip}")];
    let since = now() - limits.window;
    if failures_since(conn, &keys[0], since)? >= i64::from(limits.max_failures_per_email)
        || failures_since(conn, &keys[1], since)? >= i64::from(limits.max_failures_per_ip)
    {
        return Ok(SignIn::RateLimited);
    }
    let agent = super::agents::authenticate(conn, &email, password)?;
    record_attempt(conn, &keys, agent.is_some())?;
    let Some(agent) = agent else { return Ok(SignIn::Refused) };
    let (token, session) = create(conn, Principal::Agent(agent.id.0), limits.session_ttl)?;
    Ok(SignIn::Ok { token, session, agent: Box::new(agent) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_hashes_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(token_hash(&a), a);
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
