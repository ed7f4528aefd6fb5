//! Database access: one connection type over SQLite and PostgreSQL, a pool,
//! embedded migrations, and the helper that runs blocking database work off
//! the async executor.

/// Bytes of the SQLite file each pooled connection reads through a memory
/// map (`PRAGMA mmap_size`).
pub const SQLITE_MMAP_BYTES: u64 = 1 << 30;

/// Runs one diesel statement on the concrete connection inside an
/// [`AnyConnection`]: `on_backend!(conn, |c| query.execute(c))`.
///
/// Statements run through `AnyConnection` itself are rendered to SQL and
/// prepared again on every call (diesel's multi-connection wrapper builds the
/// SQL text to forward it); on the concrete connection a statement with a
/// static shape is prepared once per connection and reused. Hot paths (one
/// statement per inbound message, per page view) go through this.
///
/// On SQLite, a statement whose LIMIT is a bound parameter (diesel's
/// `.first()`) is compiled again on every run all the same: SQLite (3.47+)
/// plans with the bound LIMIT and so expires the plan whenever it is bound.
/// Lookups by a unique key therefore use `.get_result()` (no LIMIT) in hot
/// paths. (Building SQLite with `SQLITE_ENABLE_QPSG` would stop the
/// re-compiling, but also the LIMIT-aware plans the console's queue pages
/// need: ten times slower over a million tickets.)
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Postgresql($c) => $body,
        }
    };
}

pub mod models;
pub mod schema;
pub mod types;

use std::path::Path;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AppError;

pub use types::*;

/// A connection to either backend. Code that needs backend-specific SQL
/// matches on it, with both arms side by side.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// A parsed `database.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub kind: BackendKind,
    /// File path for SQLite, the whole URL for PostgreSQL.
    pub target: String,
}

impl DbUrl {
    /// Accepts `sqlite://PATH` and `postgres://…`/`postgresql://…` only, so a
    /// mistyped PostgreSQL URL never silently becomes a new SQLite file.
    pub fn parse(url: &str) -> Result<DbUrl, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/tusk.db".into());
            }
            Ok(DbUrl { kind: BackendKind::Sqlite, target: path.to_string() })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl { kind: BackendKind::Postgres, target: url.to_string() })
        } else {
            let scheme = url.split("://").next().unwrap_or(url);
            Err(format!("unsupported database URL scheme `{scheme}`: use sqlite://PATH or postgres://USER@HOST/DB"))
        }
    }

    /// The URL with any password replaced, for messages and logs.
    pub fn redacted(&self) -> String {
        match self.kind {
            BackendKind::Sqlite => format!("sqlite://{}", self.target),
            BackendKind::Postgres => redact_password(&self.target),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// An r2d2 manager that opens the right connection for the URL's scheme and
/// sets SQLite up for concurrent use.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DbUrl,
    sqlite_busy_timeout_ms: u32,
    sqlite_synchronous_full: bool,
    /// Checkout pings sent (see [`ALIVE_BYPASS`]).
    pings: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ConnectionManager {
    pub fn new(url: DbUrl, sqlite_busy_timeout_ms: u32, sqlite_synchronous_full: bool) -> Self {
        Self { url, sqlite_busy_timeout_ms, sqlite_synchronous_full, pings: Default::default() }
    }
}

/// How long after a connection last proved healthy it is handed out without
/// a `SELECT 1` first. A busy pool reuses each connection many times a
/// second, and the ping was a round trip per checkout (PostgreSQL); a
/// connection that failed, or whose use was not observed, is pinged at its
/// next checkout. Same idea and value as HikariCP's `aliveBypassWindowMs`.
const ALIVE_BYPASS: Duration = Duration::from_millis(500);

/// A pooled connection and when it last proved healthy: a ping, or a
/// [`Db::run`] closure that returned `Ok`.
pub struct PoolConnection {
    conn: AnyConnection,
    healthy_at: Option<Instant>,
}

impl std::ops::Deref for PoolConnection {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConnection {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = PoolConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConnection, r2d2::Error> {
        let conn = self.open()?;
        Ok(PoolConnection { conn, healthy_at: Some(Instant::now()) })
    }

    fn is_valid(&self, pooled: &mut PoolConnection) -> Result<(), r2d2::Error> {
        if pooled.healthy_at.is_some_and(|at| at.elapsed() < ALIVE_BYPASS) {
            return Ok(());
        }
        pooled.healthy_at = None;
        self.pings.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        pooled.conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)?;
        pooled.healthy_at = Some(Instant::now());
        Ok(())
    }

    fn has_broken(&self, _conn: &mut PoolConnection) -> bool {
        false
    }
}

impl ConnectionManager {
    fn open(&self) -> Result<AnyConnection, r2d2::Error> {
        match self.url.kind {
            BackendKind::Sqlite => {
                let mut conn =
                    diesel::SqliteConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // Reads go through a memory map (no copy per page read) and
                // each connection keeps 16 MiB of pages: list and ticket
                // pages over a million tickets read many index pages.
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA synchronous = {}; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES}; PRAGMA cache_size = -16384;",
                    self.sqlite_busy_timeout_ms,
                    if self.sqlite_synchronous_full { "FULL" } else { "NORMAL" }
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
            BackendKind::Postgres => {
                let mut conn =
                    diesel::PgConnection::establish(&self.url.target).map_err(r2d2::Error::ConnectionError)?;
                // Explicit JOINs are planned in the order they are written
                // (`join_collapse_limit = 1`): every query Tusk joins three or
                // more tables in is written to start from the table it
                // filters and sorts, then look rows up by primary key, and
                // searching other join orders took the ticket list's planning
                // from 0.5 to 1.2 ms, longer than running it.
                //
                // Prepared statements keep PostgreSQL's default plan caching
                // (`plan_cache_mode = auto`): after five runs a statement
                // whose generic plan is as good runs without planning, and
                // planning is most of the database's work on a page (0.2 to
                // 0.3 ms per statement, against 0.02 ms to run one). A
                // generic plan lasts until the next ANALYZE of its tables,
                // which autovacuum runs as they grow; bulk imports, which
                // outrun it, plan every execution (see `tusk ingest`).
                conn.batch_execute("SET TIME ZONE 'UTC'; SET join_collapse_limit = 1")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Postgresql(conn))
            }
        }
    }
}

pub type DbPool = Pool<ConnectionManager>;
/// A connection checked out of the pool by blocking code ([`Db::get`]).
pub struct PooledConn(PooledConnection<ConnectionManager>);

impl std::ops::Deref for PooledConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.0.conn
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.0.conn
    }
}

/// The pool plus what callers need to know about the backend.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    url: DbUrl,
    /// One permit per pooled connection, handed out first come, first
    /// served to [`Db::run`] callers: they queue on the async side, in
    /// order, rather than as blocking threads woken in no particular order
    /// by the pool (under load, that order decided the slowest pages).
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    pings: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Settings for [`Db::connect`].
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub pool_size: u32,
    pub connect_timeout: Duration,
    pub sqlite_busy_timeout_ms: u32,
    /// `PRAGMA synchronous = FULL` (durable at each commit) rather than NORMAL.
    pub sqlite_synchronous_full: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            sqlite_busy_timeout_ms: 5000,
            sqlite_synchronous_full: true,
        }
    }
}

impl Db {
    /// Opens a pool; fails with a clear message when the database cannot be
    /// reached within the connect timeout.
    pub fn connect(url: &str, options: &DbOptions) -> anyhow::Result<Db> {
        let url = DbUrl::parse(url).map_err(|e| anyhow::anyhow!("database.url: {e}"))?;
        if url.kind == BackendKind::Sqlite {
            prepare_sqlite_file(&url.target, options.sqlite_busy_timeout_ms)?;
        }
        let manager =
            ConnectionManager::new(url.clone(), options.sqlite_busy_timeout_ms, options.sqlite_synchronous_full);
        let pings = manager.pings.clone();
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .connection_timeout(options.connect_timeout)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build(manager)
            .map_err(|e| anyhow::anyhow!("cannot connect to the database at {}: {e}", url.redacted()))?;
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(options.pool_size as usize));
        Ok(Db { pool, url, permits, pings })
    }

    pub fn backend(&self) -> BackendKind {
        self.url.kind
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// A pooled connection for blocking code (CLI commands, workers' blocking
    /// sections). Async code uses [`Db::run`] instead.
    pub fn get(&self) -> Result<PooledConn, AppError> {
        let mut conn = self.pool.get().map_err(AppError::from)?;
        // Its use is not observed: pinged again at its next checkout.
        conn.healthy_at = None;
        Ok(PooledConn(conn))
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. The
    /// connection is taken inside the closure, never on the async worker, and
    /// is never held across an `.await`.
    pub async fn run<F, T>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("database permits closed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool.get().map_err(AppError::from)?;
            let result = f(&mut conn.conn);
            match &result {
                Ok(_) => conn.healthy_at = Some(Instant::now()),
                // The failure may have been the connection's own: pinged
                // before its next use.
                Err(e)
                    if matches!(e.kind, crate::error::ErrorKind::Internal | crate::error::ErrorKind::Unavailable) =>
                {
                    conn.healthy_at = None
                }
                // Refused input (maybe before any statement ran): unchanged.
                Err(_) => {}
            }
            result
        })
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("database task failed: {e}")))?
    }

    /// Checkout pings sent so far.
    pub fn pings(&self) -> u64 {
        self.pings.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections currently open and idle in the pool.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Applies pending migrations; returns the versions applied.
    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.pool.get()?;
        run_migrations(&mut conn)
    }
}

/// Creates the SQLite file's directory and switches the database to WAL once
/// (the setting is persistent, so pooled connections need not repeat it).
fn prepare_sqlite_file(path: &str, busy_timeout_ms: u32) -> anyhow::Result<()> {
    if path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("cannot create the directory {} for the database: {e}", parent.display()))?;
    }
    let mut conn = diesel::SqliteConnection::establish(path)
        .map_err(|e| anyhow::anyhow!("cannot open the SQLite database {path}: {e}"))?;
    conn.batch_execute(&format!("PRAGMA busy_timeout = {busy_timeout_ms}; PRAGMA journal_mode = WAL;"))
        .map_err(|e| anyhow::anyhow!("cannot set up the SQLite database {path}: {e}"))?;
    Ok(())
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock that serialises concurrent migrators
/// (several `tusk serve` starting at once).
const MIGRATION_LOCK_KEY: i64 = 0x0074_7573_6b6d_6967; // "tuskmig"

/// Applies pending migrations on whichever backend `conn` is.
pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<Vec<String>> {
    fn owned<E: std::fmt::Display>(
        result: Result<Vec<diesel::migration::MigrationVersion<'_>>, E>,
    ) -> anyhow::Result<Vec<String>> {
        result
            .map(|versions| versions.into_iter().map(|v| v.to_string()).collect())
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))
    }
    match conn {
        AnyConnection::Sqlite(c) => owned(c.run_pending_migrations(SQLITE_MIGRATIONS)),
        AnyConnection::Postgresql(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = owned(c.run_pending_migrations(POSTGRES_MIGRATIONS));
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result
        }
    }
}

/// Reverts every applied migration (tests of the down scripts).
pub fn revert_all_migrations(conn: &mut AnyConnection) -> anyhow::Result<()> {
    match conn {
        AnyConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        AnyConnection::Postgresql(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    }
    .map_err(|e| anyhow::anyhow!("reverting migrations failed: {e}"))
}

/// Runs `f` in a transaction that writes. On SQLite the outermost one
/// starts with `BEGIN IMMEDIATE`, taking the write lock up front: a deferred
/// transaction that reads and then writes fails at once with "database is
/// locked" when another connection writes meanwhile, whatever the busy
/// timeout. Nested calls become savepoints, as with `Connection::transaction`.
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let result = write_transaction_inner(conn, f);
    if result.is_ok() {
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Release);
    }
    result
}

/// [`write_transaction`], run once more in a new transaction when the first
/// failed on a unique key. That is a lost race between two "find, else
/// insert" writers (two `PUT`s of one new slug at once): PostgreSQL's read
/// committed let both find nothing, and the second run finds the first's
/// row. A unique violation the second run meets too is returned. Only for a
/// call made outside any transaction (a failed statement aborts an enclosing
/// one on PostgreSQL).
pub fn write_transaction_retrying_unique<T, F>(conn: &mut AnyConnection, f: F) -> crate::AppResult<T>
where
    F: Fn(&mut AnyConnection) -> crate::AppResult<T>,
{
    match write_transaction(conn, &f) {
        Err(e) if is_unique_violation(&e) => {
            tracing::debug!(error = ?e, "lost a race on a unique key; running the transaction again");
            write_transaction(conn, &f)
        }
        other => other,
    }
}

fn is_unique_violation(e: &crate::AppError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        e.cause().and_then(|c| c.downcast_ref::<Error>()),
        Some(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
    )
}

/// Write transactions committed by this process (savepoints included).
static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A number that changes whenever this process commits a
/// [`write_transaction`]: read models cached in memory (the console's queue
/// counts) are dropped when it moves. Writes of other processes are not
/// seen; such caches also expire with time.
pub fn write_generation() -> u64 {
    WRITES.load(std::sync::atomic::Ordering::Acquire)
}

fn write_transaction_inner<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let outermost_sqlite = match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?.is_none()
        }
        AnyConnection::Postgresql(_) => false,
    };
    if !outermost_sqlite {
        return conn.transaction(f);
    }
    if let AnyConnection::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    match f(conn) {
        Ok(value) => {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                tracing::error!(error = %rollback, "rolling back a failed transaction failed");
            }
            Err(e)
        }
    }
}

/// `'a', 'b', …`: SQL string literals for an `IN (…)` list of names the
/// code chooses (stored enum texts), for the few statements written as SQL
/// text. Quotes are doubled, so a literal can never end early.
pub fn sql_literals<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(|n| format!("'{}'", n.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}

/// A query kept in the connection's prepared-statement cache under its SQL
/// text, with its LIMIT (if any) written as a literal.
///
/// diesel never caches a statement that contains an SQL fragment (`sql(…)`,
/// `sql_query`) or an `IN` list, because such text may be built from
/// anything; it prepares and finalizes those on every call. Wrap a query in
/// this only when its SQL comes from a small fixed set of shapes chosen by
/// code (which filters are present, enum names), never from caller text:
/// every distinct text stays prepared for the connection's lifetime. The
/// LIMIT is literal because SQLite re-compiles a statement whose LIMIT is a
/// bound parameter on every run (see [`on_backend!`]); it also gives SQLite
/// the LIMIT-aware plan. Run it on the concrete connection ([`on_backend!`]):
/// through `AnyConnection` nothing is cached.
#[derive(Debug, Clone)]
pub struct Reused<Q> {
    query: Q,
    limit: Option<u32>,
}

/// `(SELECT $n)`: a bound value the planner cannot look at, so that
/// PostgreSQL estimates a statement as it would its generic plan and keeps
/// that plan instead of planning each run for the values. Use it for values
/// that would not change the plan (a keyset cursor: the sort's index is
/// walked whatever its position).
pub fn opaque<ST, T>(value: T) -> Opaque<ST, T> {
    Opaque { value, sql_type: std::marker::PhantomData }
}

/// See [`opaque`].
#[derive(Debug, Clone, Copy)]
pub struct Opaque<ST, T> {
    value: T,
    sql_type: std::marker::PhantomData<ST>,
}

impl<ST, T> diesel::expression::Expression for Opaque<ST, T>
where
    ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
{
    type SqlType = ST;
}

impl<ST, T, QS> diesel::expression::AppearsOnTable<QS> for Opaque<ST, T> where Self: diesel::expression::Expression {}

impl<ST, T, QS> diesel::expression::SelectableExpression<QS> for Opaque<ST, T> where Self: diesel::expression::Expression
{}

impl<ST, T> diesel::expression::ValidGrouping<()> for Opaque<ST, T> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<ST, T, DB> diesel::query_builder::QueryFragment<DB> for Opaque<ST, T>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<ST>,
    T: diesel::serialize::ToSql<ST, DB>,
{
    fn walk_ast<'b>(&'b self, mut pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        pass.push_sql("(SELECT ");
        pass.push_bind_param::<ST, T>(&self.value)?;
        pass.push_sql(")");
        Ok(())
    }
}

impl<ST, T> diesel::query_builder::QueryId for Opaque<ST, T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// `column = ANY (ARRAY(query LIMIT limit))` on PostgreSQL (`column IN
/// (query LIMIT limit)` on SQLite, whose planner needs no such help): a filter by the
/// first `limit` rows of a subquery, which may name the outer query's
/// tables (its own shadow them). The subquery runs once, before the outer
/// query, whose scan of `column`'s table then looks its rows up by index.
/// (As `IN (…)` it would be joined as a semi-join, and with
/// `join_collapse_limit = 1` after all the query's other joins.) The LIMIT
/// is literal: a bound one would leave the generic plan guessing at it.
pub fn in_first<Q>(column: &'static str, query: Q, limit: u32) -> InFirst<Q> {
    InFirst { column, query, limit }
}

/// See [`in_first`].
#[derive(Debug, Clone)]
pub struct InFirst<Q> {
    column: &'static str,
    query: Q,
    limit: u32,
}

impl<Q> diesel::expression::Expression for InFirst<Q> {
    type SqlType = diesel::sql_types::Bool;
}

impl<Q, QS> diesel::expression::AppearsOnTable<QS> for InFirst<Q> {}

impl<Q, QS> diesel::expression::SelectableExpression<QS> for InFirst<Q> {}

impl<Q> diesel::expression::ValidGrouping<()> for InFirst<Q> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<Q> diesel::query_builder::QueryFragment<diesel::pg::Pg> for InFirst<Q>
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(&'b self, mut pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        pass.push_sql(self.column);
        pass.push_sql(" = ANY (ARRAY(");
        self.query.walk_ast(pass.reborrow())?;
        pass.push_sql(&format!(" LIMIT {}))", self.limit));
        Ok(())
    }
}

impl<Q> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for InFirst<Q>
where
    Q: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>,
{
    fn walk_ast<'b>(
        &'b self,
        mut pass: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        pass.push_sql(self.column);
        pass.push_sql(" IN (");
        self.query.walk_ast(pass.reborrow())?;
        pass.push_sql(&format!(" LIMIT {})", self.limit));
        Ok(())
    }
}

impl<Q> diesel::query_builder::QueryId for InFirst<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// `query.into_boxed()` for the backend of `conn`: boxed queries built
/// inside [`on_backend!`] name their backend this way.
pub fn boxed_for<'a, C, Q>(_conn: &C, query: Q) -> Q::Output
where
    C: Connection,
    Q: diesel::query_dsl::methods::BoxedDsl<'a, C::Backend>,
{
    query.internal_into_boxed()
}

/// `query` for the statement cache; see [`Reused`].
pub fn reused<Q>(query: Q) -> Reused<Q> {
    Reused { query, limit: None }
}

/// `query … LIMIT limit` for the statement cache; `query` must not have a
/// LIMIT of its own. See [`Reused`].
pub fn reused_limit<Q>(query: Q, limit: u32) -> Reused<Q> {
    Reused { query, limit: Some(limit) }
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Reused<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(pass.reborrow())?;
        if let Some(limit) = self.limit {
            pass.push_sql(&format!(" LIMIT {limit}"));
        }
        Ok(())
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for Reused<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Reused<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Reused<Q> {}

/// The current UTC time, truncated to microseconds so that it round-trips
/// exactly through both backends.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    truncate_micros(now)
}

/// Truncates a timestamp to whole microseconds (the precision both backends store).
pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1000).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_literals_are_quoted_and_escaped() {
        assert_eq!(sql_literals(["new", "on_hold"]), "'new', 'on_hold'");
        assert_eq!(sql_literals(["it's"]), "'it''s'");
        assert_eq!(sql_literals([]), "");
    }

    #[test]
    fn url_schemes() {
        assert_eq!(DbUrl::parse("sqlite://data/tusk.db").unwrap().kind, BackendKind::Sqlite);
        assert_eq!(DbUrl::parse("sqlite://data/tusk.db").unwrap().target, "data/tusk.db");
        assert_eq!(DbUrl::parse("postgres://a@b/c").unwrap().kind, BackendKind::Postgres);
        assert_eq!(DbUrl::parse("postgresql://a@b/c").unwrap().kind, BackendKind::Postgres);
        assert!(DbUrl::parse("postgress://a@b/c").unwrap_err().contains("postgress"));
        assert!(DbUrl::parse("data/tusk.db").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let url = DbUrl::parse("postgres://tusk:hunter2@db:5432/tusk").unwrap();
        assert_eq!(url.redacted(), "postgres://tusk:***@db:5432/tusk");
        let url = DbUrl::parse("postgres://tusk@db/tusk").unwrap();
        assert_eq!(url.redacted(), "postgres://tusk@db/tusk");
    }

    #[test]
    fn a_connection_is_pinged_unless_it_proved_healthy_just_now() {
        let manager = ConnectionManager::new(DbUrl::parse("sqlite://:memory:").unwrap(), 1000, false);
        let mut pooled = manager.connect().unwrap();
        let fresh = pooled.healthy_at.unwrap();
        // Within the window: handed out as is.
        manager.is_valid(&mut pooled).unwrap();
        assert_eq!(pooled.healthy_at, Some(fresh));
        // Past the window, or after an unobserved or failed use: pinged.
        pooled.healthy_at = Some(fresh - ALIVE_BYPASS);
        manager.is_valid(&mut pooled).unwrap();
        assert!(pooled.healthy_at.unwrap() > fresh - ALIVE_BYPASS);
        pooled.healthy_at = None;
        manager.is_valid(&mut pooled).unwrap();
        assert!(pooled.healthy_at.is_some());
    }

    #[test]
    fn run_records_the_outcome_and_get_forgets_it() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let db = Db::connect("sqlite://:memory:", &DbOptions { pool_size: 1, ..DbOptions::default() }).unwrap();
        let ok = |db: &Db| rt.block_on(db.run(|_| Ok(()))).unwrap();
        ok(&db);
        let pings = db.pings();
        ok(&db);
        assert_eq!(db.pings(), pings, "used successfully just now: not pinged");
        rt.block_on(db.run(|_| Err::<(), _>(AppError::invalid("no")))).unwrap_err();
        ok(&db);
        assert_eq!(db.pings(), pings, "refused input says nothing about the connection");
        rt.block_on(db.run(|_| Err::<(), _>(AppError::internal(anyhow::anyhow!("lost"))))).unwrap_err();
        ok(&db);
        assert_eq!(db.pings(), pings + 1, "a failed closure leaves the connection to be pinged");
        drop(db.get().unwrap());
        ok(&db);
        assert_eq!(db.pings(), pings + 2, "a blocking checkout's use is not observed");
    }

    #[test]
    fn migration_folders_match() {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let sqlite = names("migrations/sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names("migrations/postgres"));
    }
}
