//! The `tusk` command: parse arguments, load the configuration, call the
//! library, map the outcome to an exit code. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tusk::commands::{self, ImportKind};
use tusk::config::{Config, ConfigError};
use tusk::db::Role;

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
    /// Print the effective configuration (secrets masked) after validation.
    Config,
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
        Command::Config => {
            println!("{config:#?}");
            ExitCode::SUCCESS
        }
    }
}
