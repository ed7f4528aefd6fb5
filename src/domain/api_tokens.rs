//! API tokens: created by an administrator (`tusk admin create-token`),
//! shown once, stored as the SHA-256 of the secret, limited by scopes,
//! revocable.
//!
//! A token is `tusk_` followed by 64 hex digits (256 random bits), so a
//! plain SHA-256 is enough to store it: there is nothing to brute-force.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::Actor;
use super::events::EventRecord;
use super::validate::required_line;
use crate::db::schema::api_tokens;
use crate::db::{AnyConnection, now};
use crate::error::{AppError, AppResult};

/// Prefix of every token (lets secret scanners recognise a leaked one).
pub const TOKEN_PREFIX: &str = "tusk_";

/// `last_used_at` is written at most this often per token, so that reading
/// through the API does not turn every request into a write.
pub const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read tickets and their threads.
    TicketsRead,
    /// Open tickets, change them, add replies and notes.
    TicketsWrite,
    /// Read institutions and instances.
    RecordsRead,
    /// Create, update and deactivate institutions and instances.
    RecordsWrite,
    /// Read SLA reports.
    ReportsRead,
}

impl Scope {
    pub const ALL: &'static [Scope] =
        &[Scope::TicketsRead, Scope::TicketsWrite, Scope::RecordsRead, Scope::RecordsWrite, Scope::ReportsRead];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TicketsRead => "tickets:read",
            Scope::TicketsWrite => "tickets:write",
            Scope::RecordsRead => "records:read",
            Scope::RecordsWrite => "records:write",
            Scope::ReportsRead => "reports:read",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = AppError;
    fn from_str(s: &str) -> AppResult<Scope> {
        Scope::ALL.iter().copied().find(|x| x.as_str() == s.trim()).ok_or_else(|| {
            let known: Vec<&str> = Scope::ALL.iter().map(|x| x.as_str()).collect();
            AppError::invalid(format!("unknown scope `{}` (known: {})", s.trim(), known.join(", ")))
        })
    }
}

/// Parses `tickets:read,records:write` (commas or spaces); sorted, deduplicated, not empty.
pub fn parse_scopes(text: &str) -> AppResult<Vec<Scope>> {
    let mut scopes = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<AppResult<Vec<Scope>>>()?;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(AppError::invalid("a token needs at least one scope"));
    }
    Ok(scopes)
}

/// A stored token (without its secret, which is not stored).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiToken {
    /// The token's scopes; unknown words (from a newer version) are ignored.
    pub fn scope_list(&self) -> Vec<Scope> {
        self.scopes.split_whitespace().filter_map(|s| s.parse().ok()).collect()
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.split_whitespace().any(|s| s == scope.as_str())
    }
}

/// SHA-256 (hex) of a token secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token; returns the row and the secret, which is shown once.
pub fn create(conn: &mut AnyConnection, name: &str, scopes: &[Scope], actor: Actor) -> AppResult<(ApiToken, String)> {
    let name = required_line("name", name, 200)?;
    if scopes.is_empty() {
        return Err(AppError::invalid("a token needs at least one scope"));
    }
    let mut sorted = scopes.to_vec();
    sorted.sort();
    sorted.dedup();
    let scope_text = sorted.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
    let hash = hash_secret(&secret);
    crate::db::write_transaction(conn, |conn| {
        let at = now();
        let row: ApiToken = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::name.eq(&name),
                api_tokens::token_hash.eq(&hash),
                api_tokens::scopes.eq(&scope_text),
                api_tokens::created_at.eq(at),
            ))
            .get_result(conn)?;
        EventRecord::about("api_token", row.id, "api_token.created")
            .data(serde_json::json!({"name": row.name, "scopes": row.scopes}))
            .write(conn, actor, at)?;
        Ok((row, secret))
    })
}

/// How long this process trusts a token it found live without asking the
/// database again. A token revoked by this process stops working at once
/// ([`revoke`] forgets it); one revoked by another process (the CLI, another
/// `tusk serve`) stops working within this time.
pub const LIVE_TOKEN_CACHE: std::time::Duration = std::time::Duration::from_secs(1);

/// Tokens found live lately, by the hash of their secret, with when they
/// were read. Spares the busiest API reads one statement each. Read under a
/// shared lock (a reader preempted while holding it stalls no other).
type LiveTokens = std::collections::HashMap<String, (std::time::Instant, std::sync::Arc<ApiToken>)>;
static LIVE_TOKENS: std::sync::RwLock<Option<LiveTokens>> = std::sync::RwLock::new(None);

/// Tokens remembered at most (the map is emptied when full).
const LIVE_TOKENS_MAX: usize = 256;

/// Revocations by this process: a token read before one is not cached.
static REVOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn live_tokens_mut() -> std::sync::RwLockWriteGuard<'static, Option<LiveTokens>> {
    LIVE_TOKENS.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The live (not revoked) token with this secret, if any. Records the use
/// (at most once per [`LAST_USED_GRANULARITY_SECS`]). A token found live is
/// trusted for [`LIVE_TOKEN_CACHE`] without a statement.
pub fn authenticate(conn: &mut AnyConnection, secret: &str) -> AppResult<Option<std::sync::Arc<ApiToken>>> {
    let secret = secret.trim();
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let hash = hash_secret(secret);
    {
        let cache = LIVE_TOKENS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((read_at, token)) = cache.as_ref().and_then(|m| m.get(&hash))
            && read_at.elapsed() < LIVE_TOKEN_CACHE
        {
            return Ok(Some(token.clone()));
        }
    }
    let read_at = std::time::Instant::now();
    let revocations = REVOCATIONS.load(std::sync::atomic::Ordering::Acquire);
    // The lookup is by the hash, so its timing says nothing about the secret.
    // Every API call: a cached statement (unique key, no LIMIT).
    let Some(token) = crate::on_backend!(conn, |c| api_tokens::table
        .filter(api_tokens::token_hash.eq(&hash))
        .select(ApiToken::as_select())
        .get_result(c))
    .optional()?
    else {
        return Ok(None);
    };
    if token.revoked_at.is_some() {
        return Ok(None);
    }
    let at = now();
    let stale = token.last_used_at.is_none_or(|t| (at - t).num_seconds() >= LAST_USED_GRANULARITY_SECS);
    if stale {
        // Best effort: a busy database must not refuse a read because the
        // bookkeeping could not be written.
        if let Err(e) =
            diesel::update(api_tokens::table.find(token.id)).set(api_tokens::last_used_at.eq(at)).execute(conn)
        {
            tracing::debug!(error = %e, token = token.id, "could not record the token's last use");
        }
    }
    let token = std::sync::Arc::new(token);
    let mut cache = live_tokens_mut();
    // Under the lock, as `forget_live_tokens` counts: a revocation that
    // committed while this token was read keeps it out.
    if REVOCATIONS.load(std::sync::atomic::Ordering::Acquire) == revocations {
        let cache = cache.get_or_insert_with(Default::default);
        if cache.len() >= LIVE_TOKENS_MAX {
            cache.clear();
        }
        cache.insert(hash, (read_at, token.clone()));
    }
    Ok(Some(token))
}

/// Forgets the tokens this process trusted: the next request with any of
/// them is checked against the database, and none read before now is
/// remembered.
fn forget_live_tokens() {
    let mut cache = live_tokens_mut();
    REVOCATIONS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    *cache = None;
}

/// All tokens, newest first.
pub fn list(conn: &mut AnyConnection) -> AppResult<Vec<ApiToken>> {
    Ok(api_tokens::table.order(api_tokens::id.desc()).select(ApiToken::as_select()).load(conn)?)
}

/// Revokes a token (idempotent). It stops working at once in this process,
/// and within [`LIVE_TOKEN_CACHE`] in others.
pub fn revoke(conn: &mut AnyConnection, id: i64, actor: Actor) -> AppResult<ApiToken> {
    let revoked = revoke_inner(conn, id, actor);
    // After the commit: a request that read the token before it is not
    // cached (see `forget_live_tokens`); later reads see the revocation.
    forget_live_tokens();
    revoked
}

fn revoke_inner(conn: &mut AnyConnection, id: i64, actor: Actor) -> AppResult<ApiToken> {
    crate::db::write_transaction(conn, |conn| {
        let token = api_tokens::table
            .find(id)
            .select(ApiToken::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found(format!("API token {id} not found")))?;
        if token.revoked_at.is_some() {
            return Ok(token);
        }
        let at = now();
        let row: ApiToken =
            diesel::update(api_tokens::table.find(id)).set(api_tokens::revoked_at.eq(Some(at))).get_result(conn)?;
        EventRecord::about("api_token", id, "api_token.revoked")
            .data(serde_json::json!({"name": row.name}))
            .write(conn, actor, at)?;
        Ok(row)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse() {
        assert_eq!(
            parse_scopes("tickets:write, tickets:read,tickets:read").unwrap(),
            vec![Scope::TicketsRead, Scope::TicketsWrite]
        );
        assert!(parse_scopes("").is_err());
        assert!(parse_scopes("tickets:delete").unwrap_err().message().contains("reports:read"));
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), *s);
        }
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
