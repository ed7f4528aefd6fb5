//! The actix-web application: state, the one route table, middleware, and
//! the server with graceful shutdown.

pub mod errors;
pub mod health;
pub mod inbound;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Compress, DefaultHeaders};
use actix_web::{App, HttpResponse, web};

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
}

impl AppState {
    pub fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        let blobs = BlobStore::open(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot open the blob store under {}: {e}", config.data_dir.display()))?;
        let plans = Plans::from_config(&config);
        let intake = Intake::new(&config, db.clone(), blobs.clone());
        Ok(Self { config: Arc::new(config), db, blobs, plans, metrics: Arc::new(Metrics::default()), intake })
    }
}

/// The one route table: every URL Tusk serves, with its guards.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::show_health))
        .route("/metrics", web::get().to(health::show_metrics))
        .route("/inbound/email", web::post().to(inbound::create_inbound_email));
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::not_found("no such page"))
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
        .app_data(web::FormConfig::default().limit(max_body).error_handler(|err, _| errors::from_actix(&err).into()))
        .app_data(web::PathConfig::default().error_handler(|err, _| errors::from_actix(&err).into()))
        .app_data(web::QueryConfig::default().error_handler(|err, _| errors::from_actix(&err).into()))
        .configure(configure)
        .default_service(web::to(not_found))
        .wrap(Compress::default())
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("X-Frame-Options", "DENY")),
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
