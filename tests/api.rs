//! JSON API v1 contract tests through actix's test server, on both backends:
//! tokens and scopes, every endpoint's answers and stored rows, and bad
//! input answered with 4xx problem JSON and nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use common::{TestDb, count};
use diesel::prelude::*;
use serde_json::{Value, json};
use tusk::config::Config;
use tusk::db::schema::{api_tokens as api_tokens_t, events, mail_outbox, tickets as tickets_t};
use tusk::db::{AnyConnection, Role};
use tusk::domain::api_tokens::{self, Scope};
use tusk::domain::{Actor, agents};
use tusk::web::errors::Problem;
use tusk::{AppState, build_app};

on_both_backends!(
    authorization,
    tickets_contract,
    ticket_list_filters_and_cursor,
    messages_contract,
    records_contract,
    bad_input_writes_nothing,
    openapi_document,
    sla_explanation,
);

fn state(db: &TestDb) -> AppState {
    let mut config = Config::defaults().unwrap();
    config.data_dir = db.dir.path().to_path_buf();
    AppState::new(config, db.db.clone()).unwrap()
}

fn token(conn: &mut AnyConnection, scopes: &[Scope]) -> String {
    api_tokens::create(conn, "test", scopes, Actor::System).unwrap().1
}

/// The id of the token with this secret.
fn token_id(conn: &mut AnyConnection, secret: &str) -> i64 {
    api_tokens_t::table
        .filter(api_tokens_t::token_hash.eq(api_tokens::hash_secret(secret)))
        .select(api_tokens_t::id)
        .first(conn)
        .unwrap()
}

fn all_scopes(conn: &mut AnyConnection) -> String {
    token(conn, Scope::ALL)
}

const TABLES: &[&str] = &[
    "tickets",
    "contacts",
    "messages",
    "events",
    "mail_outbox",
    "search_outbox",
    "institutions",
    "institution_domains",
    "instances",
    "ticket_tags",
];

fn snapshot(conn: &mut AnyConnection) -> Vec<(String, i64)> {
    TABLES.iter().map(|t| (t.to_string(), count(conn, t))).collect()
}

fn req(method: &str, uri: &str, token: Option<&str>) -> TestRequest {
    let r = match method {
        "GET" => TestRequest::get(),
        "POST" => TestRequest::post(),
        "PUT" => TestRequest::put(),
        "PATCH" => TestRequest::patch(),
        "DELETE" => TestRequest::delete(),
        _ => unreachable!(),
    }
    .uri(uri);
    match token {
        Some(t) => r.insert_header(("Authorization", format!("Bearer {t}"))),
        None => r,
    }
}

/// Sends a request: (status, content type, JSON body or null).
async fn call<S, B>(app: &S, r: TestRequest) -> (u16, String, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(app, r.to_request()).await;
    let status = res.status().as_u16();
    let ctype = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = test::read_body(res).await;
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, ctype, value)
}

/// Asserts a problem answer with this status and type.
fn problem(answer: &(u16, String, Value), status: u16, kind: &str) {
    assert_eq!(answer.0, status, "{answer:?}");
    assert_eq!(answer.1, "application/problem+json", "{answer:?}");
    let p: Problem = serde_json::from_value(answer.2.clone()).unwrap();
    assert_eq!(p.kind, format!("urn:tusk:problem:{kind}"), "{answer:?}");
    assert_eq!(p.status, status);
    assert!(!p.detail.is_empty());
}

fn new_ticket(email: &str) -> Value {
    json!({
        "subject": "Our instance is slow",
        "requester_email": email,
        "requester_name": "Ada Lovelace",
        "priority": "high",
        "body_text": "Timelines take ten seconds to load.",
        "tags": ["Performance"],
    })
}

fn seed_records(conn: &mut AnyConnection) -> tusk::db::AgentId {
    use tusk::domain::instances::{self, InstanceInput};
    use tusk::domain::institutions::{self, InstitutionInput};
    let plans = common::plans();
    institutions::upsert(
        conn,
        &plans,
        &InstitutionInput {
            slug: "uni-a".into(),
            name: "University A".into(),
            default_plan: Some("managed".into()),
            status: None,
            domains: Some(vec!["uni-a.example".into()]),
        },
        Actor::System,
    )
    .unwrap();
    instances::upsert(
        conn,
        &plans,
        &InstanceInput {
            domain: "social.uni-a.example".into(),
            institution_slug: "uni-a".into(),
            plan: Some("single".into()),
            ..Default::default()
        },
        Actor::System,
    )
    .unwrap();
    agents::create(conn, "agent@tusk.example", "Agent Smith", Role::Agent, "long password 1", Actor::System).unwrap().id
}

fn authorization(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let mut conn = db.conn();
        seed_records(&mut conn);
        let reader = token(&mut conn, &[Scope::TicketsRead]);
        let writer = token(&mut conn, &[Scope::TicketsWrite]);
        let revoked = token(&mut conn, Scope::ALL);
        let revoked_id = token_id(&mut conn, &revoked);
        api_tokens::revoke(&mut conn, revoked_id, Actor::System).unwrap();
        // Only the hash is stored.
        let stored: Vec<String> = api_tokens_t::table.select(api_tokens_t::token_hash).load(&mut *conn).unwrap();
        assert!(stored.iter().all(|h| h.len() == 64 && !h.starts_with("tusk_")));
        assert!(reader.starts_with("tusk_") && reader.len() == 5 + 64);

        let endpoints: &[(&str, &str, Option<Value>, Scope)] = &[
            ("GET", "/api/v1/tickets", None, Scope::TicketsRead),
            ("POST", "/api/v1/tickets", Some(new_ticket("ada@uni-a.example")), Scope::TicketsWrite),
            ("GET", "/api/v1/tickets/1001", None, Scope::TicketsRead),
            ("PATCH", "/api/v1/tickets/1001", Some(json!({"priority": "low"})), Scope::TicketsWrite),
            ("GET", "/api/v1/tickets/1001/messages", None, Scope::TicketsRead),
            ("GET", "/api/v1/tickets/1001/sla", None, Scope::TicketsRead),
            (
                "POST",
                "/api/v1/tickets/1001/messages",
                Some(json!({"kind": "note", "body_text": "x"})),
                Scope::TicketsWrite,
            ),
            ("GET", "/api/v1/institutions/uni-a", None, Scope::RecordsRead),
            ("PUT", "/api/v1/institutions/uni-b", Some(json!({"name": "B"})), Scope::RecordsWrite),
            ("DELETE", "/api/v1/institutions/uni-a", None, Scope::RecordsWrite),
            ("GET", "/api/v1/instances/social.uni-a.example", None, Scope::RecordsRead),
            ("PUT", "/api/v1/instances/x.uni-a.example", Some(json!({"institution": "uni-a"})), Scope::RecordsWrite),
            ("DELETE", "/api/v1/instances/social.uni-a.example", None, Scope::RecordsWrite),
        ];
        let before = snapshot(&mut conn);
        for (method, uri, body, scope) in endpoints {
            let with = |t: Option<&str>| {
                let r = req(method, uri, t);
                match body {
                    Some(b) => r.set_json(b),
                    None => r,
                }
            };
            let missing = call(&app, with(None)).await;
            problem(&missing, 401, "unauthorized");
            let invalid =
                call(&app, with(Some("tusk_0000000000000000000000000000000000000000000000000000000000000000"))).await;
            problem(&invalid, 401, "unauthorized");
            problem(&call(&app, with(Some("not-even-a-token"))).await, 401, "unauthorized");
            problem(&call(&app, with(Some(&revoked))).await, 401, "unauthorized");
            // A token with another scope: 403.
            let other = if *scope == Scope::TicketsRead { &writer } else { &reader };
            let refused = call(&app, with(Some(other))).await;
            problem(&refused, 403, "forbidden");
            assert!(refused.2["detail"].as_str().unwrap().contains(scope.as_str()), "{refused:?}");
        }
        assert_eq!(snapshot(&mut conn), before, "refused requests write nothing");
        // Who asks is checked before what is asked: a bad filter from a
        // caller without a valid token or the scope is 401 or 403, not 422.
        let bad_filter = "/api/v1/tickets?status=nonsense";
        problem(&call(&app, req("GET", bad_filter, None)).await, 401, "unauthorized");
        problem(&call(&app, req("GET", bad_filter, Some(&revoked))).await, 401, "unauthorized");
        problem(&call(&app, req("GET", bad_filter, Some(&writer))).await, 403, "forbidden");
        assert_eq!(call(&app, req("GET", bad_filter, Some(&reader))).await.0, 422);
        // The same when the extractors refuse the input, before any handler
        // logic: a query they cannot read, a number that is not one, a body
        // that is not JSON or has unknown fields.
        let bogus = "tusk_0000000000000000000000000000000000000000000000000000000000000000";
        let json = "application/json";
        let bad_inputs: [(&str, &str, &str, &str, Scope); 9] = [
            ("GET", "/api/v1/tickets?limit=many", "", "", Scope::TicketsRead),
            ("GET", "/api/v1/tickets?no_such_filter=1", "", "", Scope::TicketsRead),
            ("GET", "/api/v1/tickets/abc", "", "", Scope::TicketsRead),
            ("GET", "/api/v1/tickets/abc/messages", "", "", Scope::TicketsRead),
            ("GET", "/api/v1/search?q=x&limit=many", "", "", Scope::TicketsRead),
            ("GET", "/api/v1/reports/sla?bogus=1", "", "", Scope::ReportsRead),
            ("POST", "/api/v1/tickets", json, "{", Scope::TicketsWrite),
            ("PATCH", "/api/v1/tickets/1001", json, r#"{"colour": "red"}"#, Scope::TicketsWrite),
            ("PUT", "/api/v1/institutions/uni-z", "text/plain", "name=x", Scope::RecordsWrite),
        ];
        for (method, uri, ctype, body, scope) in bad_inputs {
            let with = |t: &str| {
                let r = req(method, uri, Some(t));
                if ctype.is_empty() { r } else { r.insert_header(("content-type", ctype)).set_payload(body) }
            };
            let other = if scope == Scope::TicketsRead { &writer } else { &reader };
            let own = token(&mut conn, &[scope]);
            assert!((400..500).contains(&call(&app, with(&own)).await.0), "{method} {uri} is bad input");
            problem(&call(&app, with(bogus)).await, 401, "unauthorized");
            problem(&call(&app, with(other)).await, 403, "forbidden");
        }
        // The process trusts a token it has just seen live for a second: a
        // revocation written by another process (here, straight into the
        // table) is not seen at once. A revocation by this process is.
        let busy = token(&mut conn, &[Scope::TicketsRead]);
        let seen = std::time::Instant::now();
        assert_eq!(call(&app, req("GET", "/api/v1/tickets", Some(&busy))).await.0, 200);
        let busy_id = token_id(&mut conn, &busy);
        diesel::update(api_tokens_t::table.find(busy_id))
            .set(api_tokens_t::revoked_at.eq(Some(tusk::db::now())))
            .execute(&mut *conn)
            .unwrap();
        let trusted = call(&app, req("GET", "/api/v1/tickets", Some(&busy))).await.0;
        if seen.elapsed() < api_tokens::LIVE_TOKEN_CACHE {
            assert_eq!(trusted, 200, "trusted without a statement");
        }
        api_tokens::revoke(&mut conn, busy_id, Actor::System).unwrap();
        problem(&call(&app, req("GET", "/api/v1/tickets", Some(&busy))).await, 401, "unauthorized");
        // The scheme header of a 401.
        let res = test::call_service(&app, req("GET", "/api/v1/tickets", None).to_request()).await;
        assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
        // The right scope passes and the use is recorded.
        let ok = call(&app, req("GET", "/api/v1/tickets", Some(&reader))).await;
        assert_eq!(ok.0, 200, "{ok:?}");
        let used: Option<chrono::NaiveDateTime> = api_tokens_t::table
            .filter(api_tokens_t::token_hash.eq(api_tokens::hash_secret(&reader)))
            .select(api_tokens_t::last_used_at)
            .first(&mut *conn)
            .unwrap();
        assert!(used.is_some());
        // The OpenAPI document needs no token.
        let doc = call(&app, req("GET", "/api/v1/openapi.json", None)).await;
        assert_eq!(doc.0, 200);
    });
}

fn tickets_contract(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let mut conn = db.conn();
        let agent = seed_records(&mut conn);
        let t = all_scopes(&mut conn);

        // Create.
        let mut body = new_ticket("Ada@Uni-A.example");
        body["instance_domain"] = json!("Social.Uni-A.example");
        let created = call(&app, req("POST", "/api/v1/tickets", Some(&t)).set_json(&body)).await;
        assert_eq!(created.0, 201, "{created:?}");
        assert_eq!(created.1, "application/json");
        let c = &created.2;
        let number = c["number"].as_i64().unwrap();
        assert_eq!(c["subject"], "Our instance is slow");
        assert_eq!(c["status"], "new");
        assert_eq!(c["priority"], "high");
        assert_eq!(c["channel"], "api");
        assert_eq!(c["requester_email"], "ada@uni-a.example");
        assert_eq!(c["requester_name"], "Ada Lovelace");
        assert_eq!(c["institution_name"], "University A");
        assert_eq!(c["instance_domain"], "social.uni-a.example");
        assert_eq!(c["plan"], "single");
        assert_eq!(c["tags"], json!(["performance"]));
        assert!(c["created_at"].as_str().unwrap().ends_with('Z'));
        // Stored rows: the ticket, its first message from the requester, events, index update.
        let row = tusk::domain::tickets::by_number(&mut conn, number).unwrap().unwrap();
        assert_eq!(row.channel, tusk::db::Channel::Api);
        let thread = tusk::domain::tickets::messages_of(&mut conn, row.id).unwrap();
        assert_eq!(thread.len(), 1);
        assert_eq!(thread[0].kind, tusk::db::MessageKind::Inbound);
        assert_eq!(thread[0].body_text, "Timelines take ten seconds to load.");
        let created_events: i64 = events::table
            .filter(events::ticket_id.eq(row.id))
            .filter(events::action.eq("ticket.created"))
            .filter(events::actor_kind.eq("api"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(created_events, 1);

        // Show.
        let shown = call(&app, req("GET", &format!("/api/v1/tickets/{number}"), Some(&t))).await;
        assert_eq!(shown.0, 200);
        assert_eq!(shown.2, created.2);
        problem(&call(&app, req("GET", "/api/v1/tickets/999999", Some(&t))).await, 404, "not-found");
        problem(&call(&app, req("GET", "/api/v1/tickets/abc", Some(&t))).await, 422, "invalid-input");

        // Update status, priority, assignee in one request: one event each.
        let patch = json!({"status": "pending", "priority": "urgent", "assignee_id": agent.0});
        let updated = call(&app, req("PATCH", &format!("/api/v1/tickets/{number}"), Some(&t)).set_json(&patch)).await;
        assert_eq!(updated.0, 200, "{updated:?}");
        assert_eq!(updated.2["status"], "pending");
        assert_eq!(updated.2["priority"], "urgent");
        assert_eq!(updated.2["assignee_name"], "Agent Smith");
        let actions: Vec<String> = events::table
            .filter(events::ticket_id.eq(row.id))
            .order(events::id.asc())
            .select(events::action)
            .load(&mut *conn)
            .unwrap();
        for a in ["ticket.status_changed", "ticket.priority_changed", "ticket.assignee_changed"] {
            assert_eq!(actions.iter().filter(|x| *x == a).count(), 1, "{a} in {actions:?}");
        }
        // Null unassigns; an absent field is left alone.
        let unassigned = call(
            &app,
            req("PATCH", &format!("/api/v1/tickets/{number}"), Some(&t)).set_json(json!({"assignee_id": null})),
        )
        .await;
        assert_eq!(unassigned.2["assignee_id"], Value::Null);
        assert_eq!(unassigned.2["priority"], "urgent");
        // Solving with notification queues the email in the same transaction.
        let solved = call(
            &app,
            req("PATCH", &format!("/api/v1/tickets/{number}"), Some(&t))
                .set_json(json!({"status": "solved", "notify_solved": true})),
        )
        .await;
        assert_eq!(solved.2["status"], "solved");
        let kinds: Vec<String> = mail_outbox::table.select(mail_outbox::kind).load(&mut *conn).unwrap();
        assert_eq!(kinds, vec!["solved"]);
        // Closed tickets refuse changes: 409, nothing written.
        let closed = call(
            &app,
            req("PATCH", &format!("/api/v1/tickets/{number}"), Some(&t)).set_json(json!({"status": "closed"})),
        )
        .await;
        assert_eq!(closed.0, 200);
        let before = snapshot(&mut conn);
        let refused = call(
            &app,
            req("PATCH", &format!("/api/v1/tickets/{number}"), Some(&t)).set_json(json!({"priority": "low"})),
        )
        .await;
        problem(&refused, 409, "conflict");
        problem(
            &call(&app, req("PATCH", "/api/v1/tickets/424242", Some(&t)).set_json(json!({"priority": "low"}))).await,
            404,
            "not-found",
        );
        assert_eq!(snapshot(&mut conn), before);
    });
}

fn ticket_list_filters_and_cursor(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let mut conn = db.conn();
        seed_records(&mut conn);
        let t = all_scopes(&mut conn);
        for i in 0..7 {
            let mut b = new_ticket(&format!("user{i}@uni-a.example"));
            b["priority"] = json!(if i % 2 == 0 { "high" } else { "low" });
            b["subject"] = json!(format!("Ticket {i}"));
            if i < 3 {
                b["instance_domain"] = json!("social.uni-a.example");
            }
            let r = call(&app, req("POST", "/api/v1/tickets", Some(&t)).set_json(&b)).await;
            assert_eq!(r.0, 201);
        }
        // Default page size is 50: everything on one page, no cursor.
        let all = call(&app, req("GET", "/api/v1/tickets", Some(&t))).await;
        assert_eq!(all.2["tickets"].as_array().unwrap().len(), 7);
        assert_eq!(all.2["next_cursor"], Value::Null);
        // Pages of 2 by number ascending, following the cursor.
        let mut numbers = Vec::new();
        let mut uri = "/api/v1/tickets?sort=number&order=asc&limit=2".to_string();
        loop {
            let page = call(&app, req("GET", &uri, Some(&t))).await;
            assert_eq!(page.0, 200, "{page:?}");
            numbers.extend(page.2["tickets"].as_array().unwrap().iter().map(|x| x["number"].as_i64().unwrap()));
            match page.2["next_cursor"].as_str() {
                Some(c) => uri = format!("/api/v1/tickets?sort=number&order=asc&limit=2&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(numbers.len(), 7);
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        // Filters.
        let high = call(&app, req("GET", "/api/v1/tickets?priority=high,urgent&status=new", Some(&t))).await;
        let high = high.2["tickets"].as_array().unwrap().clone();
        assert_eq!(high.len(), 4);
        assert!(high.iter().all(|x| x["priority"] == "high"));
        let single = call(&app, req("GET", "/api/v1/tickets?plan=single&tag=performance", Some(&t))).await;
        assert_eq!(single.2["tickets"].as_array().unwrap().len(), 3);
        let managed = call(&app, req("GET", "/api/v1/tickets?plan=managed&assignee=none", Some(&t))).await;
        assert_eq!(managed.2["tickets"].as_array().unwrap().len(), 4);
        let future = call(&app, req("GET", "/api/v1/tickets?created_from=2999-01-01T00:00:00Z", Some(&t))).await;
        assert_eq!(future.2["tickets"].as_array().unwrap().len(), 0);
        // Bad parameters: 422 problem JSON.
        for bad in [
            "status=shut",
            "status=",
            "assignee=",
            "updated_to=",
            "priority=high,meh",
            "sort=newest",
            "order=up",
            "limit=0",
            "limit=201",
            "limit=-1",
            "limit=many",
            "cursor=zz",
            "assignee=someone",
            "tag=two%20words",
            "needs_triage=maybe",
            "created_from=yesterday",
            "institution_id=x",
            "colour=red",
        ] {
            let r = call(&app, req("GET", &format!("/api/v1/tickets?{bad}"), Some(&t))).await;
            problem(&r, 422, "invalid-input");
        }
        // A cursor of another sort is refused.
        let first = call(&app, req("GET", "/api/v1/tickets?limit=2", Some(&t))).await;
        let c = first.2["next_cursor"].as_str().unwrap();
        let r = call(&app, req("GET", &format!("/api/v1/tickets?limit=2&sort=created&cursor={c}"), Some(&t))).await;
        problem(&r, 422, "invalid-input");
    });
}

fn messages_contract(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let mut conn = db.conn();
        let agent = seed_records(&mut conn);
        let t = all_scopes(&mut conn);
        let created = call(&app, req("POST", "/api/v1/tickets", Some(&t)).set_json(new_ticket("ada@uni-a.example"))).await;
        let number = created.2["number"].as_i64().unwrap();
        let uri = format!("/api/v1/tickets/{number}/messages");

        // A reply goes through the mail outbox, with the message's own Message-ID.
        let reply = call(
            &app,
            req("POST", &uri, Some(&t)).set_json(json!({"kind": "reply", "body_text": "Looking into it.", "agent_id": agent.0, "cc": ["boss@uni-a.example"]})),
        )
        .await;
        assert_eq!(reply.0, 201, "{reply:?}");
        assert_eq!(reply.2["kind"], "reply");
        assert_eq!(reply.2["author_agent_id"], agent.0);
        let outbox: Vec<(String, String, String)> = mail_outbox::table
            .select((mail_outbox::kind, mail_outbox::rfc_message_id, mail_outbox::recipients))
            .load(&mut *conn)
            .unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].0, "reply");
        assert_eq!(outbox[0].1, reply.2["message_id"].as_str().unwrap());
        assert_eq!(outbox[0].2, r#"["ada@uni-a.example","boss@uni-a.example"]"#);
        // A note is stored and not emailed.
        let note = call(&app, req("POST", &uri, Some(&t)).set_json(json!({"kind": "note", "body_text": "Internal: check the DB"}))).await;
        assert_eq!(note.0, 201, "{note:?}");
        assert_eq!(note.2["kind"], "note");
        assert_eq!(count(&mut conn, "mail_outbox"), 1);
        let thread = call(&app, req("GET", &uri, Some(&t))).await;
        assert_eq!(thread.0, 200);
        let kinds: Vec<&str> = thread.2["messages"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["inbound", "reply", "note"]);
        // The reply opened the ticket.
        let status: String = tickets_t::table.filter(tickets_t::number.eq(number)).select(tickets_t::status).first(&mut *conn).unwrap();
        assert_eq!(status, "open");

        // Refused: nothing written.
        let gone = agents::create(&mut conn, "gone@tusk.example", "Gone", Role::Agent, "long password 2", Actor::System)
            .unwrap()
            .id;
        agents::set_active(&mut conn, gone, false, Actor::System).unwrap();
        let before = snapshot(&mut conn);
        for (body, status, kind) in [
            (json!({"kind": "note", "body_text": "ghost", "agent_id": 999_999}), 422, "invalid-input"),
            (json!({"kind": "note", "body_text": "x", "agent_id": gone.0}), 403, "forbidden"),
            (json!({"kind": "reply", "body_text": "x", "agent_id": gone.0}), 403, "forbidden"),
            (json!({"kind": "reply", "body_text": "no agent"}), 422, "invalid-input"),
            (json!({"kind": "reply", "body_text": "ghost", "agent_id": 999_999}), 422, "invalid-input"),
            (json!({"kind": "reply", "body_text": "   ", "agent_id": agent.0}), 422, "invalid-input"),
            (json!({"kind": "note", "body_text": ""}), 422, "invalid-input"),
            (json!({"kind": "note", "body_text": "x", "cc": ["a@b.example"]}), 422, "invalid-input"),
            (json!({"kind": "shout", "body_text": "x"}), 422, "invalid-input"),
            (json!({"kind": "note", "body_text": "x", "internal": true}), 422, "invalid-input"),
            (json!({"kind": "note", "body_text": 5}), 422, "invalid-input"),
            (json!({"kind": "reply", "body_text": "x", "agent_id": agent.0, "cc": ["not an address"]}), 422, "invalid-input"),
        ] {
            let r = call(&app, req("POST", &uri, Some(&t)).set_json(&body)).await;
            problem(&r, status, kind);
        }
        problem(&call(&app, req("GET", "/api/v1/tickets/31337/messages", Some(&t))).await, 404, "not-found");
        problem(
            &call(&app, req("POST", "/api/v1/tickets/31337/messages", Some(&t)).set_json(json!({"kind": "note", "body_text": "x"}))).await,
            404,
            "not-found",
        );
        assert_eq!(snapshot(&mut conn), before);
            });
}

fn records_contract(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let mut conn = db.conn();
        let t = all_scopes(&mut conn);
        let put = json!({"name": "Uni Lyon", "default_plan": "managed", "domains": ["Univ-Lyon.example", "cs.univ-lyon.example"]});
        let created = call(&app, req("PUT", "/api/v1/institutions/uni-lyon", Some(&t)).set_json(&put)).await;
        assert_eq!(created.0, 201, "{created:?}");
        assert_eq!(created.2["result"], "created");
        assert_eq!(created.2["institution"]["domains"], json!(["cs.univ-lyon.example", "univ-lyon.example"]));
        assert_eq!(created.2["institution"]["status"], "active");
        let again = call(&app, req("PUT", "/api/v1/institutions/uni-lyon", Some(&t)).set_json(&put)).await;
        assert_eq!((again.0, again.2["result"].as_str()), (200, Some("unchanged")));
        let renamed = call(&app, req("PUT", "/api/v1/institutions/uni-lyon", Some(&t)).set_json(json!({"name": "Université de Lyon"}))).await;
        assert_eq!((renamed.0, renamed.2["result"].as_str()), (200, Some("updated")));
        assert_eq!(renamed.2["institution"]["default_plan"], "managed", "absent fields stay");
        let shown = call(&app, req("GET", "/api/v1/institutions/uni-lyon", Some(&t))).await;
        assert_eq!(shown.2["name"], "Université de Lyon");
        let row = tusk::domain::institutions::by_slug(&mut conn, "uni-lyon").unwrap().unwrap();
        assert_eq!(row.name, "Université de Lyon");

        // Instances, upserted by domain.
        let inst = call(
            &app,
            req("PUT", "/api/v1/instances/Social.Univ-Lyon.example", Some(&t))
                .set_json(json!({"institution": "uni-lyon", "region": "eu-west", "mastodon_version": "4.3.1"})),
        )
        .await;
        assert_eq!(inst.0, 201, "{inst:?}");
        assert_eq!(inst.2["instance"]["domain"], "social.univ-lyon.example");
        assert_eq!(inst.2["instance"]["plan"], "managed", "the institution's default plan");
        assert_eq!(inst.2["instance"]["institution"], "uni-lyon");
        let moved = call(
            &app,
            req("PUT", "/api/v1/instances/social.univ-lyon.example", Some(&t)).set_json(json!({"institution": "uni-lyon", "plan": "single", "region": ""})),
        )
        .await;
        assert_eq!(moved.2["result"], "updated");
        assert_eq!(moved.2["instance"]["plan"], "single");
        assert_eq!(moved.2["instance"]["region"], Value::Null);
        assert_eq!(moved.2["instance"]["mastodon_version"], "4.3.1");
        let stored = tusk::domain::instances::by_domain(&mut conn, "social.univ-lyon.example").unwrap().unwrap();
        assert_eq!(stored.plan, "single");
        let shown = call(&app, req("GET", "/api/v1/instances/social.univ-lyon.example", Some(&t))).await;
        assert_eq!(shown.2["plan"], "single");

        // Delete = deactivate / decommission; history stays.
        let gone = call(&app, req("DELETE", "/api/v1/instances/social.univ-lyon.example", Some(&t))).await;
        assert_eq!((gone.0, gone.2["status"].as_str()), (200, Some("decommissioned")));
        let gone = call(&app, req("DELETE", "/api/v1/institutions/uni-lyon", Some(&t))).await;
        assert_eq!((gone.0, gone.2["status"].as_str()), (200, Some("inactive")));
        let row = tusk::domain::institutions::by_slug(&mut conn, "uni-lyon").unwrap().unwrap();
        assert_eq!(row.status, tusk::db::InstitutionStatus::Inactive);
        let deactivations: i64 = events::table
            .filter(events::subject_type.eq("institution"))
            .filter(events::field.eq("status"))
            .filter(events::new_value.eq("inactive"))
            .filter(events::actor_kind.eq("api"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(deactivations, 1);
        problem(&call(&app, req("DELETE", "/api/v1/institutions/nobody", Some(&t))).await, 404, "not-found");
        problem(&call(&app, req("DELETE", "/api/v1/instances/none.example", Some(&t))).await, 404, "not-found");
        problem(&call(&app, req("GET", "/api/v1/institutions/nobody", Some(&t))).await, 404, "not-found");
        problem(&call(&app, req("GET", "/api/v1/instances/none.example", Some(&t))).await, 404, "not-found");
    });
}

fn bad_input_writes_nothing(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let st = state(db);
        let max = st.config.server.max_body_bytes;
        let app = test::init_service(build_app(st)).await;
        let mut conn = db.conn();
        seed_records(&mut conn);
        let t = all_scopes(&mut conn);
        let created = call(&app, req("POST", "/api/v1/tickets", Some(&t)).set_json(new_ticket("ada@uni-a.example"))).await;
        let number = created.2["number"].as_i64().unwrap();
        let other = call(
            &app,
            req("PUT", "/api/v1/institutions/uni-b", Some(&t)).set_json(json!({"name": "B", "domains": ["uni-b.example"]})),
        )
        .await;
        assert_eq!(other.0, 201);
        let before = snapshot(&mut conn);

        let huge = json!({"subject": "x", "requester_email": "a@uni-a.example", "body_text": "y".repeat(max + 10)});
        let cases: Vec<(&str, String, Value, u16, &str)> = vec![
            // Unknown fields.
            ("POST", "/api/v1/tickets".into(), {
                let mut b = new_ticket("new@uni-a.example");
                b["channel"] = json!("email");
                b
            }, 422, "invalid-input"),
            ("PATCH", format!("/api/v1/tickets/{number}"), json!({"status": "open", "subject": "changed"}), 422, "invalid-input"),
            ("PUT", "/api/v1/institutions/uni-c".into(), json!({"name": "C", "owner": "me"}), 422, "invalid-input"),
            ("PUT", "/api/v1/instances/c.uni-a.example".into(), json!({"institution": "uni-a", "size": 3}), 422, "invalid-input"),
            // Wrong types.
            ("POST", "/api/v1/tickets".into(), json!({"subject": 5, "requester_email": "n@uni-a.example", "body_text": "x"}), 422, "invalid-input"),
            ("POST", "/api/v1/tickets".into(), json!({"subject": "s", "requester_email": "n@uni-a.example", "body_text": "x", "tags": "a,b"}), 422, "invalid-input"),
            ("PATCH", format!("/api/v1/tickets/{number}"), json!({"priority": "critical"}), 422, "invalid-input"),
            ("PATCH", format!("/api/v1/tickets/{number}"), json!({"assignee_id": "agent"}), 422, "invalid-input"),
            ("PATCH", format!("/api/v1/tickets/{number}"), json!([1, 2]), 422, "invalid-input"),
            ("PUT", "/api/v1/institutions/uni-c".into(), json!({"name": ["C"]}), 422, "invalid-input"),
            ("PUT", "/api/v1/instances/c.uni-a.example".into(), json!({"institution": "uni-a", "status": "dead"}), 422, "invalid-input"),
            // Invalid values the domain refuses.
            ("POST", "/api/v1/tickets".into(), json!({"subject": "s", "requester_email": "not-an-address", "body_text": "x"}), 422, "invalid-input"),
            ("POST", "/api/v1/tickets".into(), json!({"subject": "  ", "requester_email": "n@uni-a.example", "body_text": "x"}), 422, "invalid-input"),
            ("POST", "/api/v1/tickets".into(), json!({"subject": "s", "requester_email": "n@uni-a.example", "body_text": "x", "instance_domain": "not a domain"}), 422, "invalid-input"),
            ("POST", "/api/v1/tickets".into(), json!({"subject": "s", "requester_email": "n@uni-a.example", "body_text": "x", "instance_domain": "unknown.example"}), 422, "invalid-input"),
            ("POST", "/api/v1/tickets".into(), json!({"subject": "s", "requester_email": "n@uni-a.example", "body_text": "x", "assignee_id": 4242}), 422, "invalid-input"),
            ("POST", "/api/v1/tickets".into(), json!({"subject": "s", "requester_email": "n@uni-a.example", "body_text": "x", "tags": ["two words"]}), 422, "invalid-input"),
            ("PATCH", format!("/api/v1/tickets/{number}"), json!({"priority": "low", "assignee_id": 4242}), 422, "invalid-input"),
            ("PUT", "/api/v1/institutions/Not%20A%20Slug".into(), json!({"name": "C"}), 422, "invalid-input"),
            ("PUT", "/api/v1/institutions/uni-c".into(), json!({"name": "C", "default_plan": "platinum"}), 422, "invalid-input"),
            ("PUT", "/api/v1/institutions/uni-c".into(), json!({"name": "C", "domains": ["ok.example", "bad domain"]}), 422, "invalid-input"),
            ("PUT", "/api/v1/institutions/uni-c".into(), json!({"name": "C", "domains": ["uni-b.example"]}), 409, "conflict"),
            ("PUT", "/api/v1/instances/localhost".into(), json!({"institution": "uni-a"}), 422, "invalid-input"),
            ("PUT", "/api/v1/instances/-bad-.example".into(), json!({"institution": "uni-a"}), 422, "invalid-input"),
            ("PUT", "/api/v1/instances/under_score.example".into(), json!({"institution": "uni-a"}), 422, "invalid-input"),
            ("PUT", "/api/v1/instances/c.uni-a.example".into(), json!({"institution": "nobody"}), 422, "invalid-input"),
            ("PUT", "/api/v1/instances/c.uni-a.example".into(), json!({"institution": "uni-a", "plan": "gold"}), 422, "invalid-input"),
            // Oversized bodies.
            ("POST", "/api/v1/tickets".into(), huge.clone(), 413, "too-large"),
            ("PUT", "/api/v1/institutions/uni-c".into(), json!({"name": "C", "domains": vec!["a.example"; max / 10]}), 413, "too-large"),
        ];
        for (method, uri, body, status, kind) in &cases {
            let r = call(&app, req(method, uri, Some(&t)).set_json(body)).await;
            problem(&r, *status, kind);
        }
        // Not JSON at all, and no content type.
        let r = call(&app, req("POST", "/api/v1/tickets", Some(&t)).insert_header(("content-type", "application/json")).set_payload("{\"subject\": ")).await;
        problem(&r, 422, "invalid-input");
        let r = call(&app, req("POST", "/api/v1/tickets", Some(&t)).set_payload("subject=x")).await;
        problem(&r, 415, "unsupported-media-type");
        let r = call(
            &app,
            req("PUT", "/api/v1/instances/a.uni-a.example", Some(&t))
                .insert_header(("content-type", "text/plain"))
                .set_payload("{}"),
        )
        .await;
        problem(&r, 415, "unsupported-media-type");
        // A known path with a method it does not take: 405, naming those it does.
        for (method, uri, allow) in [
            ("DELETE", "/api/v1/tickets", "GET, HEAD, POST"),
            ("PUT", "/api/v1/tickets/1001", "GET, HEAD, PATCH"),
            ("POST", "/api/v1/institutions/uni-a", "GET, HEAD, PUT, DELETE"),
        ] {
            let res = test::call_service(&app, req(method, uri, Some(&t)).to_request()).await;
            assert_eq!(res.headers().get("allow").map(|v| v.to_str().unwrap().to_string()).as_deref(), Some(allow));
            let status = res.status().as_u16();
            let ctype = res.headers().get("content-type").unwrap().to_str().unwrap().to_string();
            let body: Value = test::read_body_json(res).await;
            problem(&(status, ctype, body), 405, "method-not-allowed");
        }
        assert_eq!(snapshot(&mut conn), before, "nothing written by refused requests");
    });
}

fn openapi_document(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let doc = call(&app, req("GET", "/api/v1/openapi.json", None)).await;
        assert_eq!(doc.0, 200);
        assert_eq!(doc.1, "application/json");
        let d = &doc.2;
        assert!(d["openapi"].as_str().unwrap().starts_with("3."));
        let paths = d["paths"].as_object().unwrap();
        let mut listed: Vec<String> = Vec::new();
        for (path, ops) in paths {
            for method in ops.as_object().unwrap().keys().filter(|k| *k != "parameters") {
                listed.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        for expected in [
            "DELETE /api/v1/instances/{domain}",
            "DELETE /api/v1/institutions/{slug}",
            "GET /api/v1/instances/{domain}",
            "GET /api/v1/institutions/{slug}",
            "GET /api/v1/tickets",
            "GET /api/v1/tickets/{number}",
            "GET /api/v1/tickets/{number}/messages",
            "GET /api/v1/tickets/{number}/sla",
            "PATCH /api/v1/tickets/{number}",
            "POST /api/v1/tickets",
            "POST /api/v1/tickets/{number}/messages",
            "PUT /api/v1/instances/{domain}",
            "PUT /api/v1/institutions/{slug}",
        ] {
            assert!(listed.iter().any(|l| l == expected), "{expected} missing from {listed:?}");
        }
        // Request bodies refuse unknown fields, as the handlers do.
        let schemas = d["components"]["schemas"].as_object().unwrap();
        for name in
            ["CreateTicketBody", "UpdateTicketBody", "CreateMessageBody", "PutInstitutionBody", "PutInstanceBody"]
        {
            assert_eq!(schemas[name]["additionalProperties"], json!(false), "{name}");
        }
        assert_eq!(schemas["TicketStatus"]["enum"], json!(["new", "open", "pending", "on_hold", "solved", "closed"]));
        // The SLA answer's nested schemas are all defined (no dangling $ref).
        for name in
            ["TicketSlaOut", "SlaClockOut", "SlaStepOut", "SlaSegmentOut", "SlaMetric", "SlaOutcome", "SlaSegmentKind"]
        {
            assert!(schemas.contains_key(name), "{name} missing from {:?}", schemas.keys().collect::<Vec<_>>());
        }
        assert_eq!(schemas["SlaMetric"]["enum"], json!(["first_response", "next_response", "resolution"]));
        assert!(d["components"]["securitySchemes"]["bearer"].is_object());
        // Every documented query parameter of the list is accepted by the handler.
        let params: Vec<&str> = paths["/api/v1/tickets"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(params.contains(&"cursor") && params.contains(&"needs_triage") && params.len() == 17, "{params:?}");
        let mut conn = db.conn();
        let t = all_scopes(&mut conn);
        let q: Vec<String> = params
            .iter()
            .map(|p| match *p {
                "status" => "status=open".to_string(),
                "priority" => "priority=high".into(),
                "assignee" => "assignee=any".into(),
                "sort" => "sort=updated".into(),
                "order" => "order=desc".into(),
                "limit" => "limit=5".into(),
                "needs_triage" => "needs_triage=false".into(),
                "cursor" => "cursor=".into(),
                p if p.ends_with("_id") => format!("{p}=1"),
                p if p.ends_with("_from") || p.ends_with("_to") => format!("{p}=2026-01-01T00:00:00Z"),
                p => format!("{p}=x"),
            })
            .collect();
        let r = call(&app, req("GET", &format!("/api/v1/tickets?{}", q.join("&")), Some(&t))).await;
        assert_eq!(r.0, 200, "{r:?}");
    });
}

/// A ticket opened at `at` by `requester` (its institution decides the tier).
fn ticket_opened_at(
    conn: &mut AnyConnection,
    requester: tusk::db::ContactId,
    priority: tusk::db::Priority,
    at: chrono::DateTime<chrono::Utc>,
) -> tusk::db::models::Ticket {
    use tusk::domain::tickets::{self, Author, MessageInput, TicketInput};
    let mut first = MessageInput::new(
        tusk::db::MessageKind::Inbound,
        Author::Contact(requester),
        "The federation relay is down",
        format!("open{}@x", at.timestamp()),
    );
    first.at = Some(at.naive_utc());
    tickets::create(
        conn,
        TicketInput {
            subject: "Relay down".into(),
            requester,
            institution: None,
            institution_from_requester: true,
            instance: None,
            priority,
            category: None,
            channel: tusk::db::Channel::Email,
            status: None,
            assignee: None,
            tags: vec![],
            triage_reason: None,
            first_message: first,
        },
        Actor::Contact(requester),
    )
    .unwrap()
    .0
}

fn sla_explanation(db: &TestDb) {
    use chrono::{DateTime, TimeZone, Utc};
    use tusk::db::{MessageKind, Priority};
    use tusk::domain::contacts;
    use tusk::domain::tickets::{self, Author, MessageInput};
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let mut conn = db.conn();
        let agent = seed_records(&mut conn);
        let reader = token(&mut conn, &[Scope::TicketsRead]);
        let writer = token(&mut conn, &[Scope::TicketsWrite]);
        // Friday 6 March 2026 (Paris is UTC+1): an urgent ticket of the
        // managed tier (uni-a's default plan) runs around the clock, 1 h to
        // respond, 4 h to resolve.
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, 6, h, m, 0).unwrap();
        let ada = contacts::find_or_create(&mut conn, "ada@uni-a.example", None, Actor::System).unwrap();
        let ticket = ticket_opened_at(&mut conn, ada.id, Priority::Urgent, at(17, 5));
        let policies = tusk::sla::policy::SlaPolicies::from_config(&Config::defaults().unwrap()).unwrap();
        tusk::sla::store::refresh(&mut conn, &ticket, &policies, at(17, 6)).unwrap();
        let post = |conn: &mut AnyConnection, kind: MessageKind, author: Author, when: DateTime<Utc>| {
            let mut m = MessageInput::new(kind, author, "text", format!("{kind}{}@x", when.timestamp()));
            m.at = Some(when.naive_utc());
            tickets::add_message(conn, ticket.id, m, Actor::System).unwrap();
        };
        // First reply after 30 min; the customer writes again at 18:00, is
        // answered at 19:30 (30 min late), and writes again at 19:45.
        post(&mut conn, MessageKind::Reply, Author::Agent(agent), at(17, 35));
        post(&mut conn, MessageKind::Inbound, Author::Contact(ada.id), at(18, 0));
        post(&mut conn, MessageKind::Reply, Author::Agent(agent), at(19, 30));
        post(&mut conn, MessageKind::Inbound, Author::Contact(ada.id), at(19, 45));
        let uri = format!("/api/v1/tickets/{}/sla", ticket.number);

        // Refused without a token, with another scope, for no such ticket.
        problem(&call(&app, req("GET", &uri, None)).await, 401, "unauthorized");
        problem(&call(&app, req("GET", &uri, Some(&writer))).await, 403, "forbidden");
        problem(&call(&app, req("GET", "/api/v1/tickets/999999/sla", Some(&reader))).await, 404, "not-found");
        problem(&call(&app, req("GET", "/api/v1/tickets/abc/sla", Some(&reader))).await, 422, "invalid-input");

        let answer = call(&app, req("GET", &uri, Some(&reader))).await;
        assert_eq!(answer.0, 200, "{answer:?}");
        assert_eq!(answer.1, "application/json");
        let s = &answer.2;
        assert_eq!(s["number"], ticket.number);
        assert_eq!(s["tier"], "managed");
        assert_eq!(s["timezone"], "Europe/Paris");
        assert_eq!(s["paused_now"], false);
        let clocks = s["clocks"].as_array().unwrap();
        let order: Vec<(&str, i64)> =
            clocks.iter().map(|c| (c["metric"].as_str().unwrap(), c["cycle"].as_i64().unwrap())).collect();
        assert_eq!(order, vec![("first_response", 0), ("next_response", 0), ("next_response", 1), ("resolution", 0)]);
        let seg = |kind: &str, start: &str, end: &str| json!({"kind": kind, "status": null, "start": start, "end": end});

        // Met after 30 min: due 18:05 UTC had it kept running.
        let first = &clocks[0];
        assert_eq!(first["target_secs"], 3600);
        assert_eq!(first["start"], "2026-03-06T17:05:00Z");
        assert_eq!(first["stop"], "2026-03-06T17:35:00Z");
        assert_eq!(first["due_at"], "2026-03-06T18:05:00Z");
        assert_eq!(first["elapsed_business_secs"], 1800);
        assert_eq!(first["paused_secs"], 0);
        assert_eq!(first["outcome"], "met");
        assert_eq!(first["percent_used"], 50);
        assert_eq!(
            first["explanation"],
            "met Fri 06 Mar 18:35 after 30 min business time because: \
             first_response clock started Fri 06 Mar 18:05 (target 1 h business time)"
        );
        assert_eq!(
            first["steps"],
            json!([
                {"at": "2026-03-06T17:05:00Z", "text": "first_response clock started Fri 06 Mar 18:05 (target 1 h business time)"},
                {"at": "2026-03-06T17:35:00Z", "text": "met Fri 06 Mar 18:35 after 30 min business time"},
            ])
        );
        assert_eq!(first["segments"], json!([seg("running", "2026-03-06T17:05:00Z", "2026-03-06T17:35:00Z")]));

        // The first next-response cycle: due 19:00 UTC, answered 19:30.
        let next = &clocks[1];
        assert_eq!(next["target_secs"], 3600);
        assert_eq!(next["start"], "2026-03-06T18:00:00Z");
        assert_eq!(next["stop"], "2026-03-06T19:30:00Z");
        assert_eq!(next["due_at"], "2026-03-06T19:00:00Z");
        assert_eq!(next["elapsed_business_secs"], 5400);
        assert_eq!(next["outcome"], "breached");
        assert_eq!(next["percent_used"], 150);
        assert_eq!(
            next["explanation"],
            "breached: due Fri 06 Mar 20:00, stopped Fri 06 Mar 20:30 after 1 h 30 min business time because: \
             next_response clock started Fri 06 Mar 19:00 (target 1 h business time), overdue since Fri 06 Mar 20:00"
        );
        assert_eq!(
            next["segments"],
            json!([
                seg("running", "2026-03-06T18:00:00Z", "2026-03-06T19:00:00Z"),
                seg("breached", "2026-03-06T19:00:00Z", "2026-03-06T19:30:00Z"),
            ])
        );

        // The second cycle and the resolution still run, long overdue.
        let now = Utc::now();
        for (clock, start, due, explanation) in [
            (
                &clocks[2],
                "2026-03-06T19:45:00Z",
                "2026-03-06T20:45:00Z",
                "due Fri 06 Mar 21:45 because: next_response clock started Fri 06 Mar 20:45 \
                 (target 1 h business time), overdue since Fri 06 Mar 21:45",
            ),
            (
                &clocks[3],
                "2026-03-06T17:05:00Z",
                "2026-03-06T21:05:00Z",
                "due Fri 06 Mar 22:05 because: resolution clock started Fri 06 Mar 18:05 \
                 (target 4 h business time), overdue since Fri 06 Mar 22:05",
            ),
        ] {
            assert_eq!(clock["start"], start);
            assert_eq!(clock["stop"], Value::Null);
            assert_eq!(clock["due_at"], due);
            assert_eq!(clock["outcome"], "overdue");
            assert_eq!(clock["explanation"], explanation);
            let segments = clock["segments"].as_array().unwrap();
            assert_eq!(segments.len(), 2, "the status change at 17:35 does not split the running stretch");
            assert_eq!(segments[0], seg("running", start, due));
            assert_eq!((segments[1]["kind"].as_str(), segments[1]["start"].as_str()), (Some("breached"), Some(due)));
            // Around the clock: the business time is the wall-clock time up to the request.
            let end = DateTime::parse_from_rfc3339(segments[1]["end"].as_str().unwrap()).unwrap();
            assert!((now - end.with_timezone(&Utc)).num_seconds().abs() < 60, "{end} vs {now}");
            let started = DateTime::parse_from_rfc3339(start).unwrap().with_timezone(&Utc);
            let elapsed = clock["elapsed_business_secs"].as_i64().unwrap();
            assert!((elapsed - (end.with_timezone(&Utc) - started).num_seconds()).abs() <= 1, "{clock}");
            let target = clock["target_secs"].as_i64().unwrap();
            assert_eq!(clock["percent_used"].as_i64().unwrap(), elapsed * 100 / target);
        }
        assert_eq!(clocks[3]["target_secs"], 14400);
        // The stored due instant agrees.
        let row = tusk::sla::store::row_of(&mut conn, ticket.id).unwrap().unwrap();
        assert_eq!(row.resolution_due_at.map(|d| d.and_utc()), Some(at(21, 5)));

        // A ticket no policy was applied to yet: no tier, no clocks.
        let fresh = ticket_opened_at(&mut conn, ada.id, Priority::Normal, at(18, 0));
        let answer = call(&app, req("GET", &format!("/api/v1/tickets/{}/sla", fresh.number), Some(&reader))).await;
        assert_eq!(answer.0, 200, "{answer:?}");
        assert_eq!(
            answer.2,
            json!({"number": fresh.number, "tier": null, "paused_now": false, "timezone": null, "clocks": []})
        );
    });
}
