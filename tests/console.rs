//! The agent console through actix's test server, on both backends:
//! sign-in, sessions, CSRF, roles on every route, and each action's effect
//! in the database and its event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use common::TestDb;
use common::fixtures::{self, PASSWORD, World};
use diesel::prelude::*;
use tusk::config::Config;
use tusk::db::schema::{events, mail_outbox, messages, tickets};
use tusk::{AppState, build_app};

on_both_backends!(
    every_route_needs_a_session,
    sign_in_sessions_and_rate_limit,
    roles_are_enforced,
    forms_without_csrf_are_refused,
    reply_note_and_changes,
    merge_and_relink,
    ticket_page_is_safe,
    queues_filters_and_pages,
    records_and_quarantine,
    search_page,
);

fn state(db: &TestDb) -> AppState {
    let mut config = Config::defaults().unwrap();
    config.data_dir = db.dir.path().to_path_buf();
    AppState::new(config, db.db.clone()).unwrap()
}

/// Every console route, with a method and a concrete path.
fn routes(w: &World) -> Vec<(&'static str, String)> {
    let n = w.lyon.ticket.number;
    let slug = &w.lyon.institution.slug;
    let domain = &w.lyon.instance.domain;
    vec![
        ("GET", "/console".into()),
        ("GET", "/console/tickets".into()),
        ("GET", format!("/console/tickets/{n}")),
        ("POST", format!("/console/tickets/{n}")),
        ("POST", format!("/console/tickets/{n}/reply")),
        ("POST", format!("/console/tickets/{n}/notes")),
        ("POST", format!("/console/tickets/{n}/merge")),
        ("GET", "/console/attachments/1".into()),
        ("GET", "/console/institutions".into()),
        ("GET", format!("/console/institutions/{slug}")),
        ("POST", format!("/console/institutions/{slug}")),
        ("GET", format!("/console/instances/{domain}")),
        ("POST", format!("/console/instances/{domain}")),
        ("GET", "/console/contacts".into()),
        ("GET", "/console/admin/agents".into()),
        ("POST", "/console/admin/agents".into()),
        ("POST", format!("/console/admin/agents/{}/active", w.agent.id.0)),
        ("GET", "/console/admin/quarantine".into()),
        ("GET", "/console/admin/quarantine/1".into()),
        ("GET", "/console/admin/quarantine/1/raw".into()),
        ("POST", "/console/admin/quarantine/1/retry".into()),
        ("POST", "/console/admin/quarantine/1/discard".into()),
        ("POST", "/console/logout".into()),
    ]
}

fn request(method: &str, path: &str) -> test::TestRequest {
    match method {
        "GET" => test::TestRequest::get().uri(path),
        _ => test::TestRequest::post().uri(path).insert_header(("content-type", "application/x-www-form-urlencoded")),
    }
}

async fn body_text<B: MessageBody>(res: ServiceResponse<B>) -> String {
    String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
}

/// Decodes the entities handlebars writes into attribute values.
fn unescape(text: &str) -> String {
    text.replace("&#x3D;", "=")
        .replace("&#x2F;", "/")
        .replace("&#x60;", "`")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with _csrf");
    let rest = &html[at + 20..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A signed-in browser: the session cookie and the session's CSRF token.
struct Browser {
    session: String,
    csrf: String,
}

async fn sign_in<S, B>(app: &S, email: &str, password: &str) -> Result<Browser, u16>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, test::TestRequest::get().uri("/console/login").to_request()).await;
    assert_eq!(res.status(), 200);
    let pre = res.response().cookies().find(|c| c.name() == "tusk_csrf").expect("csrf cookie").value().to_string();
    let page = body_text(res).await;
    let token = hidden_csrf(&page);
    assert_eq!(token, pre, "double-submit token");
    let form = format!(
        "_csrf={token}&email={}&password={}&next=%2Fconsole%2Ftickets%3Fqueue%3Dall",
        email.replace('@', "%40"),
        password.replace(' ', "+")
    );
    let res = test::call_service(
        app,
        test::TestRequest::post()
            .uri("/console/login")
            .cookie(Cookie::new("tusk_csrf", pre))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form)
            .to_request(),
    )
    .await;
    if res.status() != 303 {
        return Err(res.status().as_u16());
    }
    assert_eq!(res.headers().get("location").unwrap(), "/console/tickets?queue=all");
    let cookie = res.response().cookies().find(|c| c.name() == "tusk_session").expect("session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(actix_web::cookie::SameSite::Lax));
    let session = cookie.value().to_string();
    let res = test::call_service(
        app,
        test::TestRequest::get()
            .uri("/console/contacts")
            .cookie(Cookie::new("tusk_session", session.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let csrf = hidden_csrf(&body_text(res).await);
    Ok(Browser { session, csrf })
}

impl Browser {
    fn get(&self, path: &str) -> actix_http::Request {
        test::TestRequest::get().uri(path).cookie(Cookie::new("tusk_session", self.session.clone())).to_request()
    }
    fn post(&self, path: &str, form: &str) -> actix_http::Request {
        self.post_with_token(path, form, &self.csrf)
    }
    fn post_with_token(&self, path: &str, form: &str, token: &str) -> actix_http::Request {
        let body = if form.is_empty() { format!("_csrf={token}") } else { format!("_csrf={token}&{form}") };
        test::TestRequest::post()
            .uri(path)
            .cookie(Cookie::new("tusk_session", self.session.clone()))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body)
            .to_request()
    }
}

fn every_route_needs_a_session(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        for (method, path) in routes(&w) {
            let res = test::call_service(&app, request(method, &path).to_request()).await;
            assert_eq!(res.status(), 303, "{method} {path} without a session");
            let location = res.headers().get("location").unwrap().to_str().unwrap();
            assert!(location.starts_with("/console/login"), "{method} {path} -> {location}");
            // A forged or stale cookie is no better.
            let res = test::call_service(
                &app,
                request(method, &path).cookie(Cookie::new("tusk_session", "0".repeat(64))).to_request(),
            )
            .await;
            assert_eq!(res.status(), 303, "{method} {path} with a bogus session");
        }
        // GET keeps where the agent wanted to go.
        let res = test::call_service(&app, request("GET", "/console/tickets/7").to_request()).await;
        assert_eq!(res.headers().get("location").unwrap(), "/console/login?next=/console/tickets/7");
    });
}

fn sign_in_sessions_and_rate_limit(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        assert_eq!(sign_in(&app, "agent@tusk.example", "wrong password!").await.err(), Some(401));
        let browser = sign_in(&app, "AGENT@tusk.example", PASSWORD).await.unwrap();
        // The database holds only the hash of the cookie token.
        let stored: Vec<String> = tusk::db::schema::web_sessions::table
            .select(tusk::db::schema::web_sessions::token_hash)
            .load(&mut *db.conn())
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], browser.session);
        assert_eq!(stored[0], tusk::domain::sessions::token_hash(&browser.session));
        // The login form refuses a missing double-submit cookie.
        let res = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/console/login")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(format!("_csrf={}&email=agent%40tusk.example&password=x", "a".repeat(64)))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 403);
        // Sign-out ends the session server-side.
        let res = test::call_service(&app, browser.post("/console/logout", "")).await;
        assert_eq!(res.status(), 303);
        let res = test::call_service(&app, browser.get("/console/tickets")).await;
        assert_eq!(res.status(), 303, "the old cookie no longer works");
        // Five failures lock the address out, even with the right password.
        for _ in 0..5 {
            assert_eq!(sign_in(&app, "manager@tusk.example", "not the password").await.err(), Some(401));
        }
        assert_eq!(sign_in(&app, "manager@tusk.example", PASSWORD).await.err(), Some(429));
        // Another address is not affected.
        assert!(sign_in(&app, "admin@tusk.example", PASSWORD).await.is_ok());
        // A deactivated agent's sessions end.
        let agent = sign_in(&app, "agent@tusk.example", PASSWORD).await.unwrap();
        let admin = sign_in(&app, "admin@tusk.example", PASSWORD).await.unwrap();
        let res =
            test::call_service(&app, admin.post(&format!("/console/admin/agents/{}/active", w.agent.id.0), "active=0"))
                .await;
        assert_eq!(res.status(), 303);
        let res = test::call_service(&app, agent.get("/console/tickets")).await;
        assert_eq!(res.status(), 303);
        assert_eq!(sign_in(&app, "agent@tusk.example", PASSWORD).await.err(), Some(401));
        let deactivated: Vec<String> = events::table
            .filter(events::subject_type.eq("agent"))
            .select(events::action)
            .load(&mut *db.conn())
            .unwrap();
        assert!(deactivated.iter().any(|a| a.contains("deactivated") || a.contains("active")), "{deactivated:?}");
    });
}

fn roles_are_enforced(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let agent = sign_in(&app, "agent@tusk.example", PASSWORD).await.unwrap();
        let manager = sign_in(&app, "manager@tusk.example", PASSWORD).await.unwrap();
        let admin_only = [
            ("GET", "/console/admin/agents".to_string()),
            ("POST", "/console/admin/agents".to_string()),
            ("POST", format!("/console/admin/agents/{}/active", w.agent.id.0)),
            ("GET", "/console/admin/quarantine".to_string()),
            ("GET", "/console/admin/quarantine/1".to_string()),
            ("GET", "/console/admin/quarantine/1/raw".to_string()),
            ("POST", "/console/admin/quarantine/1/retry".to_string()),
            ("POST", "/console/admin/quarantine/1/discard".to_string()),
        ];
        for browser in [&agent, &manager] {
            for (method, path) in &admin_only {
                let req = if *method == "GET" {
                    browser.get(path)
                } else {
                    browser.post(path, "email=x%40y.example&name=X&role=admin&password=0123456789ab&active=0")
                };
                let res = test::call_service(&app, req).await;
                assert_eq!(res.status(), 403, "{method} {path}");
                let page = body_text(res).await;
                assert!(page.contains("403 Forbidden"), "{page}");
                assert!(!page.contains("Ada Admin"), "no data on a refused page");
            }
        }
        // Record edits are for managers and admins.
        let slug = &w.lyon.institution.slug;
        let form = "name=Renamed&default_plan=single&status=active&domains=univ-lyon.example";
        let res = test::call_service(&app, agent.post(&format!("/console/institutions/{slug}"), form)).await;
        assert_eq!(res.status(), 403);
        let res = test::call_service(&app, manager.post(&format!("/console/institutions/{slug}"), form)).await;
        assert_eq!(res.status(), 303);
        let name: String = tusk::db::schema::institutions::table
            .filter(tusk::db::schema::institutions::slug.eq(slug))
            .select(tusk::db::schema::institutions::name)
            .first(&mut *db.conn())
            .unwrap();
        assert_eq!(name, "Renamed");
        // No agent was created by the refused posts.
        assert_eq!(common::count(&mut db.conn(), "agents"), 3);
        // The agents page does not even show the nav entries to a plain agent.
        let res = test::call_service(&app, agent.get("/console/tickets")).await;
        let page = body_text(res).await;
        assert!(!page.contains("/console/admin/agents"));
    });
}

fn forms_without_csrf_are_refused(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let admin = sign_in(&app, "admin@tusk.example", PASSWORD).await.unwrap();
        let other = sign_in(&app, "manager@tusk.example", PASSWORD).await.unwrap();
        let before_messages = common::count(&mut db.conn(), "messages");
        let before_events = common::count(&mut db.conn(), "events");
        let n = w.lyon.ticket.number;
        for (path, form) in [
            (format!("/console/tickets/{n}/reply"), "body=hello"),
            (format!("/console/tickets/{n}/notes"), "body=hello"),
            (format!("/console/tickets/{n}"), "status=solved"),
            (format!("/console/tickets/{n}/merge"), "duplicate=2"),
            ("/console/admin/agents".to_string(), "email=x%40y.example&name=X&role=admin&password=0123456789ab"),
        ] {
            for token in ["", "0000", other.csrf.as_str()] {
                let res = test::call_service(&app, admin.post_with_token(&path, form, token)).await;
                assert_eq!(res.status(), 403, "{path} with token {token:?}");
            }
        }
        assert_eq!(common::count(&mut db.conn(), "messages"), before_messages, "nothing written");
        assert_eq!(common::count(&mut db.conn(), "events"), before_events, "nothing written");
        assert_eq!(common::count(&mut db.conn(), "agents"), 3);
    });
}

fn reply_note_and_changes(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let agent = sign_in(&app, "agent@tusk.example", PASSWORD).await.unwrap();
        let n = w.lyon.ticket.number;
        let id = w.lyon.ticket.id;

        // Reply: a message, an outbox row with the same Message-ID, an event.
        let res = test::call_service(
            &app,
            agent.post(
                &format!("/console/tickets/{n}/reply"),
                "body=We+restarted+the+relay+worker.&then_status=pending",
            ),
        )
        .await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            res.headers().get("location").unwrap().to_str().unwrap(),
            format!("/console/tickets/{n}?flash=replied")
        );
        let mut conn = db.conn();
        let (kind, body, rfc): (String, String, String) = messages::table
            .filter(messages::ticket_id.eq(id))
            .order(messages::id.desc())
            .select((messages::kind, messages::body_text, messages::message_id))
            .first(&mut *conn)
            .unwrap();
        assert_eq!(kind, "reply");
        assert_eq!(body, "We restarted the relay worker.");
        let (outbox_kind, recipients): (String, String) = mail_outbox::table
            .filter(mail_outbox::rfc_message_id.eq(&rfc))
            .select((mail_outbox::kind, mail_outbox::recipients))
            .first(&mut *conn)
            .unwrap();
        assert_eq!(outbox_kind, "reply");
        assert!(recipients.contains("staff@univ-lyon.example"));
        let status: String = tickets::table.find(id).select(tickets::status).first(&mut *conn).unwrap();
        assert_eq!(status, "pending", "send and set pending");

        // The thread shows the reply and its delivery state.
        let page =
            body_text(test::call_service(&app, agent.get(&format!("/console/tickets/{n}?flash=replied"))).await).await;
        assert!(page.contains("We restarted the relay worker."));
        assert!(page.contains("email queued"), "delivery state shown");
        assert!(page.contains("Reply queued for sending."));

        // Internal note: a note, no email.
        let outbox_before = common::count(&mut conn, "mail_outbox");
        let res =
            test::call_service(&app, agent.post(&format!("/console/tickets/{n}/notes"), "body=Customer+is+on+4.3"))
                .await;
        assert_eq!(res.status(), 303);
        let kind: String = messages::table
            .filter(messages::ticket_id.eq(id))
            .order(messages::id.desc())
            .select(messages::kind)
            .first(&mut *conn)
            .unwrap();
        assert_eq!(kind, "note");
        assert_eq!(common::count(&mut conn, "mail_outbox"), outbox_before, "a note is never emailed");
        let page = body_text(test::call_service(&app, agent.get(&format!("/console/tickets/{n}"))).await).await;
        assert!(page.contains("entry entry-note"), "notes are visually distinct");

        // Status, priority, assignee, tags in one form, each with its event.
        let form = format!(
            "status=open&priority=urgent&assignee={}&tags=relay%2C+federation&instance={}",
            w.manager.id.0, w.lyon.instance.id.0
        );
        let res = test::call_service(&app, agent.post(&format!("/console/tickets/{n}"), &form)).await;
        assert_eq!(res.status(), 303);
        let (status, priority, assignee): (String, String, Option<i64>) = tickets::table
            .find(id)
            .select((tickets::status, tickets::priority, tickets::assignee_id))
            .first(&mut *conn)
            .unwrap();
        assert_eq!((status.as_str(), priority.as_str(), assignee), ("open", "urgent", Some(w.manager.id.0)));
        let actions: Vec<(String, Option<i64>)> = events::table
            .filter(events::ticket_id.eq(id))
            .select((events::action, events::actor_id))
            .load(&mut *conn)
            .unwrap();
        for wanted in
            ["ticket.status_changed", "ticket.priority_changed", "ticket.assignee_changed", "ticket.tags_changed"]
        {
            assert!(
                actions.iter().any(|(a, actor)| a == wanted && *actor == Some(w.agent.id.0)),
                "{wanted} by the agent in {actions:?}"
            );
        }
        assert_eq!(tusk::domain::tickets::tags_of(&mut conn, id).unwrap(), vec!["federation", "relay"]);
        // The SLA clock was re-applied in the same transaction: no waiting
        // for the evaluator's next pass.
        let (sla_priority, first_response_secs): (String, Option<i64>) = tusk::db::schema::ticket_sla::table
            .find(id)
            .select((
                tusk::db::schema::ticket_sla::priority,
                tusk::db::schema::ticket_sla::first_response_business_secs,
            ))
            .first(&mut *conn)
            .unwrap();
        assert_eq!(sla_priority, "urgent");
        assert!(first_response_secs.is_some(), "the reply was measured as the first response");

        // Solve with notification: the "solved" email is queued.
        let res =
            test::call_service(&app, agent.post(&format!("/console/tickets/{n}"), "status=solved&notify=1")).await;
        assert_eq!(res.status(), 303);
        let kinds: Vec<String> = mail_outbox::table
            .filter(mail_outbox::ticket_id.eq(id))
            .select(mail_outbox::kind)
            .load(&mut *conn)
            .unwrap();
        assert!(kinds.contains(&"solved".to_string()), "{kinds:?}");

        // Bad input: a clear error, nothing changed.
        let res = test::call_service(&app, agent.post(&format!("/console/tickets/{n}"), "priority=whenever")).await;
        assert_eq!(res.status(), 422);
        let page = body_text(res).await;
        assert!(page.contains("unknown priority"), "{page}");
        let res = test::call_service(&app, agent.post(&format!("/console/tickets/{n}/reply"), "body=+++")).await;
        assert_eq!(res.status(), 422);
        let res = test::call_service(&app, agent.get("/console/tickets/999999")).await;
        assert_eq!(res.status(), 404);
    });
}

fn merge_and_relink(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let dup = fixtures::ticket(&mut db.conn(), &w.lyon.customer, None, "Relay down?", "Is the relay down again?");
    // The duplicate came from a signed-out web form.
    tusk::domain::events::EventRecord::ticket(dup.id, tusk::domain::portal::UNVERIFIED_SENDER)
        .data(serde_json::json!({ "email": "lea.martin@univ-lyon.example", "signed_in_as_another": false }))
        .write(&mut db.conn(), tusk::domain::Actor::System, tusk::db::now())
        .unwrap();
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let agent = sign_in(&app, "agent@tusk.example", PASSWORD).await.unwrap();
        let n = w.lyon.ticket.number;
        let res = test::call_service(
            &app,
            agent.post(&format!("/console/tickets/{n}/merge"), &format!("duplicate=%23{}", dup.number)),
        )
        .await;
        assert_eq!(res.status(), 303);
        let mut conn = db.conn();
        let (merged_into, status): (Option<i64>, String) =
            tickets::table.find(dup.id).select((tickets::merged_into_id, tickets::status)).first(&mut *conn).unwrap();
        assert_eq!(merged_into, Some(w.lyon.ticket.id.0));
        assert_eq!(status, "closed");
        let moved: i64 =
            messages::table.filter(messages::ticket_id.eq(w.lyon.ticket.id)).count().get_result(&mut *conn).unwrap();
        assert_eq!(moved, 2, "the duplicate's message joined the thread");
        let merged_events: i64 =
            events::table.filter(events::action.eq("ticket.merged")).count().get_result(&mut *conn).unwrap();
        assert_eq!(merged_events, 1);
        let page = body_text(test::call_service(&app, agent.get(&format!("/console/tickets/{n}"))).await).await;
        assert!(page.contains("Is the relay down again?"));
        assert!(page.contains("id=\"sender-unverified\""), "the warning follows the merged messages");
        // Merging across institutions or twice is refused, nothing written.
        let res = test::call_service(
            &app,
            agent.post(&format!("/console/tickets/{n}/merge"), &format!("duplicate={}", w.oslo.ticket.number)),
        )
        .await;
        assert_eq!(res.status(), 422);
        // A ticket of no institution is no exception: either way, the
        // target's customers would read the other's thread.
        let loner = tusk::domain::contacts::find_or_create(
            &mut conn,
            "someone@elsewhere.example",
            None,
            tusk::domain::Actor::System,
        )
        .unwrap();
        assert_eq!(loner.institution_id, None);
        let stray = fixtures::ticket(&mut conn, &loner, None, "Hello", "A stranger's question");
        for (target, duplicate) in [(n, stray.number), (stray.number, n)] {
            let res = test::call_service(
                &app,
                agent.post(&format!("/console/tickets/{target}/merge"), &format!("duplicate={duplicate}")),
            )
            .await;
            assert_eq!(res.status(), 422, "#{duplicate} into #{target}");
        }
        // Two tickets of no institution: only when they share the requester.
        let other = tusk::domain::contacts::find_or_create(
            &mut conn,
            "other@elsewhere.example",
            None,
            tusk::domain::Actor::System,
        )
        .unwrap();
        let stranger = fixtures::ticket(&mut conn, &other, None, "Hi", "Another stranger's question");
        let res = test::call_service(
            &app,
            agent.post(&format!("/console/tickets/{}/merge", stray.number), &format!("duplicate={}", stranger.number)),
        )
        .await;
        assert_eq!(res.status(), 422, "different requesters of no institution");
        let on_stray: i64 =
            messages::table.filter(messages::ticket_id.eq(stray.id)).count().get_result(&mut *conn).unwrap();
        assert_eq!(on_stray, 1, "nothing moved");
        let again = fixtures::ticket(&mut conn, &loner, None, "Hello again", "The same stranger, again");
        let res = test::call_service(
            &app,
            agent.post(&format!("/console/tickets/{}/merge", stray.number), &format!("duplicate={}", again.number)),
        )
        .await;
        assert_eq!(res.status(), 303, "the same requester of no institution");
        let res = test::call_service(
            &app,
            agent.post(&format!("/console/tickets/{n}/merge"), &format!("duplicate={}", dup.number)),
        )
        .await;
        assert_eq!(res.status(), 409);
        // Linking an instance of another institution is refused.
        let res = test::call_service(
            &app,
            agent.post(&format!("/console/tickets/{n}"), &format!("instance={}", w.oslo.instance.id.0)),
        )
        .await;
        assert_eq!(res.status(), 422);
        let instance: Option<i64> =
            tickets::table.find(w.lyon.ticket.id).select(tickets::instance_id).first(&mut *conn).unwrap();
        assert_eq!(instance, Some(w.lyon.instance.id.0));
    });
}

fn ticket_page_is_safe(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let mut conn = db.conn();
    // A customer email with script tags, event handlers and javascript: links,
    // stored as intake stores it (raw HTML + ammonia-sanitized HTML).
    let evil = r#"<p>Hello <script>alert('x')</script><img src=x onerror="alert(1)"><a href="javascript:alert(2)">click</a><iframe src="https://evil.example"></iframe></p>"#;
    let sanitized = ammonia::clean(evil);
    let mut input = tusk::domain::tickets::MessageInput::new(
        tusk::db::MessageKind::Inbound,
        tusk::domain::tickets::Author::Contact(w.lyon.customer.id),
        "Hello",
        "evil-1@univ-lyon.example",
    );
    input.body_html = Some(evil.into());
    input.body_html_sanitized = Some(sanitized);
    tusk::domain::tickets::add_message(
        &mut conn,
        w.lyon.ticket.id,
        input,
        tusk::domain::Actor::Contact(w.lyon.customer.id),
    )
    .unwrap();
    // A web form sent signed out (see tusk::domain::portal::open_web_ticket),
    // with an address that is markup.
    tusk::domain::events::EventRecord::ticket(w.lyon.ticket.id, tusk::domain::portal::UNVERIFIED_SENDER)
        .data(serde_json::json!({ "email": "<b>x</b>@univ-lyon.example", "signed_in_as_another": false }))
        .write(&mut conn, tusk::domain::Actor::Contact(w.lyon.customer.id), tusk::db::now())
        .unwrap();
    drop(conn);
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let agent = sign_in(&app, "agent@tusk.example", PASSWORD).await.unwrap();
        let other =
            body_text(test::call_service(&app, agent.get(&format!("/console/tickets/{}", w.oslo.ticket.number))).await)
                .await;
        assert!(!other.contains("sender-unverified"), "only the ticket with the event: {other}");
        let res = test::call_service(&app, agent.get(&format!("/console/tickets/{}", w.lyon.ticket.number))).await;
        assert_eq!(res.status(), 200);
        let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap().to_string();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
        let page = body_text(res).await;
        let thread = &page[page.find("<ol class=\"entries\">").unwrap()..page.find("</ol>").unwrap()];
        assert!(thread.contains("Hello"));
        assert!(!thread.contains("<script"), "{thread}");
        assert!(!thread.contains("onerror"), "{thread}");
        assert!(!thread.contains("javascript:"), "{thread}");
        assert!(!thread.contains("<iframe"), "{thread}");
        // The unverified sender is a notice above the thread, escaped.
        let notice = &page[page.find("id=\"sender-unverified\"").expect("the notice")..];
        let notice = &notice[..notice.find("</p>").unwrap()];
        assert!(notice.contains("not signed in as &lt;b&gt;x&lt;/b&gt;@univ-lyon.example"), "{notice}");
        assert!(!thread.contains("sender_unverified"), "not repeated in the timeline: {thread}");
        // The side panel shows institution, instance, plan and version.
        assert!(page.contains("Université de Lyon"));
        assert!(page.contains("social.univ-lyon.example"));
        assert!(page.contains("All-in-One Managed"));
        assert!(page.contains("Mastodon 4.3.2"));
    });
}

fn queues_filters_and_pages(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let mut conn = db.conn();
    let questions: Vec<_> = (0..60)
        .map(|i| {
            fixtures::ticket(
                &mut conn,
                &w.oslo.customer,
                Some(&w.oslo.instance),
                &format!("Question number {i}"),
                "Hello",
            )
        })
        .collect();
    tusk::domain::tickets::assign(&mut conn, w.lyon.ticket.id, Some(w.agent.id), tusk::domain::Actor::System).unwrap();
    tusk::domain::tickets::change_status(
        &mut conn,
        w.oslo.ticket.id,
        tusk::db::TicketStatus::Pending,
        tusk::domain::Actor::System,
    )
    .unwrap();
    drop(conn);
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let agent = sign_in(&app, "agent@tusk.example", PASSWORD).await.unwrap();
        let mine = body_text(test::call_service(&app, agent.get("/console/tickets?queue=mine")).await).await;
        assert!(mine.contains("Federation relay stopped"));
        assert!(!mine.contains("Question number"));
        assert!(mine.contains("My open tickets <span class=\"count\">1</span>"), "{mine}");
        assert!(mine.contains("Unassigned <span class=\"count\">60</span>"));
        assert!(mine.contains("Pending <span class=\"count\">1</span>"));
        // The counts are reused between page views, but never after a change
        // this process made: the agent sees their own assignment at once.
        tusk::domain::tickets::assign(&mut db.conn(), questions[0].id, Some(w.agent.id), tusk::domain::Actor::System)
            .unwrap();
        let mine = body_text(test::call_service(&app, agent.get("/console/tickets?queue=mine")).await).await;
        assert!(mine.contains("My open tickets <span class=\"count\">2</span>"), "{mine}");
        assert!(mine.contains("Unassigned <span class=\"count\">59</span>"), "{mine}");
        let pending = body_text(test::call_service(&app, agent.get("/console/tickets?queue=pending")).await).await;
        assert!(pending.contains("Invoice question"));
        assert!(!pending.contains("Federation relay stopped"));
        // All: 62 tickets, 50 per page, keyset "next" link, then the rest.
        let all =
            body_text(test::call_service(&app, agent.get("/console/tickets?queue=all&sort=number&dir=asc")).await)
                .await;
        assert_eq!(all.matches("><td><a href=\"/console/tickets/").count(), 50);
        // The assignee filter lists agents by name.
        let agent_option = format!("<option value=\"{}\">{}</option>", w.agent.id.0, w.agent.name);
        assert!(all.contains(&agent_option), "{all}");
        assert!(all.contains("<option value=\"none\">unassigned</option>"));
        let at = all.find("rel=\"next\"").map(|_| all.find("<nav class=\"pager\">").unwrap()).expect("a next page");
        let next = &all[at..];
        let href = &next[next.find("href=\"").unwrap() + 6..];
        let href = unescape(&href[..href.find('"').unwrap()]);
        let second = body_text(test::call_service(&app, agent.get(&href)).await).await;
        assert_eq!(second.matches("><td><a href=\"/console/tickets/").count(), 12);
        assert!(second.contains("Question number 59"));
        assert!(!second.contains("rel=\"next\""));
        // Filters: plan tier and institution.
        let managed =
            body_text(test::call_service(&app, agent.get("/console/tickets?queue=all&plan=managed")).await).await;
        assert!(managed.contains("Federation relay stopped"));
        assert!(!managed.contains("Question number"));
        let oslo = body_text(
            test::call_service(&app, agent.get("/console/tickets?queue=all&institution=oslo-met&priority=normal"))
                .await,
        )
        .await;
        assert!(oslo.contains("Question number 3"));
        assert!(!oslo.contains("Federation relay stopped"));
        let unknown =
            body_text(test::call_service(&app, agent.get("/console/tickets?queue=all&instance=nowhere.example")).await)
                .await;
        assert!(unknown.contains("No tickets match."));
        let res = test::call_service(&app, agent.get("/console/tickets?queue=all&cursor=garbage")).await;
        assert_eq!(res.status(), 422);
        // The due-soon queue renders (the SLA evaluator has not run: empty).
        let due = body_text(test::call_service(&app, agent.get("/console/tickets?queue=due")).await).await;
        assert!(due.contains("data-queue=\"due\""));
    });
}

fn records_and_quarantine(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let st = state(db);
    // A message that cannot become a ticket: no sender.
    let raw = b"Subject: nobody sent this\r\nMessage-ID: <q1@x.example>\r\n\r\nbody <script>x</script>\r\n".to_vec();
    let result = st.intake.receive(&raw, tusk::domain::intake::IntakeSource::Http, None).unwrap();
    assert_eq!(result.outcome, tusk::domain::intake::Outcome::Quarantined);
    let qid = result.inbound_id;
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(st)).await;
        let admin = sign_in(&app, "admin@tusk.example", PASSWORD).await.unwrap();
        let list = body_text(test::call_service(&app, admin.get("/console/admin/quarantine")).await).await;
        assert!(list.contains("nobody sent this"));
        let one =
            body_text(test::call_service(&app, admin.get(&format!("/console/admin/quarantine/{qid}"))).await).await;
        assert!(one.contains("body &lt;script&gt;x&lt;"), "raw shown escaped: {one}");
        assert!(!one.contains("<script>x"), "raw never rendered");
        let res = test::call_service(&app, admin.get(&format!("/console/admin/quarantine/{qid}/raw"))).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get("content-type").unwrap(), "application/octet-stream");
        assert!(test::read_body(res).await.starts_with(b"Subject: nobody sent this"));
        let res = test::call_service(&app, admin.post(&format!("/console/admin/quarantine/{qid}/discard"), "")).await;
        assert_eq!(res.status(), 303);
        let outcome: String = tusk::db::schema::inbound_messages::table
            .find(qid)
            .select(tusk::db::schema::inbound_messages::outcome)
            .first(&mut *db.conn())
            .unwrap();
        assert_eq!(outcome, "discarded");
        let list = body_text(test::call_service(&app, admin.get("/console/admin/quarantine")).await).await;
        assert!(!list.contains("nobody sent this"));

        // Institution and instance pages, with ticket history; instance edit.
        let page = body_text(test::call_service(&app, admin.get("/console/institutions")).await).await;
        assert!(page.contains("Oslo Met") && page.contains("Université de Lyon"));
        let page = body_text(test::call_service(&app, admin.get("/console/institutions/uni-lyon")).await).await;
        assert!(page.contains("social.univ-lyon.example") && page.contains("Federation relay stopped"));
        let domain = &w.oslo.instance.domain;
        let res = test::call_service(
            &app,
            admin.post(
                &format!("/console/instances/{domain}"),
                "plan=managed&status=suspended&version=4.4.0&region=eu&notes=moved",
            ),
        )
        .await;
        assert_eq!(res.status(), 303);
        let page = body_text(test::call_service(&app, admin.get(&format!("/console/instances/{domain}"))).await).await;
        assert!(page.contains("Mastodon 4.4.0") && page.contains("suspended") && page.contains("Invoice question"));
        let plan: String = tusk::db::schema::instances::table
            .find(w.oslo.instance.id)
            .select(tusk::db::schema::instances::plan)
            .first(&mut *db.conn())
            .unwrap();
        assert_eq!(plan, "managed");
        let page = body_text(test::call_service(&app, admin.get("/console/contacts?q=oslomet")).await).await;
        assert!(page.contains("staff@oslomet.example") && !page.contains("staff@univ-lyon.example"));
        // Create an agent from the admin page.
        let res = test::call_service(
            &app,
            admin.post(
                "/console/admin/agents",
                "email=new%40tusk.example&name=New+Agent&role=agent&password=0123456789ab",
            ),
        )
        .await;
        assert_eq!(res.status(), 303);
        assert!(sign_in(&app, "new@tusk.example", "0123456789ab").await.is_ok());
    });
}

fn search_page(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let mut conn = db.conn();
    let note = tusk::domain::tickets::MessageInput::new(
        tusk::db::MessageKind::Note,
        tusk::domain::tickets::Author::Agent(w.agent.id),
        "Internal: the sidekiq queue was stuck",
        "note-1@tusk.example",
    );
    tusk::domain::tickets::add_message(&mut conn, w.oslo.ticket.id, note, tusk::domain::Actor::Agent(w.agent.id))
        .unwrap();
    drop(conn);
    let st = state(db);
    actix_web::rt::System::new().block_on(async {
        let indexer = tusk::search::indexer::Indexer::new(
            st.db.clone(),
            st.search.clone(),
            tusk::search::indexer::IndexerSettings::from_config(&st.config),
        );
        st.search.prepare().await.unwrap();
        indexer.run_until_idle().await.unwrap();
        let app = test::init_service(build_app(st)).await;
        let agent = sign_in(&app, "agent@tusk.example", PASSWORD).await.unwrap();
        let page = body_text(test::call_service(&app, agent.get("/console/search?q=relay")).await).await;
        assert!(page.contains("1 matching ticket(s)."), "{page}");
        assert!(page.contains(&format!("/console/tickets/{}", w.lyon.ticket.number)));
        assert!(page.contains("<mark>"), "highlighted snippet");
        // Agents find internal notes; filters narrow the results.
        let page = body_text(test::call_service(&app, agent.get("/console/search?q=sidekiq")).await).await;
        assert!(page.contains("Invoice question"), "{page}");
        let page = body_text(test::call_service(&app, agent.get("/console/search?q=sidekiq&plan=managed")).await).await;
        assert!(page.contains("0 matching ticket(s)."), "{page}");
        let page = body_text(
            test::call_service(&app, agent.get("/console/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")).await,
        )
        .await;
        assert!(!page.contains("<script>alert"), "the query is escaped");
        let res = test::call_service(&app, agent.get("/console/search?q=x&status=bogus")).await;
        assert_eq!(res.status(), 422);
    });
}
