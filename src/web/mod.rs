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

/// Registers one resource: its methods' handlers (a GET handler answers
/// HEAD too; actix sends no body for HEAD), and a 405 for the others.
macro_rules! route {
    ($cfg:expr, $path:expr, $($method:ident => $handler:expr),+ $(,)?) => {{
        let resource = web::resource($path);
        $(let resource = with_method!(resource, $method, $handler);)+
        $cfg.service(resource.default_service(web::to(|req: HttpRequest| async move {
            method_not_allowed(&req, &[$(allow_of!($method)),+])
        })));
    }};
}

/// A resource with one more method's handler.
macro_rules! with_method {
    ($resource:expr, get, $handler:expr) => {
        $resource.route(web::get().to($handler)).route(web::head().to($handler))
    };
    ($resource:expr, $method:ident, $handler:expr) => {
        $resource.route(web::$method().to($handler))
    };
}

/// The `Allow` entry of a method.
macro_rules! allow_of {
    (get) => {
        "GET, HEAD"
    };
    ($method:ident) => {
        stringify!($method)
    };
}

/// The one route table: every URL Tusk serves, with its guards. A known
/// path asked with another method answers 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use console::{admin, auth, queues, records, search, tickets};
    route!(cfg, "/healthz", get => health::show_health);
    route!(cfg, "/metrics", get => health::show_metrics);
    route!(cfg, "/inbound/email", post => inbound::create_inbound_email);
    route!(cfg, "/static/tusk.css", get => assets::show_css);
    route!(cfg, "/static/console.js", get => assets::show_console_js);
    // Console (agents; every handler takes an AgentUser and checks roles/CSRF).
    route!(cfg, "/console/login", get => auth::show_login, post => auth::create_session);
    route!(cfg, "/console/logout", post => auth::delete_session);
    route!(cfg, "/console", get => queues::show_home);
    route!(cfg, "/console/", get => queues::show_home);
    route!(cfg, "/console/tickets", get => queues::list_tickets);
    route!(cfg, "/console/tickets/{number}", get => tickets::show_ticket, post => tickets::update_ticket);
    route!(cfg, "/console/tickets/{number}/reply", post => tickets::create_reply);
    route!(cfg, "/console/tickets/{number}/notes", post => tickets::create_note);
    route!(cfg, "/console/tickets/{number}/merge", post => tickets::merge_ticket);
    route!(cfg, "/console/attachments/{id}", get => tickets::show_attachment);
    route!(cfg, "/console/institutions", get => records::list_institutions);
    route!(cfg, "/console/institutions/{slug}", get => records::show_institution, post => records::update_institution);
    route!(cfg, "/console/instances/{domain}", get => records::show_instance, post => records::update_instance);
    route!(cfg, "/console/contacts", get => records::list_contacts);
    route!(cfg, "/console/search", get => search::show_search);
    route!(cfg, "/console/reports/sla", get => console::reports::show_sla_report);
    // Console, admins only.
    route!(cfg, "/console/admin/agents", get => admin::list_agents, post => admin::create_agent);
    route!(cfg, "/console/admin/agents/{id}/active", post => admin::update_agent_active);
    route!(cfg, "/console/admin/quarantine", get => admin::list_quarantine);
    route!(cfg, "/console/admin/quarantine/{id}", get => admin::show_quarantined);
    route!(cfg, "/console/admin/quarantine/{id}/raw", get => admin::show_quarantined_raw);
    route!(cfg, "/console/admin/quarantine/{id}/retry", post => admin::retry_quarantined);
    route!(cfg, "/console/admin/quarantine/{id}/discard", post => admin::discard_quarantined);
    // Portal (customers; pages take a ContactUser, forms check CSRF, every
    // ticket/attachment lookup answers 404 outside the contact's view).
    route!(cfg, "/support", get => portal::tickets::list_tickets);
    route!(cfg, "/support/", get => portal::tickets::list_tickets);
    route!(cfg, "/support/new", get => portal::form::show_form, post => portal::form::create_ticket);
    route!(cfg, "/support/login", get => portal::auth::show_login, post => portal::auth::create_link);
    route!(cfg, "/support/login/{token}", get => portal::auth::show_link, post => portal::auth::create_session);
    route!(cfg, "/support/logout", post => portal::auth::delete_session);
    route!(cfg, "/support/tickets/{number}", get => portal::tickets::show_ticket);
    route!(cfg, "/support/tickets/{number}/reply", post => portal::tickets::create_reply);
    route!(cfg, "/support/tickets/{number}/solve", post => portal::tickets::solve_ticket);
    route!(cfg, "/support/attachments/{id}", get => portal::tickets::show_attachment);
    // JSON API v1 (every handler takes an ApiCaller and checks its scope).
    route!(cfg, "/api/v1/openapi.json", get => api::openapi::show_openapi);
    route!(cfg, "/api/v1/tickets", get => api::tickets::list_tickets, post => api::tickets::create_ticket);
    route!(cfg, "/api/v1/tickets/{number}", get => api::tickets::show_ticket, patch => api::tickets::update_ticket);
    route!(cfg, "/api/v1/tickets/{number}/messages",
        get => api::messages::list_messages, post => api::messages::create_message);
    route!(cfg, "/api/v1/tickets/{number}/sla", get => api::sla::show_ticket_sla);
    route!(cfg, "/api/v1/institutions/{slug}", get => api::institutions::show_institution,
        put => api::institutions::upsert_institution, delete => api::institutions::delete_institution);
    route!(cfg, "/api/v1/instances/{domain}", get => api::instances::show_instance,
        put => api::instances::upsert_instance, delete => api::instances::delete_instance);
    route!(cfg, "/api/v1/search", get => api::search::search_tickets);
    route!(cfg, "/api/v1/reports/sla", get => api::reports::show_sla_report);
}

/// 405 for a known path asked with another method, with the methods it
/// takes in `Allow`.
fn method_not_allowed(req: &HttpRequest, methods: &[&str]) -> HttpResponse {
    let allow = methods.iter().map(|m| m.to_ascii_uppercase()).collect::<Vec<_>>().join(", ");
    let error = AppError::new(
        crate::ErrorKind::MethodNotAllowed,
        format!("{} is not allowed here (allowed: {allow})", req.method()),
    );
    let mut res = error_for(req, error).error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        res.headers_mut().insert(actix_web::http::header::ALLOW, value);
    }
    res
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
        .app_data(web::JsonConfig::default().limit(max_body).error_handler(|err, _| {
            match err {
                actix_web::error::JsonPayloadError::ContentType => AppError::new(
                    crate::ErrorKind::UnsupportedMediaType,
                    "the body must be JSON, sent with `Content-Type: application/json`",
                ),
                err => errors::from_actix(&err),
            }
            .into()
        }))
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
                // A known path asked with a method it does not take (405) is
                // not that route's traffic.
                let route = match res.request().match_pattern() {
                    Some(pattern) if res.status() != actix_web::http::StatusCode::METHOD_NOT_ALLOWED => pattern,
                    _ => "unmatched".to_string(),
                };
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
