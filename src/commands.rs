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
        println!("Console:    {url}/console/");
        println!(
            "Demo login: {} / {} (admin), {} / {} (agent)",
            crate::demo::DEMO_ADMIN_EMAIL,
            crate::demo::DEMO_PASSWORD,
            crate::demo::DEMO_AGENT_EMAIL,
            crate::demo::DEMO_PASSWORD
        );
    }
    let recovery = spawn_intake_recovery(state.intake.clone());
    let sla_evaluator = crate::sla::evaluator::spawn(state.db.clone(), &state.config)?;
    let mail = state.config.smtp.worker.enabled.then(|| mail_worker.spawn());
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");
    let served = crate::web::serve(state).await;
    recovery.abort();
    sla_evaluator.abort();
    if let Some(mail) = mail {
        mail.shutdown().await;
    }
    served
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
    crate::seed::run(&db, &plans, options)
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
