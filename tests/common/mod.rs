//! Shared test support: a fresh database per test on each backend.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: a new database
//! created from `TUSK_TEST_POSTGRES_URL` (dropped when the test ends); when
//! that variable is unset, PostgreSQL variants print SKIPPED and return.
#![allow(dead_code)]

pub mod fixtures;
pub mod server;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use tusk::db::{AnyConnection, BackendKind, Db, DbOptions, PooledConn};

pub struct TestDb {
    pub db: Db,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("tusk.db").display());
        let db = Db::connect(&url, &DbOptions::default()).expect("connect sqlite");
        db.migrate().expect("migrate sqlite");
        TestDb { db, url, dir, pg: None }
    }

    /// A fresh PostgreSQL database, or `None` when `TUSK_TEST_POSTGRES_URL` is unset.
    pub fn postgres() -> Option<TestDb> {
        let admin = std::env::var("TUSK_TEST_POSTGRES_URL").ok()?;
        let name = format!("tusk_test_{:016x}", rand::random::<u64>());
        let mut conn = diesel::PgConnection::establish(&admin).expect("connect to TUSK_TEST_POSTGRES_URL");
        conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
        let url = with_database(&admin, &name);
        let db = Db::connect(&url, &DbOptions::default()).expect("connect postgres");
        db.migrate().expect("migrate postgres");
        let dir = tempfile::tempdir().expect("tempdir");
        Some(TestDb { db, url, dir, pg: Some((admin, name)) })
    }

    pub fn conn(&self) -> PooledConn {
        self.db.get().expect("pooled connection")
    }

    pub fn backend(&self) -> BackendKind {
        self.db.backend()
    }

    /// Drops the PostgreSQL database now (simulates the database going away).
    pub fn drop_postgres_now(&self) {
        if let Some((admin, name)) = &self.pg {
            let mut conn = diesel::PgConnection::establish(admin).expect("connect admin");
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).expect("drop");
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = diesel::PgConnection::establish(admin)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// `postgres://u@h:p/db?x` with the database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Declares `#[test]`s that run a `fn(&TestDb)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                let db = $crate::common::TestDb::sqlite();
                super::$name(&db);
            }
            #[test]
            fn postgres() {
                match $crate::common::TestDb::postgres() {
                    Some(db) => super::$name(&db),
                    None => eprintln!("SKIPPED {}::postgres: TUSK_TEST_POSTGRES_URL is not set", stringify!($name)),
                }
            }
        }
    )+};
}

/// Plans as configured by default.
pub fn plans() -> tusk::domain::Plans {
    tusk::domain::Plans::new(vec!["managed".into(), "single".into()], "single")
}

/// Counts rows of a table (by name) on any backend.
pub fn count(conn: &mut AnyConnection, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(conn).expect("count").n
}
