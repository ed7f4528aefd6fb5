//! What each CLI command does, given a loaded configuration. `main.rs` only
//! parses arguments and maps results to exit codes.

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::config::Config;
use crate::db::{Db, DbOptions, Role};
use crate::domain::{Actor, Plans, agents};
use crate::import::ImportReport;
use crate::web::AppState;

/// Opens the configured database with the configured pool settings.
pub fn open_db(config: &Config) -> anyhow::Result<Db> {
    Db::connect(
        config.database.url.expose(),
        &DbOptions {
            pool_size: config.database.pool_size,
            connect_timeout: std::time::Duration::from_secs(config.database.connect_timeout_secs),
            sqlite_busy_timeout_ms: config.database.sqlite_busy_timeout_ms,
            sqlite_synchronous_full: config.database.sqlite_synchronous == crate::config::SqliteSynchronous::Full,
        },
    )
}

/// Opens the database and applies pending migrations.
pub fn open_and_migrate(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let db = open_db(config)?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(versions = ?applied, "applied migrations");
    }
    Ok(db)
}

/// `tusk migrate`: returns the versions applied.
pub fn migrate(config: &Config) -> anyhow::Result<Vec<String>> {
    let db = open_db(config)?;
    db.migrate()
}

/// Refuses to run when institutions or instances use a plan tier that the
/// configuration no longer defines (their SLAs would be undefined).
fn check_plans_in_use(config: &Config, db: &Db) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let unknown: Vec<String> =
        crate::domain::plans_in_use(&mut conn)?.into_iter().filter(|p| !config.plans.contains_key(p)).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "configuration error: plans: the database uses plan tier(s) {} that [plans] does not define",
            unknown.join(", ")
        )
    }
}

/// `tusk serve [--demo]`.
pub async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    // Email templates and the SMTP relay settings are checked before
    // anything starts: a broken template override stops start-up here.
    let templates = std::sync::Arc::new(
        crate::mail::outbound::worker::load_templates(&config).context("email templates (smtp.templates_dir)")?,
    );
    let db = open_and_migrate(&config)?;
    check_plans_in_use(&config, &db)?;
    let mail_worker = crate::mail::outbound::worker::MailWorker::from_config(&config, db.clone(), templates)?;
    let state = AppState::new(config, db)?;
    {
        let intake = state.intake.clone();
        let recovered = tokio::task::spawn_blocking(move || intake.recover(chrono::Duration::zero()))
            .await
            .map_err(|e| anyhow::anyhow!("inbound recovery failed: {e}"))??;
        if recovered > 0 {
            tracing::info!(messages = recovered, "processed inbound messages left unprocessed by the last run");
        }
    }
    if demo {
        let plans = state.plans.clone();
        let outcome = state
            .db
            .run(move |conn| crate::demo::seed_if_empty(conn, &plans))
            .await
            .map_err(|e| anyhow::anyhow!("seeding demo data failed: {e}"))?;
        let url = state.config.server.public_url.trim_end_matches('/');
        match outcome {
            crate::demo::DemoOutcome::Seeded { tickets } => println!("Demo data seeded: {tickets} tickets."),
            crate::demo::DemoOutcome::AlreadyPopulated => {
                println!("The database already has data; no demo data added.")
            }
        }
        println!("Console:    {url}/console");
        println!(
            "Demo login: {} / {} (admin), {} / {} (agent)",
            crate::demo::DEMO_ADMIN_EMAIL,
            crate::demo::DEMO_PASSWORD,
            crate::demo::DEMO_AGENT_EMAIL,
            crate::demo::DEMO_PASSWORD
        );
    }
    let recovery = spawn_intake_recovery(state.intake.clone());
    let session_purge = spawn_session_purge(state.db.clone());
    let sla_evaluator = crate::sla::evaluator::spawn(state.db.clone(), &state.config)?;
    let weekly_report = crate::reports::weekly::spawn(state.db.clone(), &state.config)?;
    let mail = state.config.smtp.worker.enabled.then(|| mail_worker.spawn());
    let indexer = start_search(&state).await;
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");
    let served = crate::web::serve(state).await;
    recovery.abort();
    session_purge.abort();
    sla_evaluator.abort();
    weekly_report.abort();
    if let Some(mail) = mail {
        mail.shutdown().await;
    }
    if let Some(indexer) = indexer {
        indexer.shutdown().await;
    }
    served
}

/// Applies the search index settings (an engine that is down is logged, not
/// fatal: the indexer retries) and starts the indexer unless disabled.
async fn start_search(state: &AppState) -> Option<crate::search::indexer::IndexerHandle> {
    if let Err(e) = state.search.prepare().await {
        tracing::error!(engine = state.search.kind(), error = ?e, "search engine not ready; the indexer will retry");
    }
    state.config.search.worker.enabled.then(|| {
        crate::search::indexer::Indexer::new(
            state.db.clone(),
            state.search.clone(),
            crate::search::indexer::IndexerSettings::from_config(&state.config),
        )
        .spawn()
    })
}

/// `tusk search reindex`: rebuilds the configured index from the database
/// (safe while `tusk serve` runs; see `search::reindex`).
pub fn search_reindex(config: &Config, progress: bool) -> anyhow::Result<crate::search::reindex::ReindexReport> {
    let db = open_and_migrate(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let engine = crate::search::open(config).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        crate::search::reindex::run(&db, engine.as_ref(), &config.support.default_plan, progress)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))
    })
}

/// Every minute, processes inbound messages whose receipt was written but
/// whose processing never finished (a crash between the two).
fn spawn_intake_recovery(intake: crate::mail::intake::Intake) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let intake = intake.clone();
            match tokio::task::spawn_blocking(move || intake.recover(chrono::Duration::seconds(60))).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(messages = n, "recovered unprocessed inbound messages"),
                Ok(Err(e)) => tracing::warn!(error = ?e, "inbound recovery failed"),
                Err(e) => tracing::warn!(error = %e, "inbound recovery task failed"),
            }
        }
    })
}

/// Drops expired browser sessions and old sign-in attempts every hour.
fn spawn_session_purge(db: crate::db::Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = db.run(crate::domain::sessions::purge_expired).await {
                tracing::warn!(error = ?e, "purging expired sessions failed");
            }
            if let Err(e) = db.run(crate::domain::portal::purge_links).await {
                tracing::warn!(error = ?e, "purging expired portal sign-in links failed");
            }
        }
    })
}

/// The inbound pipeline over the configured database and blob store.
pub fn open_intake(config: &Config) -> anyhow::Result<crate::mail::intake::Intake> {
    let db = open_and_migrate(config)?;
    let blobs = crate::storage::BlobStore::open(&config.data_dir)
        .with_context(|| format!("cannot open the blob store under {}", config.data_dir.display()))?;
    Ok(crate::mail::intake::Intake::new(config, db, blobs))
}

/// `tusk ingest PATH... [--backfill]`.
pub fn ingest(
    config: &Config,
    paths: &[std::path::PathBuf],
    backfill: bool,
    progress: bool,
) -> anyhow::Result<crate::mail::ingest::IngestReport> {
    let intake = open_intake(config)?.backfill(backfill);
    let options = crate::mail::ingest::IngestOptions { progress, ..Default::default() };
    Ok(crate::mail::ingest::run(&intake, paths, &options)?)
}

/// `tusk ingest --replay ID` and `tusk quarantine retry ID`.
pub fn replay(config: &Config, inbound_id: i64) -> anyhow::Result<crate::domain::intake::IntakeResult> {
    Ok(open_intake(config)?.replay(inbound_id)?)
}

/// `tusk quarantine list`.
pub fn quarantine_list(config: &Config) -> anyhow::Result<Vec<crate::db::models::InboundMessage>> {
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    Ok(crate::domain::intake::list_receipts(&mut conn, Some(crate::domain::intake::Outcome::Quarantined), 1000)?)
}

/// `tusk quarantine discard ID`.
pub fn quarantine_discard(config: &Config, inbound_id: i64) -> anyhow::Result<()> {
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    Ok(crate::domain::intake::discard(&mut conn, inbound_id)?)
}

/// `tusk mailgate`: returns the exit code for the MTA and a message.
pub fn mailgate(
    config: &Config,
    url: &str,
    token_file: Option<&Path>,
    mut input: impl std::io::Read,
) -> crate::mail::mailgate::Verdict {
    use crate::mail::mailgate::{EX_TEMPFAIL, Verdict};
    let token = match token_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t.trim().to_string(),
            Err(e) => {
                return Verdict { exit_code: EX_TEMPFAIL, message: format!("cannot read {}: {e}", path.display()) };
            }
        },
        None => config.mail.inbound_token().unwrap_or_default().to_string(),
    };
    let mut raw = Vec::new();
    if let Err(e) = input.read_to_end(&mut raw) {
        return Verdict {
            exit_code: EX_TEMPFAIL,
            message: format!("cannot read the message from standard input: {e}"),
        };
    }
    crate::mail::mailgate::deliver(url, &token, raw, std::time::Duration::from_secs(60))
}

/// `tusk admin create-agent`: the password is read from the first line of `password_source`.
pub fn create_agent(
    config: &Config,
    email: &str,
    name: &str,
    role: Role,
    password_source: impl BufRead,
) -> anyhow::Result<String> {
    let password = read_password(password_source)?;
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    let agent = agents::create(&mut conn, email, name, role, &password, Actor::System)?;
    Ok(format!("created {} agent {} <{}> (id {})", agent.role, agent.name, agent.email, agent.id))
}

/// `tusk admin create-token`: returns a description and the secret (shown once).
pub fn create_token(config: &Config, name: &str, scopes: &str) -> anyhow::Result<(String, String)> {
    let scopes = crate::domain::api_tokens::parse_scopes(scopes)?;
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    let (token, secret) = crate::domain::api_tokens::create(&mut conn, name, &scopes, Actor::System)?;
    Ok((
        format!(
            "created API token {} \"{}\" with scopes {}; it is shown once, below",
            token.id,
            token.name,
            token.scopes.replace(' ', ",")
        ),
        secret,
    ))
}

/// `tusk admin list-tokens`: one line per token (id, name, scopes, dates).
pub fn list_tokens(config: &Config) -> anyhow::Result<Vec<String>> {
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    let fmt = |t: Option<chrono::NaiveDateTime>| t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string());
    Ok(crate::domain::api_tokens::list(&mut conn)?
        .into_iter()
        .map(|t| {
            format!(
                "{}\t{}\t{}\tcreated {}\tlast used {}\t{}",
                t.id,
                t.name,
                t.scopes.replace(' ', ","),
                fmt(Some(t.created_at)),
                fmt(t.last_used_at),
                t.revoked_at.map_or("active".to_string(), |r| format!("revoked {}", fmt(Some(r))))
            )
        })
        .collect())
}

/// `tusk admin revoke-token ID`.
pub fn revoke_token(config: &Config, id: i64) -> anyhow::Result<String> {
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    let token = crate::domain::api_tokens::revoke(&mut conn, id, Actor::System)?;
    Ok(format!("API token {} \"{}\" is revoked", token.id, token.name))
}

fn read_password(mut source: impl BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    source.read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password given on standard input");
    }
    Ok(password)
}

/// Which records a CSV import holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Institutions,
    Instances,
}

/// `tusk import institutions|instances FILE.csv`.
pub fn import(config: &Config, kind: ImportKind, path: &Path) -> anyhow::Result<ImportReport> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    let plans = Plans::from_config(config);
    let reader = std::io::BufReader::new(file);
    let report = match kind {
        ImportKind::Institutions => crate::import::institutions(&mut conn, &plans, reader, Actor::System),
        ImportKind::Instances => crate::import::instances(&mut conn, &plans, reader, Actor::System),
    }
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(report)
}

/// `tusk seed --tickets N`.
pub fn seed(config: &Config, options: &crate::seed::SeedOptions) -> anyhow::Result<crate::seed::SeedReport> {
    let db = open_and_migrate(config)?;
    let plans = Plans::from_config(config);
    let policies = crate::sla::policy::SlaPolicies::from_config(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::seed::run_with_policies(&db, &plans, &policies, options)
}

/// `tusk report sla --from D --to D [--group-by G] [--format F] [--section S]`:
/// the report as text, CSV (one section) or JSON.
pub fn report_sla(
    config: &Config,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    group_by: &str,
    format: &str,
    section: &str,
) -> anyhow::Result<String> {
    use crate::reports;
    let group_by: reports::GroupBy =
        group_by.parse().map_err(|e: crate::AppError| anyhow::anyhow!("--group-by: {e}"))?;
    let section: reports::csv::Section =
        section.parse().map_err(|e: crate::AppError| anyhow::anyhow!("--section: {e}"))?;
    if !matches!(format, "table" | "csv" | "json") {
        anyhow::bail!("--format: expected table, csv or json, not `{format}`");
    }
    let tz = reports::ReportQuery::timezone(&config.support.timezone)?;
    let query = reports::ReportQuery::for_dates(from, to, tz, group_by, chrono::Utc::now())?;
    let db = open_and_migrate(config)?;
    let mut conn = db.get()?;
    let report = reports::sla_report(&mut conn, &query)?;
    Ok(match format {
        "csv" => reports::csv::section(&report, section)?,
        "json" => reports::to_json(&report)? + "\n",
        _ => reports::table::render_report(&report),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_from_first_line() {
        assert_eq!(read_password(&b"s3cret pass\nignored\n"[..]).unwrap(), "s3cret pass");
        assert_eq!(read_password(&b"crlf\r\n"[..]).unwrap(), "crlf");
        assert!(read_password(&b"\n"[..]).is_err());
    }
}
