//! The customer web channel through actix's test server, on both backends:
//! the support form (validation, triage flag, spam defences, emails), the
//! magic-link sign-in (expired, reused, tampered links), and the portal's
//! authorization (another institution's tickets, messages and attachments
//! are 404; internal notes never show).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test;
use common::TestDb;
use common::fixtures;
use diesel::prelude::*;
use tusk::config::Config;
use tusk::db::schema::{attachments, events, magic_links, mail_outbox, messages, tickets};
use tusk::db::{MessageKind, TicketId};
use tusk::domain::Actor;
use tusk::domain::tickets::{self as dt, AttachmentInput, Author, MessageInput};
use tusk::storage::BlobStore;
use tusk::{AppState, build_app};

on_both_backends!(
    every_portal_page_needs_a_session,
    support_form_opens_a_web_ticket,
    support_form_validation_writes_nothing,
    support_form_spam_defences,
    magic_links_sign_in_once,
    other_institutions_are_not_found,
    internal_notes_never_show,
    reply_solve_and_download,
    csrf_is_checked_on_every_portal_form,
    emails_reach_the_customer_with_portal_links,
);

/// A file part: field, filename, content type, bytes.
type File<'a> = (&'a str, &'a str, &'a str, &'a [u8]);
/// A refused form: field overrides, files, expected status and message.
type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<File<'a>>, u16, &'a str);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake png bytes";

fn config(db: &TestDb) -> Config {
    let mut config = Config::defaults().unwrap();
    config.data_dir = db.dir.path().to_path_buf();
    config
}

fn state_with(db: &TestDb, config: Config) -> AppState {
    AppState::new(config, db.db.clone()).unwrap()
}

fn state(db: &TestDb) -> AppState {
    state_with(db, config(db))
}

async fn body_text<B: MessageBody>(res: ServiceResponse<B>) -> String {
    String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with _csrf");
    let rest = &html[at + 20..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A `multipart/form-data` body: text fields, then files
/// `(field, filename, content type, bytes)`.
fn multipart(fields: &[(&str, &str)], files: &[File<'_>]) -> (String, Vec<u8>) {
    let boundary = "----tuskTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    for (name, filename, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The pre-session CSRF cookie and the form's token of a public page.
async fn public_csrf<S, B>(app: &S, path: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, test::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(res.status(), 200, "GET {path}");
    let cookie = res.response().cookies().find(|c| c.name() == "tusk_csrf").expect("csrf cookie").value().to_string();
    let page = body_text(res).await;
    assert_eq!(hidden_csrf(&page), cookie, "double-submit token");
    cookie
}

fn form_fields<'a>(csrf: &'a str, email: &'a str, instance: &'a str, priority: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("_csrf", csrf),
        ("name", "Léa Martin"),
        ("email", email),
        ("instance", instance),
        ("category", "Federation"),
        ("priority", priority),
        ("subject", "Relay down"),
        ("description", "Our posts stopped reaching the relay this morning."),
        ("website", ""),
    ]
}

fn post_multipart(
    path: &str,
    csrf_cookie: Option<&str>,
    session: Option<&str>,
    body: (String, Vec<u8>),
) -> test::TestRequest {
    let mut req = test::TestRequest::post().uri(path).insert_header(("content-type", body.0)).set_payload(body.1);
    if let Some(c) = csrf_cookie {
        req = req.cookie(Cookie::new("tusk_csrf", c.to_string()));
    }
    if let Some(s) = session {
        req = req.cookie(Cookie::new("tusk_session", s.to_string()));
    }
    req
}

/// Row counts that a refused submission must leave unchanged.
fn written(db: &TestDb) -> [i64; 7] {
    let mut conn = db.conn();
    ["tickets", "messages", "attachments", "mail_outbox", "contacts", "events", "magic_links"]
        .map(|t| common::count(&mut conn, t))
}

fn outbox_of_kind(db: &TestDb, kind: &str) -> Vec<(Option<i64>, String, String)> {
    mail_outbox::table
        .filter(mail_outbox::kind.eq(kind))
        .order(mail_outbox::id.asc())
        .select((mail_outbox::ticket_id, mail_outbox::recipients, mail_outbox::payload))
        .load::<(Option<TicketId>, String, String)>(&mut *db.conn())
        .unwrap()
        .into_iter()
        .map(|(t, r, p)| (t.map(|t| t.0), r, p))
        .collect()
}

/// A signed-in portal browser.
struct Browser {
    session: String,
    csrf: String,
}

impl Browser {
    fn get(&self, path: &str) -> actix_http::Request {
        test::TestRequest::get().uri(path).cookie(Cookie::new("tusk_session", self.session.clone())).to_request()
    }
    fn post(&self, path: &str, token: &str) -> actix_http::Request {
        test::TestRequest::post()
            .uri(path)
            .cookie(Cookie::new("tusk_session", self.session.clone()))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(format!("_csrf={token}"))
            .to_request()
    }
}

/// Asks for a link for `email` through the login form; returns the response
/// status and the page.
async fn ask_link<S, B>(app: &S, email: &str) -> (u16, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let csrf = public_csrf(app, "/support/login").await;
    let res = test::call_service(
        app,
        test::TestRequest::post()
            .uri("/support/login")
            .cookie(Cookie::new("tusk_csrf", csrf.clone()))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(format!("_csrf={csrf}&email={}&next=%2Fsupport", email.replace('@', "%40")))
            .to_request(),
    )
    .await;
    let status = res.status().as_u16();
    (status, body_text(res).await)
}

/// The path of the newest sign-in link emailed to `email`.
fn last_link(db: &TestDb, email: &str) -> String {
    let (_, recipients, payload) = outbox_of_kind(db, "magic_link").pop().expect("a magic_link email");
    assert_eq!(recipients, format!("[\"{email}\"]"));
    let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
    let link = payload["link"].as_str().unwrap();
    let at = link.find("/support/login/").unwrap();
    link[at..].to_string()
}

async fn open_link<S, B>(app: &S, path: &str) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    // Opening the link shows a "Sign in" button (scanners that follow
    // links use nothing up); pressing it POSTs the form.
    let res = test::call_service(app, test::TestRequest::get().uri(path).to_request()).await;
    if res.status() != 200 {
        return res;
    }
    let pre = res.response().cookies().find(|c| c.name() == "tusk_csrf").expect("csrf cookie").value().to_string();
    let page = body_text(res).await;
    let csrf = hidden_csrf(&page);
    let prefix = "name=\"next\" value=\"";
    let at = page.find(prefix).expect("next field");
    let next = &page[at + prefix.len()..];
    let next = next[..next.find('"').unwrap()].replace("&#x2F;", "/").replace("&#x3D;", "=");
    test::call_service(
        app,
        test::TestRequest::post()
            .uri(path.split('?').next().unwrap())
            .cookie(Cookie::new("tusk_csrf", pre))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(format!("_csrf={csrf}&next={}", next.replace('/', "%2F")))
            .to_request(),
    )
    .await
}

/// Signs `email` in through the whole magic-link flow.
async fn sign_in<S, B>(app: &S, db: &TestDb, email: &str) -> Browser
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (status, _) = ask_link(app, email).await;
    assert_eq!(status, 200);
    let res = open_link(app, &last_link(db, email)).await;
    assert_eq!(res.status(), 303);
    let session =
        res.response().cookies().find(|c| c.name() == "tusk_session").expect("session cookie").value().to_string();
    let res = test::call_service(
        app,
        test::TestRequest::get().uri("/support").cookie(Cookie::new("tusk_session", session.clone())).to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let csrf = hidden_csrf(&body_text(res).await);
    Browser { session, csrf }
}

/// Stores bytes in the app's blob store and adds a message carrying them.
fn message_with_attachment(
    db: &TestDb,
    ticket: TicketId,
    kind: MessageKind,
    author: Author,
    body: &str,
    bytes: &[u8],
) -> i64 {
    let blob = BlobStore::open(db.dir.path()).unwrap().put(bytes).unwrap();
    let mut input = MessageInput::new(kind, author, body, dt::generate_message_id("test.example"));
    input.attachments = vec![AttachmentInput {
        sha256: blob.sha256,
        filename: "secret.txt".into(),
        content_type: "text/plain".into(),
        size_bytes: bytes.len() as i64,
        content_id: None,
        inline: false,
    }];
    let (_, message) = dt::add_message(&mut db.conn(), ticket, input, Actor::System).unwrap();
    attachments::table
        .filter(attachments::message_id.eq(message.id))
        .select(attachments::id)
        .first(&mut *db.conn())
        .unwrap()
}

fn every_portal_page_needs_a_session(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let n = w.lyon.ticket.number;
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        for (method, path) in [
            ("GET", "/support".to_string()),
            ("GET", "/support/".to_string()),
            ("GET", format!("/support/tickets/{n}")),
            ("POST", format!("/support/tickets/{n}/reply")),
            ("POST", format!("/support/tickets/{n}/solve")),
            ("GET", "/support/attachments/1".to_string()),
            ("POST", "/support/logout".to_string()),
        ] {
            let req = match method {
                "GET" => test::TestRequest::get(),
                _ => test::TestRequest::post().insert_header(("content-type", "application/x-www-form-urlencoded")),
            };
            let res = test::call_service(&app, req.uri(&path).to_request()).await;
            assert_eq!(res.status(), 303, "{method} {path}");
            let location = res.headers().get("location").unwrap().to_str().unwrap();
            assert!(location.starts_with("/support/login"), "{method} {path} -> {location}");
        }
        // GET keeps where the customer wanted to go.
        let res =
            test::call_service(&app, test::TestRequest::get().uri(&format!("/support/tickets/{n}")).to_request()).await;
        assert_eq!(res.headers().get("location").unwrap(), &format!("/support/login?next=/support/tickets/{n}"));
        // An agent's console session is no portal session.
        let (token, _) = tusk::domain::sessions::create(
            &mut db.conn(),
            tusk::domain::sessions::Principal::Agent(w.agent.id.0),
            chrono::Duration::hours(1),
        )
        .unwrap();
        let res = test::call_service(
            &app,
            test::TestRequest::get().uri("/support").cookie(Cookie::new("tusk_session", token)).to_request(),
        )
        .await;
        assert_eq!(res.status(), 303);
        // The public pages render.
        for path in ["/support/new", "/support/login"] {
            let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), 200, "{path}");
        }
    });
}

fn support_form_opens_a_web_ticket(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let csrf = public_csrf(&app, "/support/new").await;
        let fields =
            form_fields(&csrf, "Lea.Martin@univ-lyon.example", "https://social.univ-lyon.example/about", "high");
        let body = multipart(
            &fields,
            &[
                ("attachments", "screen shot.png", "image/png", PNG),
                ("attachments", "", "application/octet-stream", &b""[..]),
            ],
        );
        let res = test::call_service(&app, post_multipart("/support/new", Some(&csrf), None, body).to_request()).await;
        assert_eq!(res.status(), 200);
        let page = body_text(res).await;
        let mut conn = db.conn();
        let ticket = dt::by_number(&mut conn, w.oslo.ticket.number + 1).unwrap().expect("a new ticket");
        assert!(page.contains(&format!("ticket #{}", ticket.number)), "{page}");
        assert_eq!(ticket.channel.to_string(), "web");
        assert_eq!(ticket.priority.to_string(), "high");
        assert_eq!(ticket.category.as_deref(), Some("Federation"));
        assert_eq!(ticket.subject, "Relay down");
        assert_eq!(ticket.instance_id, Some(w.lyon.instance.id), "a known instance of the sender's institution");
        assert_eq!(ticket.institution_id, Some(w.lyon.institution.id));
        assert!(!ticket.needs_triage);
        let requester = tusk::domain::contacts::get(&mut conn, ticket.requester_id).unwrap();
        assert_eq!(requester.email, "lea.martin@univ-lyon.example");
        assert_eq!(requester.name.as_deref(), Some("Léa Martin"));
        let thread = dt::messages_of(&mut conn, ticket.id).unwrap();
        assert_eq!(thread.len(), 1);
        assert_eq!(thread[0].kind, MessageKind::Inbound);
        assert_eq!(thread[0].body_text, "Our posts stopped reaching the relay this morning.");
        assert_eq!(thread[0].author_contact_id, Some(requester.id));
        // One attachment (the empty file part is skipped), bytes in the store.
        let files = dt::attachments_of(&mut conn, &[thread[0].id]).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].filename, "screen shot.png");
        assert_eq!(files[0].content_type, "image/png");
        assert_eq!(BlobStore::open(db.dir.path()).unwrap().get(&files[0].sha256).unwrap(), PNG);
        // The acknowledgement is queued to the requester, for this ticket.
        let acks = outbox_of_kind(db, "acknowledgement");
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].0, Some(ticket.id.0));
        assert_eq!(acks[0].1, "[\"lea.martin@univ-lyon.example\"]");
        let payload: serde_json::Value = serde_json::from_str(&acks[0].2).unwrap();
        assert_eq!(payload["ticket_number"], ticket.number);
        let created: i64 = events::table
            .filter(events::ticket_id.eq(ticket.id))
            .filter(events::action.eq("ticket.created"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(created, 1);
        // Sent signed out: nothing proved the sender owns the address.
        assert_eq!(unverified(db, ticket.id), vec!["lea.martin@univ-lyon.example".to_string()]);

        // An unknown instance is accepted and flagged for triage; an
        // instance of another institution counts as unknown.
        for (typed, expect) in [
            ("mastodon.unknown.example", "mastodon.unknown.example"),
            ("social.oslomet.example", "social.oslomet.example"),
        ] {
            let csrf = public_csrf(&app, "/support/new").await;
            let body = multipart(&form_fields(&csrf, "staff@univ-lyon.example", typed, "low"), &[]);
            let res =
                test::call_service(&app, post_multipart("/support/new", Some(&csrf), None, body).to_request()).await;
            assert_eq!(res.status(), 200);
            let (triage, reason, instance, institution): (bool, Option<String>, Option<i64>, Option<i64>) =
                tickets::table
                    .order(tickets::id.desc())
                    .select((
                        tickets::needs_triage,
                        tickets::triage_reason,
                        tickets::instance_id,
                        tickets::institution_id,
                    ))
                    .first::<(bool, Option<String>, Option<tusk::db::InstanceId>, Option<tusk::db::InstitutionId>)>(
                        &mut *conn,
                    )
                    .map(|(a, b, c, d)| (a, b, c.map(|c| c.0), d.map(|d| d.0)))
                    .unwrap();
            assert!(triage, "{typed} flagged");
            assert!(reason.unwrap().contains(expect));
            assert_eq!(instance, None, "{typed} not linked");
            assert_eq!(institution, Some(w.lyon.institution.id.0));
        }
        // A sender of no known institution: flagged too.
        let csrf = public_csrf(&app, "/support/new").await;
        let body =
            multipart(&form_fields(&csrf, "someone@elsewhere.example", "mastodon.elsewhere.example", "normal"), &[]);
        let res = test::call_service(&app, post_multipart("/support/new", Some(&csrf), None, body).to_request()).await;
        assert_eq!(res.status(), 200);
        let (triage, reason, institution): (bool, Option<String>, Option<tusk::db::InstitutionId>) = tickets::table
            .order(tickets::id.desc())
            .select((tickets::needs_triage, tickets::triage_reason, tickets::institution_id))
            .first(&mut *conn)
            .unwrap();
        assert!(triage);
        assert!(reason.unwrap().contains("`mastodon.elsewhere.example`"), "the typed instance is kept for triage");
        assert_eq!(institution, None);
        assert_eq!(outbox_of_kind(db, "acknowledgement").len(), 4, "one acknowledgement per web ticket");

        // Signed in to the portal as the requester: the address is proven.
        // Signed in as someone else of the institution: it is not.
        let lea = sign_in(&app, db, "lea.martin@univ-lyon.example").await;
        for (typed, proven) in [("Lea.Martin@univ-lyon.example", true), ("staff@univ-lyon.example", false)] {
            let csrf = public_csrf(&app, "/support/new").await;
            let body = multipart(&form_fields(&csrf, typed, "", "normal"), &[]);
            let res = test::call_service(
                &app,
                post_multipart("/support/new", Some(&csrf), Some(&lea.session), body).to_request(),
            )
            .await;
            assert_eq!(res.status(), 200);
            let newest: tusk::db::TicketId =
                tickets::table.order(tickets::id.desc()).select(tickets::id).first(&mut *conn).unwrap();
            assert_eq!(unverified(db, newest).is_empty(), proven, "{typed}");
        }
    });
}

/// The addresses of a ticket's `ticket.sender_unverified` events.
fn unverified(db: &TestDb, ticket: tusk::db::TicketId) -> Vec<String> {
    let data: Vec<Option<String>> = events::table
        .filter(events::ticket_id.eq(ticket))
        .filter(events::action.eq(tusk::domain::portal::UNVERIFIED_SENDER))
        .select(events::data)
        .load(&mut *db.conn())
        .unwrap();
    data.into_iter()
        .map(|d| serde_json::from_str::<serde_json::Value>(&d.unwrap()).unwrap()["email"].as_str().unwrap().to_string())
        .collect()
}

fn support_form_validation_writes_nothing(db: &TestDb) {
    fixtures::world(&mut db.conn());
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let before = written(db);
        let big = vec![b'a'; 10 * 1024 * 1024 + 1];
        let cases: Vec<Case<'_>> = vec![
            (vec![("priority", "urgent")], vec![], 422, "low, normal or high"),
            (vec![("priority", "whenever")], vec![], 422, "unknown priority"),
            (vec![("category", "Free pizza")], vec![], 422, "categories"),
            (vec![("description", "   ")], vec![], 422, "describe the problem"),
            (vec![("email", "not-an-address")], vec![], 422, "not a valid email address"),
            (vec![("instance", "not a domain!")], vec![], 422, "not a domain name"),
            (vec![], vec![("attachments", "run.exe", "application/x-msdownload", &b"MZ"[..])], 422, "not accepted"),
            (
                vec![],
                vec![("attachments", "fake.png", "image/png", &b"<svg onload=alert(1)>"[..])],
                422,
                "does not contain",
            ),
            (vec![], vec![("attachments", "big.txt", "text/plain", big.as_slice())], 413, "larger than"),
        ];
        for (overrides, files, status, message) in cases {
            let csrf = public_csrf(&app, "/support/new").await;
            let mut fields = form_fields(&csrf, "staff@univ-lyon.example", "social.univ-lyon.example", "normal");
            for (k, v) in &overrides {
                fields.retain(|(name, _)| name != k);
                fields.push((k, v));
            }
            let res = test::call_service(
                &app,
                post_multipart("/support/new", Some(&csrf), None, multipart(&fields, &files)).to_request(),
            )
            .await;
            assert_eq!(res.status(), status, "{overrides:?}");
            let page = body_text(res).await;
            assert!(page.contains(message), "{overrides:?}: {page}");
            if status == 422 {
                // The form comes back with what was typed.
                assert!(
                    page.contains("Our posts stopped reaching the relay")
                        || overrides.iter().any(|(k, _)| *k == "description")
                );
            }
            assert_eq!(written(db), before, "nothing written for {overrides:?}");
        }
        let files_on_disk = std::fs::read_dir(db.dir.path().join("blobs"))
            .unwrap()
            .filter(|e| e.as_ref().map(|e| e.file_name() != "tmp").unwrap_or(false))
            .count();
        assert_eq!(files_on_disk, 0, "no blob stored for a refused form");
    });
}

fn support_form_spam_defences(db: &TestDb) {
    fixtures::world(&mut db.conn());
    let mut cfg = config(db);
    cfg.portal.form_max_per_email = 2;
    cfg.portal.form_max_per_ip = 2;
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state_with(db, cfg))).await;
        let submit = |csrf_cookie: Option<String>, fields: Vec<(String, String)>, ip: &'static str| {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            post_multipart("/support/new", csrf_cookie.as_deref(), None, multipart(&fields, &[]))
                .peer_addr(ip.parse().unwrap())
                .to_request()
        };
        let owned =
            |f: Vec<(&str, &str)>| f.into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        let before = written(db);
        // CSRF: no cookie, a mismatched token, no token.
        let csrf = public_csrf(&app, "/support/new").await;
        let res = test::call_service(
            &app,
            submit(None, owned(form_fields(&csrf, "staff@univ-lyon.example", "", "normal")), "10.0.0.1:1000"),
        )
        .await;
        assert_eq!(res.status(), 403);
        let res = test::call_service(
            &app,
            submit(
                Some(csrf.clone()),
                owned(form_fields(&"b".repeat(64), "staff@univ-lyon.example", "", "normal")),
                "10.0.0.1:1000",
            ),
        )
        .await;
        assert_eq!(res.status(), 403);
        let res = test::call_service(
            &app,
            submit(
                Some(csrf.clone()),
                owned(form_fields("", "staff@univ-lyon.example", "", "normal")),
                "10.0.0.1:1000",
            ),
        )
        .await;
        assert_eq!(res.status(), 403);
        assert_eq!(written(db), before, "nothing written without CSRF");
        // Honeypot: the robot sees a thank-you page, nothing is written.
        let mut fields = owned(form_fields(&csrf, "staff@univ-lyon.example", "", "normal"));
        fields.retain(|(k, _)| k != "website");
        fields.push(("website".into(), "http://spam.example".into()));
        let res = test::call_service(&app, submit(Some(csrf.clone()), fields, "10.0.0.1:1000")).await;
        assert_eq!(res.status(), 200);
        assert!(body_text(res).await.contains("Thank you"));
        assert_eq!(written(db), before, "a filled honeypot writes nothing");

        // Per email: two tickets, then 429 (from another address: allowed).
        for _ in 0..2 {
            let res = test::call_service(
                &app,
                submit(
                    Some(csrf.clone()),
                    owned(form_fields(&csrf, "staff@univ-lyon.example", "", "normal")),
                    "10.0.0.2:1000",
                ),
            )
            .await;
            assert_eq!(res.status(), 200);
        }
        let tickets_before = common::count(&mut db.conn(), "tickets");
        let res = test::call_service(
            &app,
            submit(
                Some(csrf.clone()),
                owned(form_fields(&csrf, "STAFF@univ-lyon.example", "", "normal")),
                "10.0.0.3:1000",
            ),
        )
        .await;
        assert_eq!(res.status(), 429);
        assert!(body_text(res).await.contains("too many requests"));
        assert_eq!(common::count(&mut db.conn(), "tickets"), tickets_before);
        // Per IP: the third from one client is refused, whatever the email.
        let res = test::call_service(
            &app,
            submit(Some(csrf.clone()), owned(form_fields(&csrf, "a@oslomet.example", "", "normal")), "10.0.0.2:1000"),
        )
        .await;
        assert_eq!(res.status(), 429, "third from 10.0.0.2");
        let res = test::call_service(
            &app,
            submit(Some(csrf.clone()), owned(form_fields(&csrf, "a@oslomet.example", "", "normal")), "10.0.0.4:1000"),
        )
        .await;
        assert_eq!(res.status(), 200, "another client is not affected");
        assert_eq!(common::count(&mut db.conn(), "tickets"), tickets_before + 1);
    });
}

fn magic_links_sign_in_once(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let mut cfg = config(db);
    cfg.portal.link_max_per_email = 3;
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state_with(db, cfg))).await;
        let email = w.lyon.customer.email.clone();
        // Unknown and known addresses get the same answer.
        let (status, unknown_page) = ask_link(&app, "nobody@univ-lyon.example").await;
        assert_eq!(status, 200);
        assert_eq!(common::count(&mut db.conn(), "magic_links"), 0);
        assert!(outbox_of_kind(db, "magic_link").is_empty(), "no email to an unknown address");
        let (status, known_page) = ask_link(&app, &email).await;
        assert_eq!(status, 200);
        let strip = |p: &str, e: &str| {
            let p = p.replace(e, "EMAIL");
            let at = p.find("name=\"_csrf\" value=\"").unwrap();
            format!("{}{}", &p[..at], &p[at + 20 + 64..])
        };
        assert_eq!(strip(&unknown_page, "nobody@univ-lyon.example"), strip(&known_page, &email), "same answer");
        assert!(known_page.contains("If staff@univ-lyon.example is known to us"));
        // The email goes to the contact; the table holds only a hash.
        let path = last_link(db, &email);
        let token = path.trim_start_matches("/support/login/").to_string();
        assert_eq!(token.len(), 64);
        let (hash, contact, used): (String, i64, Option<chrono::NaiveDateTime>) = magic_links::table
            .select((magic_links::token_hash, magic_links::contact_id, magic_links::used_at))
            .first(&mut *db.conn())
            .unwrap();
        assert_ne!(hash, token);
        assert_eq!(hash, tusk::domain::sessions::token_hash(&token));
        assert_eq!(contact, w.lyon.customer.id.0);
        assert!(used.is_none());
        // Tampered: one character changed, cut short, or junk.
        let mut tampered = token.clone().into_bytes();
        tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(tampered).unwrap();
        for bad in [tampered.as_str(), &token[..63], "g".repeat(64).as_str(), "zz"] {
            let res = open_link(&app, &format!("/support/login/{bad}")).await;
            assert_eq!(res.status(), 403, "{bad}");
            assert!(res.response().cookies().all(|c| c.name() != "tusk_session"));
        }
        // Opening the link (as a mail scanner would) does not use it up,
        // and a POST without the page's CSRF token is refused.
        for _ in 0..2 {
            let res = test::call_service(&app, test::TestRequest::get().uri(&path).to_request()).await;
            assert_eq!(res.status(), 200);
        }
        let res = test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&path)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload("_csrf=forged")
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 403);
        let used: Option<chrono::NaiveDateTime> =
            magic_links::table.select(magic_links::used_at).first(&mut *db.conn()).unwrap();
        assert!(used.is_none(), "opening is not signing in");
        // The real link signs in once.
        let res = open_link(&app, &path).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers().get("location").unwrap(), "/support?flash=welcome");
        let cookie = res.response().cookies().find(|c| c.name() == "tusk_session").unwrap().into_owned();
        assert_eq!(cookie.http_only(), Some(true));
        let used: Option<chrono::NaiveDateTime> =
            magic_links::table.select(magic_links::used_at).first(&mut *db.conn()).unwrap();
        assert!(used.is_some(), "marked used");
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/support")
                .cookie(Cookie::new("tusk_session", cookie.value().to_string()))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert!(body_text(res).await.contains(&w.lyon.ticket.subject));
        // Reused: refused.
        let res = open_link(&app, &path).await;
        assert_eq!(res.status(), 403);
        assert!(body_text(res).await.contains("does not work"));
        // Expired: refused.
        let (status, _) = ask_link(&app, &email).await;
        assert_eq!(status, 200);
        let path = last_link(db, &email);
        diesel::update(magic_links::table.filter(magic_links::used_at.is_null()))
            .set(magic_links::expires_at.eq(tusk::db::now() - chrono::Duration::seconds(1)))
            .execute(&mut *db.conn())
            .unwrap();
        let res = open_link(&app, &path).await;
        assert_eq!(res.status(), 403);
        // A link keeps where the customer wanted to go (a portal path only).
        let csrf = public_csrf(&app, "/support/login").await;
        let res = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/support/login")
                .cookie(Cookie::new("tusk_csrf", csrf.clone()))
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(format!(
                    "_csrf={csrf}&email={}&next=%2Fsupport%2Ftickets%2F{}",
                    email.replace('@', "%40"),
                    w.lyon.ticket.number
                ))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        let path = last_link(db, &email);
        assert!(path.ends_with(&format!("?next=/support/tickets/{}", w.lyon.ticket.number)), "{path}");
        let res = open_link(&app, &path).await;
        assert_eq!(res.headers().get("location").unwrap(), &format!("/support/tickets/{}", w.lyon.ticket.number));
        let res = open_link(&app, &format!("{}?next=https://evil.example/", path.split('?').next().unwrap())).await;
        assert_eq!(res.status(), 403, "used");
        // Rate limit per address: 3 requests in the window, then 429 and no email.
        let sent = outbox_of_kind(db, "magic_link").len();
        let (status, page) = ask_link(&app, &email).await;
        assert_eq!(status, 429, "{page}");
        assert_eq!(outbox_of_kind(db, "magic_link").len(), sent);
        // Unknown addresses are limited the same way (no oracle).
        for _ in 0..3 {
            assert_eq!(ask_link(&app, "ghost@univ-lyon.example").await.0, 200);
        }
        assert_eq!(ask_link(&app, "ghost@univ-lyon.example").await.0, 429);
        // The session cookie ends with sign-out.
        let browser = Browser { session: cookie.value().to_string(), csrf: String::new() };
        let page = body_text(test::call_service(&app, browser.get("/support")).await).await;
        let csrf = hidden_csrf(&page);
        let res = test::call_service(&app, browser.post("/support/logout", &csrf)).await;
        assert_eq!(res.status(), 303);
        let res = test::call_service(&app, browser.get("/support")).await;
        assert_eq!(res.status(), 303, "signed out");
    });
}

fn other_institutions_are_not_found(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    // Oslo's ticket has a reply and an attachment; Lyon has a second contact.
    let oslo_attachment = message_with_attachment(
        db,
        w.oslo.ticket.id,
        MessageKind::Inbound,
        Author::Contact(w.oslo.customer.id),
        "Oslo invoice attached",
        b"oslo private bytes",
    );
    let colleague = tusk::domain::contacts::find_or_create(
        &mut db.conn(),
        "colleague@univ-lyon.example",
        Some("Colleague"),
        Actor::System,
    )
    .unwrap();
    let colleague_ticket =
        fixtures::ticket(&mut db.conn(), &colleague, Some(&w.lyon.instance), "Colleague's ticket", "Theirs.");
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let lyon = sign_in(&app, db, &w.lyon.customer.email).await;
        let before = written(db);
        let oslo_n = w.oslo.ticket.number;
        // Ticket, reply, solve, attachment of Oslo: 404, like a number that does not exist.
        for path in
            [format!("/support/tickets/{oslo_n}"), "/support/tickets/999999".into(), "/support/tickets/abc".into()]
        {
            let res = test::call_service(&app, lyon.get(&path)).await;
            assert_eq!(res.status(), 404, "{path}");
            let page = body_text(res).await;
            assert!(!page.contains("Invoice question") && !page.contains("Oslo"), "{page}");
        }
        let res = test::call_service(&app, lyon.get(&format!("/support/attachments/{oslo_attachment}"))).await;
        assert_eq!(res.status(), 404);
        assert!(!body_text(res).await.contains("oslo private bytes"));
        let res = test::call_service(&app, lyon.get("/support/attachments/999999")).await;
        assert_eq!(res.status(), 404);
        let reply = multipart(
            &[("_csrf", lyon.csrf.as_str()), ("body", "Let me in")],
            &[("attachments", "x.txt", "text/plain", &b"x"[..])],
        );
        let res = test::call_service(
            &app,
            post_multipart(&format!("/support/tickets/{oslo_n}/reply"), None, Some(&lyon.session), reply).to_request(),
        )
        .await;
        assert_eq!(res.status(), 404);
        let res = test::call_service(&app, lyon.post(&format!("/support/tickets/{oslo_n}/solve"), &lyon.csrf)).await;
        assert_eq!(res.status(), 404);
        assert_eq!(written(db), before, "nothing written on another institution's ticket");
        let status: String =
            tickets::table.find(w.oslo.ticket.id).select(tickets::status).first(&mut *db.conn()).unwrap();
        assert_eq!(status, "new");
        // The list shows only one's own tickets: not the colleague's, not Oslo's.
        let page = body_text(test::call_service(&app, lyon.get("/support")).await).await;
        assert!(page.contains(&w.lyon.ticket.subject));
        assert!(!page.contains("Colleague&#x27;s ticket") && !page.contains("Colleague's ticket"));
        assert!(!page.contains("Invoice question"));
        let res = test::call_service(&app, lyon.get(&format!("/support/tickets/{}", colleague_ticket.number))).await;
        assert_eq!(res.status(), 404, "a colleague's ticket is not visible to a plain contact");

        // An institution admin sees the institution's tickets, never Oslo's.
        tusk::domain::contacts::set_institution_admin(&mut db.conn(), w.lyon.customer.id, true, Actor::System).unwrap();
        let page = body_text(test::call_service(&app, lyon.get("/support")).await).await;
        assert!(page.contains("Colleague&#x27;s ticket") || page.contains("Colleague's ticket"), "{page}");
        assert!(!page.contains("Invoice question"));
        let res = test::call_service(&app, lyon.get(&format!("/support/tickets/{}", colleague_ticket.number))).await;
        assert_eq!(res.status(), 200);
        assert!(!body_text(res).await.contains("sender-unverified"));
        // Had the colleague's ticket come from a signed-out web form, the
        // admin is told nothing proves who sent it; the requester is not.
        tusk::domain::events::EventRecord::ticket(colleague_ticket.id, tusk::domain::portal::UNVERIFIED_SENDER)
            .data(serde_json::json!({ "email": "colleague@univ-lyon.example", "signed_in_as_another": false }))
            .write(&mut db.conn(), Actor::System, tusk::db::now())
            .unwrap();
        let page = body_text(
            test::call_service(&app, lyon.get(&format!("/support/tickets/{}", colleague_ticket.number))).await,
        )
        .await;
        assert!(page.contains("id=\"sender-unverified\""), "{page}");
        assert!(page.contains("someone not signed in as colleague@univ-lyon.example"), "{page}");
        let colleague = sign_in(&app, db, "colleague@univ-lyon.example").await;
        let page = body_text(
            test::call_service(&app, colleague.get(&format!("/support/tickets/{}", colleague_ticket.number))).await,
        )
        .await;
        assert!(page.contains("Colleague&#x27;s ticket") || page.contains("Colleague's ticket"), "{page}");
        assert!(!page.contains("sender-unverified"), "not to the requester");
        for path in [format!("/support/tickets/{oslo_n}"), format!("/support/attachments/{oslo_attachment}")] {
            let res = test::call_service(&app, lyon.get(&path)).await;
            assert_eq!(res.status(), 404, "admin: {path}");
        }
        // Oslo's own customer does get it.
        let oslo = sign_in(&app, db, &w.oslo.customer.email).await;
        let res = test::call_service(&app, oslo.get(&format!("/support/attachments/{oslo_attachment}"))).await;
        assert_eq!(res.status(), 200);
        assert_eq!(test::read_body(res).await.as_ref(), b"oslo private bytes");
        let res = test::call_service(&app, oslo.get(&format!("/support/tickets/{}", w.lyon.ticket.number))).await;
        assert_eq!(res.status(), 404);
    });
}

fn internal_notes_never_show(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let lyon_id = w.lyon.ticket.id;
    let note_attachment = message_with_attachment(
        db,
        lyon_id,
        MessageKind::Note,
        Author::Agent(w.agent.id),
        "INTERNAL: customer is on an old version, do not tell them",
        b"internal note bytes",
    );
    let replies =
        tusk::domain::replies::ReplyInput { body_text: "We are looking into the relay.".into(), ..Default::default() };
    tusk::domain::replies::reply_by_email(&mut db.conn(), lyon_id, w.agent.id, &replies, "support@tusk.example")
        .unwrap();
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let lyon = sign_in(&app, db, &w.lyon.customer.email).await;
        // Admin view too: the flag changes nothing about notes.
        tusk::domain::contacts::set_institution_admin(&mut db.conn(), w.lyon.customer.id, true, Actor::System).unwrap();
        for path in ["/support".to_string(), format!("/support/tickets/{}", w.lyon.ticket.number)] {
            let res = test::call_service(&app, lyon.get(&path)).await;
            assert_eq!(res.status(), 200);
            let page = body_text(res).await;
            assert!(!page.contains("INTERNAL"), "{path} shows a note");
            assert!(!page.contains("internal note bytes"));
            assert!(!page.contains("secret.txt"), "{path} links a note's attachment");
            assert!(!page.contains(&format!("/support/attachments/{note_attachment}")));
        }
        let page =
            body_text(test::call_service(&app, lyon.get(&format!("/support/tickets/{}", w.lyon.ticket.number))).await)
                .await;
        assert!(page.contains("Our posts no longer reach the relay since Monday."), "the customer's message");
        assert!(page.contains("We are looking into the relay."), "the agent's public reply");
        assert!(page.contains("Arne Agent"));
        let res = test::call_service(&app, lyon.get(&format!("/support/attachments/{note_attachment}"))).await;
        assert_eq!(res.status(), 404, "a note's attachment is not downloadable");
    });
}

fn reply_solve_and_download(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let n = w.lyon.ticket.number;
    let id = w.lyon.ticket.id;
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let lyon = sign_in(&app, db, &w.lyon.customer.email).await;
        let page = body_text(test::call_service(&app, lyon.get(&format!("/support/tickets/{n}"))).await).await;
        assert!(page.contains("reply-form") && page.contains("solve-form"));
        let body = multipart(
            &[("_csrf", lyon.csrf.as_str()), ("body", "Here is the log.")],
            &[("attachments", "../../logs/relay.log.txt", "text/plain", &b"relay: 503"[..])],
        );
        let res = test::call_service(
            &app,
            post_multipart(&format!("/support/tickets/{n}/reply"), None, Some(&lyon.session), body).to_request(),
        )
        .await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers().get("location").unwrap(), &format!("/support/tickets/{n}?flash=replied"));
        let mut conn = db.conn();
        let last = dt::messages_of(&mut conn, id).unwrap().pop().unwrap();
        assert_eq!(last.kind, MessageKind::Inbound);
        assert_eq!(last.body_text, "Here is the log.");
        assert_eq!(last.author_contact_id, Some(w.lyon.customer.id));
        assert_eq!(last.from_address.as_deref(), Some(w.lyon.customer.email.as_str()));
        let files = dt::attachments_of(&mut conn, &[last.id]).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].filename, "relay.log.txt", "no path kept");
        // The portal shows and serves it, as a download.
        let page =
            body_text(test::call_service(&app, lyon.get(&format!("/support/tickets/{n}?flash=replied"))).await).await;
        assert!(page.contains("Here is the log.") && page.contains("relay.log.txt"));
        assert!(page.contains("Your reply was added"));
        let res = test::call_service(&app, lyon.get(&format!("/support/attachments/{}", files[0].id.0))).await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment;"));
        assert!(res.headers().get("content-security-policy").unwrap().to_str().unwrap().contains("sandbox"));
        assert_eq!(test::read_body(res).await.as_ref(), b"relay: 503");
        // An empty reply is refused.
        let body = multipart(&[("_csrf", lyon.csrf.as_str()), ("body", "  ")], &[]);
        let res = test::call_service(
            &app,
            post_multipart(&format!("/support/tickets/{n}/reply"), None, Some(&lyon.session), body).to_request(),
        )
        .await;
        assert_eq!(res.status(), 422);
        // Solve: status solved, the event names the contact.
        let res = test::call_service(&app, lyon.post(&format!("/support/tickets/{n}/solve"), &lyon.csrf)).await;
        assert_eq!(res.status(), 303);
        let status: String = tickets::table.find(id).select(tickets::status).first(&mut *conn).unwrap();
        assert_eq!(status, "solved");
        let (actor_kind, actor_id): (String, Option<i64>) = events::table
            .filter(events::ticket_id.eq(id))
            .filter(events::action.eq("ticket.status_changed"))
            .order(events::id.desc())
            .select((events::actor_kind, events::actor_id))
            .first(&mut *conn)
            .unwrap();
        assert_eq!((actor_kind.as_str(), actor_id), ("contact", Some(w.lyon.customer.id.0)));
        let page = body_text(test::call_service(&app, lyon.get(&format!("/support/tickets/{n}"))).await).await;
        assert!(!page.contains("solve-form"), "no solve button on a solved ticket");
        // A reply reopens it.
        let body = multipart(&[("_csrf", lyon.csrf.as_str()), ("body", "It broke again.")], &[]);
        let res = test::call_service(
            &app,
            post_multipart(&format!("/support/tickets/{n}/reply"), None, Some(&lyon.session), body).to_request(),
        )
        .await;
        assert_eq!(res.status(), 303);
        let status: String = tickets::table.find(id).select(tickets::status).first(&mut *conn).unwrap();
        assert_eq!(status, "open");
        let count: i64 = messages::table.filter(messages::ticket_id.eq(id)).count().get_result(&mut *conn).unwrap();
        assert_eq!(count, 3);
        // A closed ticket takes no reply: 409, and its files are not even
        // stored.
        diesel::update(tickets::table.find(id)).set(tickets::status.eq("closed")).execute(&mut *conn).unwrap();
        let blobs = files_under(&db.dir.path().join("blobs"));
        let body = multipart(
            &[("_csrf", lyon.csrf.as_str()), ("body", "Still there?")],
            &[("attachments", "late.txt", "text/plain", &b"a file never kept"[..])],
        );
        let res = test::call_service(
            &app,
            post_multipart(&format!("/support/tickets/{n}/reply"), None, Some(&lyon.session), body).to_request(),
        )
        .await;
        assert_eq!(res.status(), 409);
        assert!(body_text(res).await.contains("closed"));
        assert_eq!(files_under(&db.dir.path().join("blobs")), blobs);
        let count: i64 = messages::table.filter(messages::ticket_id.eq(id)).count().get_result(&mut *conn).unwrap();
        assert_eq!(count, 3);
    });
}

/// Every file below `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

fn csrf_is_checked_on_every_portal_form(db: &TestDb) {
    let w = fixtures::world(&mut db.conn());
    let n = w.lyon.ticket.number;
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let lyon = sign_in(&app, db, &w.lyon.customer.email).await;
        let oslo = sign_in(&app, db, &w.oslo.customer.email).await;
        let before = written(db);
        let sessions_before = common::count(&mut db.conn(), "web_sessions");
        for token in ["", "0000", oslo.csrf.as_str()] {
            let body = multipart(&[("_csrf", token), ("body", "forged")], &[]);
            let res = test::call_service(
                &app,
                post_multipart(&format!("/support/tickets/{n}/reply"), None, Some(&lyon.session), body).to_request(),
            )
            .await;
            assert_eq!(res.status(), 403, "reply with {token:?}");
            let res = test::call_service(&app, lyon.post(&format!("/support/tickets/{n}/solve"), token)).await;
            assert_eq!(res.status(), 403, "solve with {token:?}");
            let res = test::call_service(&app, lyon.post("/support/logout", token)).await;
            assert_eq!(res.status(), 403, "logout with {token:?}");
        }
        // The pre-session forms: the link request and the support form.
        let csrf = public_csrf(&app, "/support/login").await;
        for (cookie, token) in
            [(None, csrf.clone()), (Some(csrf.clone()), "c".repeat(64)), (Some(csrf.clone()), String::new())]
        {
            let mut req = test::TestRequest::post()
                .uri("/support/login")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(format!("_csrf={token}&email=staff%40univ-lyon.example"));
            if let Some(c) = cookie.clone() {
                req = req.cookie(Cookie::new("tusk_csrf", c));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status(), 403, "login with cookie {cookie:?} token {token:?}");
            let body = multipart(&form_fields(&token, "staff@univ-lyon.example", "", "normal"), &[]);
            let res =
                test::call_service(&app, post_multipart("/support/new", cookie.as_deref(), None, body).to_request())
                    .await;
            assert_eq!(res.status(), 403, "form with cookie {cookie:?} token {token:?}");
        }
        assert_eq!(written(db), before, "nothing written by forged forms");
        assert_eq!(common::count(&mut db.conn(), "web_sessions"), sessions_before, "no session ended");
        let status: String =
            tickets::table.find(w.lyon.ticket.id).select(tickets::status).first(&mut *db.conn()).unwrap();
        assert_eq!(status, "new");
    });
}

fn emails_reach_the_customer_with_portal_links(db: &TestDb) {
    use std::sync::Arc;
    use tusk::mail::outbound::Templates;
    use tusk::mail::outbound::worker::{MailWorker, SenderIdentity, WorkerSettings, transport_from_config};

    fixtures::world(&mut db.conn());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sink = {
        let _rt = rt.enter();
        smtp_sink::SmtpSink::start()
    };
    let mut cfg = config(db);
    cfg.server.public_url = "https://desk.tusk.example".into();
    cfg.smtp.url = tusk::config::Secret::new(sink.url());
    cfg.smtp.timeout_secs = 5;
    let email = "lea.martin@univ-lyon.example";
    let app_state = state_with(db, cfg.clone());
    // A web ticket (acknowledgement) and a sign-in link for its requester.
    let number = actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(app_state.clone())).await;
        let csrf = public_csrf(&app, "/support/new").await;
        let body = multipart(&form_fields(&csrf, email, "social.univ-lyon.example", "normal"), &[]);
        let res = test::call_service(&app, post_multipart("/support/new", Some(&csrf), None, body).to_request()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(ask_link(&app, email).await.0, 200);
        tickets::table.order(tickets::id.desc()).select(tickets::number).first::<i64>(&mut *db.conn()).unwrap()
    });
    // The mail worker sends both.
    {
        let _rt = rt.enter();
        let worker = MailWorker::new(
            db.db.clone(),
            Arc::new(Templates::builtin().unwrap()),
            transport_from_config(&cfg).unwrap(),
            SenderIdentity::from_config(&cfg),
            WorkerSettings::from_config(&cfg),
        );
        let report = rt.block_on(worker.run_until_idle()).unwrap();
        assert_eq!((report.sent, report.failed), (2, 0));
    }
    // Once sent, the outbox no longer holds the link; other payloads stay.
    let (_, _, payload) = outbox_of_kind(db, "magic_link").pop().unwrap();
    assert_eq!(payload, tusk::domain::mail_queue::SENT_MAGIC_LINK_PAYLOAD);
    let (_, _, ack) = outbox_of_kind(db, "acknowledgement").pop().unwrap();
    assert!(ack.contains("\"ticket_number\""), "{ack}");
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let bodies: Vec<String> = received
        .iter()
        .map(|r| {
            assert_eq!(r.rcpt_to, [email]);
            let msg = mail_parser::MessageParser::default().parse(&r.data).unwrap();
            msg.body_text(0).unwrap().to_string()
        })
        .collect();
    let ack = bodies.iter().find(|b| b.contains("We have received your request")).expect("acknowledgement");
    assert!(ack.contains(&format!("https://desk.tusk.example/support/tickets/{number}")), "{ack}");
    let link_mail = bodies.iter().find(|b| b.contains("/support/login/")).expect("sign-in email");
    let at = link_mail.find("https://desk.tusk.example/support/login/").unwrap();
    let path: String =
        link_mail[at + "https://desk.tusk.example".len()..].chars().take_while(|c| !c.is_whitespace()).collect();
    assert_eq!(path.len(), "/support/login/".len() + 64, "{path}");
    // The emailed link signs the customer in, and the ticket is theirs.
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(app_state)).await;
        let res = open_link(&app, &path).await;
        assert_eq!(res.status(), 303);
        let session = res.response().cookies().find(|c| c.name() == "tusk_session").unwrap().value().to_string();
        let browser = Browser { session, csrf: String::new() };
        let res = test::call_service(&app, browser.get(&format!("/support/tickets/{number}"))).await;
        assert_eq!(res.status(), 200);
        assert!(body_text(res).await.contains("Our posts stopped reaching the relay this morning."));
    });
    let _rt = rt.enter();
    drop(sink);
}
