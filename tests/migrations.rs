//! Migrations: up, down, up again, on both backends; SQLite settings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestDb;
use diesel::prelude::*;

on_both_backends!(up_down_up, sqlite_pragmas);

fn up_down_up(db: &TestDb) {
    let mut conn = db.conn();
    assert_eq!(common::count(&mut conn, "tickets"), 0);
    tusk::db::revert_all_migrations(&mut conn).unwrap();
    assert!(diesel::sql_query("SELECT COUNT(*) FROM tickets").execute(&mut *conn).is_err(), "tables gone after down");
    let applied = tusk::db::run_migrations(&mut conn).unwrap();
    assert!(!applied.is_empty());
    assert_eq!(common::count(&mut conn, "counters"), 1);
    assert!(tusk::db::run_migrations(&mut conn).unwrap().is_empty(), "idempotent");
}

fn sqlite_pragmas(db: &TestDb) {
    if db.backend() != tusk::db::BackendKind::Sqlite {
        return;
    }
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    #[derive(QueryableByName)]
    struct Fk {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        foreign_keys: i32,
    }
    #[derive(QueryableByName)]
    struct Busy {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        timeout: i32,
    }
    let mut conn = db.conn();
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode").get_result(&mut *conn).unwrap();
    assert_eq!(mode.journal_mode, "wal");
    let fk: Fk = diesel::sql_query("PRAGMA foreign_keys").get_result(&mut *conn).unwrap();
    assert_eq!(fk.foreign_keys, 1);
    let busy: Busy = diesel::sql_query("PRAGMA busy_timeout").get_result(&mut *conn).unwrap();
    assert_eq!(busy.timeout, 5000);
    #[derive(QueryableByName)]
    struct Sync {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }
    let sync: Sync = diesel::sql_query("PRAGMA synchronous").get_result(&mut *conn).unwrap();
    assert_eq!(sync.synchronous, 2, "FULL: an acknowledged message survives a power cut");
}
