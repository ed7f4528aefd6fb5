//! The `tusk` command: parse arguments, load the configuration, call the
//! library, map the outcome to an exit code. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tusk::commands::{self, ImportKind};
use tusk::config::{Config, ConfigError};
use tusk::db::Role;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// sysexits(3) codes, so that MTAs and scripts can tell failures apart.
const EX_DATAERR: u8 = 65;
const EX_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(name = "tusk", version, about = "Tusk: the support desk for Mastodon hosting")]
struct Cli {
    /// Configuration file layered over the built-in defaults (TUSK_* variables override both).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve HTTP and run the background workers.
    Serve {
        /// Seed demo data into an empty database and print a demo login.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administration tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Upsert records from a CSV file; each rejected line is reported.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Generate a large synthetic dataset (for benchmarks), added to what exists.
    Seed {
        /// Number of tickets to generate.
        #[arg(long)]
        tickets: u64,
        /// Seed of the random generator (same seed, same data).
        #[arg(long, default_value_t = 42)]
        rng_seed: u64,
    },
    /// Ingest .eml files, directories, mbox files or Maildirs (streaming).
    Ingest {
        /// Files or directories to read.
        #[arg(required_unless_present = "replay")]
        paths: Vec<PathBuf>,
        /// Import history: no acknowledgements, dates from the messages, staff
        /// messages become replies, solved unless the customer wrote last.
        #[arg(long)]
        backfill: bool,
        /// Reprocess the stored raw message of this inbound id instead (idempotent).
        #[arg(long, conflicts_with_all = ["paths", "backfill"])]
        replay: Option<i64>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Read one message on standard input and deliver it to POST /inbound/email
    /// (exit 0 delivered, 75 try again later, 65 refused).
    Mailgate {
        /// Base URL of Tusk, e.g. https://support.example.org
        #[arg(long)]
        url: String,
        /// File holding the inbound token (default: mail.inbound_token / TUSK_MAIL_INBOUND_TOKEN).
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Inbound messages that could not become tickets.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Print the effective configuration (secrets masked) after validation.
    Config,
    /// SLA clocks.
    #[command(subcommand)]
    Sla(SlaCommand),
    /// Reports for managers.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The search index.
    #[command(subcommand)]
    Search(SearchCommand),
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Rebuild the index from the database (safe while `tusk serve` runs).
    Reindex {
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// SLA compliance of the tickets opened between two dates (inclusive,
    /// in support.timezone), with breaches, backlog and weekly figures.
    Sla {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day (inclusive), YYYY-MM-DD.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// tier, institution, instance, priority or agent.
        #[arg(long, default_value = "tier")]
        group_by: String,
        /// table, csv or json.
        #[arg(long, default_value = "table")]
        format: String,
        /// With --format csv: summary, breaches, backlog or weekly.
        #[arg(long, default_value = "summary")]
        section: String,
    },
}

#[derive(Subcommand)]
enum SlaCommand {
    /// Replay every ticket against the current (or a proposed) policy and
    /// report what would change; writes the changes unless --dry-run.
    Recompute {
        /// Only report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// A file of proposed `[sla.<tier>]` tables instead of the configured ones.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// List quarantined messages, newest first.
    List,
    /// Process a quarantined message again (e.g. after raising a limit).
    Retry { id: i64 },
    /// Mark a quarantined message as discarded (its raw bytes stay on record).
    Discard { id: i64 },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a staff account; the password is read from the first line of standard input.
    CreateAgent {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// agent, manager or admin.
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// Create an API token; prints the token (shown once) on standard output.
    CreateToken {
        #[arg(long)]
        name: String,
        /// Comma-separated: tickets:read, tickets:write, records:read, records:write, reports:read.
        #[arg(long)]
        scopes: String,
    },
    /// List API tokens (never their secrets).
    ListTokens,
    /// Revoke an API token by id; it stops working at once.
    RevokeToken { id: i64 },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// CSV with header slug,name[,domains][,default_plan][,status].
    Institutions { file: PathBuf },
    /// CSV with header domain,institution[,plan][,status][,mastodon_version][,region][,notes].
    Instances { file: PathBuf },
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, ConfigError> {
    let loaded = Config::load(path.map(PathBuf::as_path))?;
    tusk::telemetry::init(&loaded.config.log);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    Ok(loaded.config)
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}

fn print_intake(result: anyhow::Result<tusk::domain::intake::IntakeResult>) -> ExitCode {
    match result {
        Ok(r) => {
            for step in &r.trace {
                println!("  {step}");
            }
            match r.ticket_number {
                Some(n) => println!("inbound message {}: {} (ticket #{n})", r.inbound_id, r.outcome.as_str()),
                None => println!("inbound message {}: {}", r.inbound_id, r.outcome.as_str()),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("{e:#}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_config(cli.config.as_ref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    match cli.command {
        Command::Serve { demo } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return fail(format!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(commands::serve(config, demo)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("{e:#}")),
            }
        }
        Command::Migrate => match commands::migrate(&config) {
            Ok(applied) if applied.is_empty() => {
                println!("database is up to date");
                ExitCode::SUCCESS
            }
            Ok(applied) => {
                println!("applied migrations: {}", applied.join(", "));
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{e:#}")),
        },
        Command::Admin(AdminCommand::CreateAgent { email, name, role }) => {
            let role = match role.parse::<Role>() {
                Ok(r) => r,
                Err(e) => return fail(format!("--role: {e}")),
            };
            let stdin = std::io::stdin();
            match commands::create_agent(&config, &email, &name, role, stdin.lock()) {
                Ok(message) => {
                    println!("{message}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{e:#}")),
            }
        }
        Command::Admin(AdminCommand::CreateToken { name, scopes }) => {
            match commands::create_token(&config, &name, &scopes) {
                Ok((message, secret)) => {
                    eprintln!("{message}");
                    println!("{secret}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{e:#}")),
            }
        }
        Command::Admin(AdminCommand::ListTokens) => match commands::list_tokens(&config) {
            Ok(lines) => {
                for line in lines {
                    println!("{line}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{e:#}")),
        },
        Command::Admin(AdminCommand::RevokeToken { id }) => match commands::revoke_token(&config, id) {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{e:#}")),
        },
        Command::Import(which) => {
            let (kind, file) = match which {
                ImportCommand::Institutions { file } => (ImportKind::Institutions, file),
                ImportCommand::Instances { file } => (ImportKind::Instances, file),
            };
            match commands::import(&config, kind, &file) {
                Ok(report) => {
                    for r in &report.rejected {
                        eprintln!("{}:{}: rejected: {}", file.display(), r.line, r.reason);
                    }
                    println!("{}: {}", file.display(), report.summary());
                    if report.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EX_DATAERR) }
                }
                Err(e) => fail(format!("{e:#}")),
            }
        }
        Command::Seed { tickets, rng_seed } => {
            let options = tusk::seed::SeedOptions { tickets, rng_seed, progress: true };
            let started = std::time::Instant::now();
            match commands::seed(&config, &options) {
                Ok(report) => {
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "seeded {} tickets, {} messages, {} events ({} institutions, {} instances, {} contacts, {} agents) in {secs:.1} s ({:.0} tickets/s)",
                        report.tickets,
                        report.messages,
                        report.events,
                        report.institutions,
                        report.instances,
                        report.contacts,
                        report.agents,
                        report.tickets as f64 / secs.max(0.001)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{e:#}")),
            }
        }
        Command::Ingest { paths, backfill, replay, quiet } => {
            if let Some(id) = replay {
                return print_intake(commands::replay(&config, id));
            }
            let started = std::time::Instant::now();
            match commands::ingest(&config, &paths, backfill, !quiet) {
                Ok(report) => {
                    for u in &report.unreadable {
                        eprintln!("{}: unreadable: {}", u.origin, u.reason);
                    }
                    let s = &report.summary;
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "{} messages in {secs:.1} s ({:.0}/s): {} created, {} appended, {} duplicate, {} auto-reply, {} bounce, {} quarantined, {} unreadable",
                        s.total(),
                        s.total() as f64 / secs.max(0.001),
                        s.created,
                        s.appended,
                        s.duplicate,
                        s.auto_reply,
                        s.bounce,
                        s.quarantined,
                        s.unreadable
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{e:#}")),
            }
        }
        Command::Mailgate { url, token_file } => {
            let verdict = commands::mailgate(&config, &url, token_file.as_deref(), std::io::stdin().lock());
            if verdict.exit_code == 0 {
                println!("{}", verdict.message);
            } else {
                eprintln!("tusk mailgate: {}", verdict.message);
            }
            ExitCode::from(verdict.exit_code)
        }
        Command::Quarantine(QuarantineCommand::List) => match commands::quarantine_list(&config) {
            Ok(rows) => {
                for r in &rows {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        r.id,
                        r.received_at.format("%Y-%m-%d %H:%M:%S"),
                        r.from_address.as_deref().unwrap_or("-"),
                        r.subject.as_deref().unwrap_or("-"),
                        r.reason.as_deref().unwrap_or("-")
                    );
                }
                println!("{} quarantined", rows.len());
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{e:#}")),
        },
        Command::Quarantine(QuarantineCommand::Retry { id }) => print_intake(commands::replay(&config, id)),
        Command::Quarantine(QuarantineCommand::Discard { id }) => match commands::quarantine_discard(&config, id) {
            Ok(()) => {
                println!("inbound message {id} discarded");
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{e:#}")),
        },
        Command::Config => {
            println!("{config:#?}");
            ExitCode::SUCCESS
        }
        Command::Report(ReportCommand::Sla { from, to, group_by, format, section }) => {
            match commands::report_sla(&config, from, to, &group_by, &format, &section) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{e:#}")),
            }
        }
        Command::Search(SearchCommand::Reindex { quiet }) => match commands::search_reindex(&config, !quiet) {
            Ok(r) => {
                println!(
                    "indexed {} tickets, {} messages in {:.1} s ({:.0} messages/s); {} tickets changed meanwhile queued again",
                    r.tickets,
                    r.messages,
                    r.elapsed.as_secs_f64(),
                    r.messages_per_sec(),
                    r.replayed
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("{e:#}")),
        },
        Command::Sla(SlaCommand::Recompute { dry_run, policy }) => {
            match tusk::sla::recompute::command(&config, dry_run, policy.as_deref()) {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{e:#}")),
            }
        }
    }
}
