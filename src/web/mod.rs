//! The actix-web application: state, the one route table, middleware, and
//! the server with graceful shutdown.

pub mod api;
pub mod assets;
pub mod console;
pub mod errors;
pub mod health;
pub mod inbound;
pub mod portal;
pub mod session;
pub mod views;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Compress, DefaultHeaders};
use actix_web::{App, HttpRequest, HttpResponse, web};

use crate::config::Config;
use crate::db::Db;
use crate::domain::Plans;
use crate::error::AppError;
use crate::mail::intake::Intake;
use crate::metrics::Metrics;
use crate::storage::BlobStore;

/// Everything a request handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub blobs: BlobStore,
    pub plans: Plans,
    pub metrics: Arc<Metrics>,
    pub intake: Intake,
    /// Compiled page templates (console, portal).
    pub views: views::Views,
    /// The search engine (`search.backend`); queried through `crate::search`.
    pub search: Arc<dyn crate::search::Search>,
    /// SLA policies, to refresh a ticket's clocks in the transaction of a change.
    pub sla: Arc<crate::sla::evaluator::SlaContext>,
    /// `support.timezone`, parsed once: times in pages are shown in it.
    pub support_tz: chrono_tz::Tz,
    /// Recent console queue counts (see `QueueCountsCache`).
    pub queue_counts: Arc<crate::domain::views::QueueCountsCache>,
    /// The active agents of the assignee pickers (see `ReadCache`).
    pub active_agents: Arc<crate::domain::views::ActiveAgentsCache>,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        let blobs = BlobStore::open(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot open the blob store under {}: {e}", config.data_dir.display()))?
            .with_inline_max(config.mail.inline_blob_max_bytes);
        let plans = Plans::from_config(&config);
        let intake = Intake::new(&config, db.clone(), blobs.clone());
        let views = views::Views::new()?;
        let sla = Arc::new(crate::sla::evaluator::SlaContext::from_config(&config)?);
        let support_tz = config.support.timezone.parse().unwrap_or(chrono_tz::UTC);
        let search = crate::search::open(&config).map_err(|e| anyhow::anyhow!("search index: {e:?}"))?;
        Ok(Self {
            config: Arc::new(config),
            db,
            blobs,
            plans,
            metrics: Arc::new(Metrics::default()),
            intake,
            views,
            search,
            sla,
            support_tz,
            queue_counts: Arc::default(),
            active_agents: Arc::default(),
        })
    }
}

/// The one route table: every URL Tusk serves, with its guards.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use console::{admin, auth, queues, records, search, tickets};
    cfg.route("/healthz", web::get().to(health::show_health))
        .route("/metrics", web::get().to(health::show_metrics))
        .route("/inbound/email", web::post().to(inbound::create_inbound_email))
        .route("/static/tusk.css", web::get().to(assets::show_css))
        .route("/static/console.js", web::get().to(assets::show_console_js))
        // Console (agents; every handler takes an AgentUser and checks roles/CSRF).
        .route("/console/login", web::get().to(auth::show_login))
        .route("/console/login", web::post().to(auth::create_session))
        .route("/console/logout", web::post().to(auth::delete_session))
        .route("/console", web::get().to(queues::show_home))
        .route("/console/", web::get().to(queues::show_home))
        .route("/console/tickets", web::get().to(queues::list_tickets))
        .route("/console/tickets/{number}", web::get().to(tickets::show_ticket))
        .route("/console/tickets/{number}", web::post().to(tickets::update_ticket))
        .route("/console/tickets/{number}/reply", web::post().to(tickets::create_reply))
        .route("/console/tickets/{number}/notes", web::post().to(tickets::create_note))
        .route("/console/tickets/{number}/merge", web::post().to(tickets::merge_ticket))
        .route("/console/attachments/{id}", web::get().to(tickets::show_attachment))
        .route("/console/institutions", web::get().to(records::list_institutions))
        .route("/console/institutions/{slug}", web::get().to(records::show_institution))
        .route("/console/institutions/{slug}", web::post().to(records::update_institution))
        .route("/console/instances/{domain}", web::get().to(records::show_instance))
        .route("/console/instances/{domain}", web::post().to(records::update_instance))
        .route("/console/contacts", web::get().to(records::list_contacts))
        .route("/console/search", web::get().to(search::show_search))
        .route("/console/reports/sla", web::get().to(console::reports::show_sla_report))
        // Console, admins only.
        .route("/console/admin/agents", web::get().to(admin::list_agents))
        .route("/console/admin/agents", web::post().to(admin::create_agent))
        .route("/console/admin/agents/{id}/active", web::post().to(admin::update_agent_active))
        .route("/console/admin/quarantine", web::get().to(admin::list_quarantine))
        .route("/console/admin/quarantine/{id}", web::get().to(admin::show_quarantined))
        .route("/console/admin/quarantine/{id}/raw", web::get().to(admin::show_quarantined_raw))
        .route("/console/admin/quarantine/{id}/retry", web::post().to(admin::retry_quarantined))
        .route("/console/admin/quarantine/{id}/discard", web::post().to(admin::discard_quarantined))
        // Portal (customers; pages take a ContactUser, forms check CSRF, every
        // ticket/attachment lookup answers 404 outside the contact's view).
        .route("/support", web::get().to(portal::tickets::list_tickets))
        .route("/support/", web::get().to(portal::tickets::list_tickets))
        .route("/support/new", web::get().to(portal::form::show_form))
        .route("/support/new", web::post().to(portal::form::create_ticket))
        .route("/support/login", web::get().to(portal::auth::show_login))
        .route("/support/login", web::post().to(portal::auth::create_link))
        .route("/support/login/{token}", web::get().to(portal::auth::show_link))
        .route("/support/login/{token}", web::post().to(portal::auth::create_session))
        .route("/support/logout", web::post().to(portal::auth::delete_session))
        .route("/support/tickets/{number}", web::get().to(portal::tickets::show_ticket))
        .route("/support/tickets/{number}/reply", web::post().to(portal::tickets::create_reply))
        .route("/support/tickets/{number}/solve", web::post().to(portal::tickets::solve_ticket))
        .route("/support/attachments/{id}", web::get().to(portal::tickets::show_attachment))
        // JSON API v1 (every handler takes an ApiCaller and checks its scope).
        .route("/api/v1/openapi.json", web::get().to(api::openapi::show_openapi))
        .route("/api/v1/tickets", web::get().to(api::tickets::list_tickets))
        .route("/api/v1/tickets", web::post().to(api::tickets::create_ticket))
        .route("/api/v1/tickets/{number}", web::get().to(api::tickets::show_ticket))
        .route("/api/v1/tickets/{number}", web::patch().to(api::tickets::update_ticket))
        .route("/api/v1/tickets/{number}/messages", web::get().to(api::messages::list_messages))
        .route("/api/v1/tickets/{number}/messages", web::post().to(api::messages::create_message))
        .route("/api/v1/tickets/{number}/sla", web::get().to(api::sla::show_ticket_sla))
        .route("/api/v1/institutions/{slug}", web::get().to(api::institutions::show_institution))
        .route("/api/v1/institutions/{slug}", web::put().to(api::institutions::upsert_institution))
        .route("/api/v1/institutions/{slug}", web::delete().to(api::institutions::delete_institution))
        .route("/api/v1/instances/{domain}", web::get().to(api::instances::show_instance))
        .route("/api/v1/instances/{domain}", web::put().to(api::instances::upsert_instance))
        .route("/api/v1/instances/{domain}", web::delete().to(api::instances::delete_instance))
        .route("/api/v1/search", web::get().to(api::search::search_tickets))
        .route("/api/v1/reports/sla", web::get().to(api::reports::show_sla_report));
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    Err(error_for(&req, AppError::not_found("no such page")))
}

/// An error answered the way the area of the request's path answers: an
/// HTML page under `/support` and `/console` (people read those), problem
/// JSON elsewhere (the API).
fn error_for(req: &HttpRequest, error: AppError) -> actix_web::Error {
    let path = req.path();
    let under = |area: &str| path == area || path.starts_with(&format!("{area}/"));
    if under("/support") {
        session::PageError::portal(error).into()
    } else if under("/console") {
        session::PageError::console(error).into()
    } else {
        error.into()
    }
}

/// Builds the application exactly as `tusk serve` runs it; integration tests
/// call this too.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = state.config.server.max_body_bytes;
    let metrics = state.metrics.clone();
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::JsonConfig::default().limit(max_body).error_handler(|err, _| errors::from_actix(&err).into()))
        .app_data(
            web::FormConfig::default()
                .limit(max_body)
                .error_handler(|err, req| error_for(req, errors::from_actix(&err))),
        )
        .app_data(web::PathConfig::default().error_handler(|err, req| error_for(req, errors::from_actix(&err))))
        .app_data(web::QueryConfig::default().error_handler(|err, req| error_for(req, errors::from_actix(&err))))
        .configure(configure)
        .default_service(web::to(not_found))
        .wrap(Compress::default())
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("X-Frame-Options", "DENY"))
                // Pages run only Tusk's own script file; customer HTML can
                // carry no script, remote image or form target.
                .add((
                    "Content-Security-Policy",
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
                )),
        )
        .wrap_fn(move |req, srv| {
            let started = Instant::now();
            let method = req.method().to_string();
            let metrics = metrics.clone();
            let fut = actix_web::dev::Service::call(srv, req);
            async move {
                let res = fut.await?;
                let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_string());
                metrics.observe_request(&method, &route, res.status().as_u16(), started.elapsed());
                Ok(res)
            }
        })
}

/// Runs the HTTP server until SIGINT/SIGTERM, then lets in-flight requests
/// finish within `server.shutdown_timeout_secs`.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let bind = state.config.server.bind.clone();
    let workers = match state.config.server.workers {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        n => n,
    };
    let shutdown = state.config.server.shutdown_timeout_secs;
    let server = actix_web::HttpServer::new(move || build_app(state.clone()))
        .workers(workers)
        .shutdown_timeout(shutdown)
        .bind(&bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind} (server.bind): {e}"))?;
    tracing::info!(%bind, workers, "listening");
    server.run().await?;
    tracing::info!("server stopped");
    Ok(())
}
