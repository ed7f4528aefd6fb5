//! Migrations: up, down, up again, on both backends; SQLite settings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestDb;
use diesel::prelude::*;

on_both_backends!(up_down_up, sqlite_pragmas, ticket_tags_text_is_filled_from_existing_tags);

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

/// Migration `…_ticket_tags_column` fills `tickets.tags` from the
/// `ticket_tags` rows of tickets that existed before it, and
/// `…_ticket_tags_order` gives those rows their ticket's updated_at and
/// status.
fn ticket_tags_text_is_filled_from_existing_tags(db: &TestDb) {
    use diesel_migrations::MigrationHarness;
    use tusk::db::AnyConnection;
    let mut conn = db.conn();
    let contact =
        tusk::domain::contacts::find_or_create(&mut conn, "ann@tags.example", Some("Ann"), tusk::domain::Actor::System)
            .unwrap();
    let make = |conn: &mut AnyConnection, n: usize, tags: &[&str]| {
        use tusk::domain::tickets::{Author, MessageInput, TicketInput};
        let first = MessageInput::new(
            tusk::db::MessageKind::Inbound,
            Author::Contact(contact.id),
            "body",
            format!("m{n}@tags.example"),
        );
        let input = TicketInput {
            subject: format!("Ticket {n}"),
            requester: contact.id,
            institution: None,
            institution_from_requester: true,
            instance: None,
            priority: tusk::db::Priority::Normal,
            category: None,
            channel: tusk::db::Channel::Email,
            status: None,
            assignee: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            triage_reason: None,
            first_message: first,
        };
        tusk::domain::tickets::create(conn, input, tusk::domain::Actor::System).unwrap().0.id
    };
    let a = make(&mut conn, 1, &["upgrade", "dns", "backup"]);
    let b = make(&mut conn, 2, &[]);
    let text = |conn: &mut AnyConnection, id: tusk::db::TicketId| -> String {
        use tusk::db::schema::tickets;
        tickets::table.find(id).select(tickets::tags).get_result(conn).unwrap()
    };
    assert_eq!(text(&mut conn, a), " backup dns upgrade ");
    // Back to before the column, then forward again.
    let revert = |conn: &mut AnyConnection| match conn {
        AnyConnection::Sqlite(c) => c.revert_last_migration(tusk::db::SQLITE_MIGRATIONS).unwrap().to_string(),
        AnyConnection::Postgresql(c) => c.revert_last_migration(tusk::db::POSTGRES_MIGRATIONS).unwrap().to_string(),
    };
    let order = revert(&mut conn);
    assert!(order.ends_with("000013"), "{order}: put this test on the tags migrations");
    let column = revert(&mut conn);
    assert!(column.ends_with("000012"), "{column}");
    assert!(diesel::sql_query("SELECT tags FROM tickets").execute(&mut *conn).is_err());
    assert!(diesel::sql_query("SELECT status FROM ticket_tags").execute(&mut *conn).is_err());
    // A ticket changed while the copies did not exist.
    diesel::sql_query("UPDATE tickets SET status = 'pending', updated_at = '2026-01-01 10:00:00'")
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(tusk::db::run_migrations(&mut conn).unwrap().len(), 2);
    assert_eq!(text(&mut conn, a), " backup dns upgrade ");
    assert_eq!(text(&mut conn, b), "");
    use tusk::db::schema::ticket_tags;
    let copies: Vec<(String, chrono::NaiveDateTime, String)> = ticket_tags::table
        .select((ticket_tags::tag, ticket_tags::updated_at, ticket_tags::status))
        .order(ticket_tags::tag)
        .load(&mut *conn)
        .unwrap();
    let at = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(10, 0, 0).unwrap();
    assert_eq!(
        copies,
        ["backup", "dns", "upgrade"].map(|t| (t.to_string(), at, "pending".to_string())).to_vec(),
        "the tag rows carry their ticket's values"
    );
}
