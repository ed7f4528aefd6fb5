//! The HTTP skeleton through actix's test server, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test;
use common::TestDb;
use tusk::config::Config;
use tusk::web::errors::Problem;
use tusk::{AppState, build_app};

on_both_backends!(healthz_and_metrics, problems_are_json);

fn state(db: &TestDb) -> AppState {
    let mut config = Config::defaults().unwrap();
    config.data_dir = db.dir.path().to_path_buf();
    AppState::new(config, db.db.clone()).unwrap()
}

fn healthz_and_metrics(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["status"], "ok");

        let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert!(
            text.contains("tusk_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(text.contains("tusk_search_outbox_depth 0"), "{text}");
        assert!(text.contains("tusk_database_up 1"), "{text}");

        if db.backend() == tusk::db::BackendKind::Postgres {
            // The database goes away: the health check says so, without internals.
            db.drop_postgres_now();
            let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
            assert_eq!(res.status(), 503);
            assert_eq!(res.headers().get("content-type").unwrap(), "application/problem+json");
            let problem: Problem = test::read_body_json(res).await;
            assert_eq!(problem.kind, "urn:tusk:problem:unavailable");
            assert!(!problem.detail.contains("tusk_test_"), "no internals: {}", problem.detail);
        }
    });
}

fn problems_are_json(db: &TestDb) {
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(build_app(state(db))).await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/no/such/page").to_request()).await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers().get("content-type").unwrap(), "application/problem+json");
        assert_eq!(res.headers().get("x-content-type-options").unwrap(), "nosniff");
        let problem: Problem = test::read_body_json(res).await;
        assert_eq!(problem.kind, "urn:tusk:problem:not-found");
        assert_eq!(problem.status, 404);
        let res = test::call_service(&app, test::TestRequest::get().uri("/api/v1/no-such-thing").to_request()).await;
        assert_eq!(
            (res.status().as_u16(), res.headers().get("content-type").unwrap().to_str().unwrap()),
            (404, "application/problem+json")
        );
        // A page asked with a method it does not take.
        let res = test::call_service(&app, test::TestRequest::put().uri("/support/new").to_request()).await;
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers().get("allow").unwrap(), "GET, HEAD, POST");
        assert_eq!(res.headers().get("content-type").unwrap(), "text/html; charset=utf-8");
        // HEAD is answered wherever GET is (uptime checks use it).
        let res = test::call_service(
            &app,
            test::TestRequest::default().method(actix_web::http::Method::HEAD).uri("/healthz").to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        // People's pages answer as pages: an unknown path, and a form the
        // router refuses before any handler runs (wrong content type).
        for (req, status, home) in [
            (test::TestRequest::get().uri("/support/no-such-page"), 404, "/support"),
            (test::TestRequest::get().uri("/console/no/such/page"), 404, "/console"),
            (
                test::TestRequest::post()
                    .uri("/support/login")
                    .insert_header(("content-type", "text/plain"))
                    .set_payload("email=a@b.example"),
                422,
                "/support",
            ),
        ] {
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status().as_u16(), status);
            assert_eq!(res.headers().get("content-type").unwrap(), "text/html; charset=utf-8");
            let page = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
            assert!(page.contains(&format!("<a href=\"{home}\">Back</a>")), "{page}");
        }
    });
}
