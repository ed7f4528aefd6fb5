//! `tusk seed --tickets N`: a large, realistic synthetic dataset for
//! benchmarks (ticket lists, search, SLA reports), generated fast.
//!
//! Unlike [`crate::demo`], which goes through the domain functions, this
//! module writes rows directly on the inner connection, one transaction per
//! chunk of tickets: multi-row `INSERT`s on SQLite (as many rows per
//! statement as its bind-parameter limit allows) and `COPY FROM` on
//! PostgreSQL (about a third faster there than 65,535-parameter `INSERT`s).
//! It assigns ids itself from `max(id) + 1`, so that messages and events can
//! refer to their tickets without reading ids back, and moves PostgreSQL's
//! identity sequences past them. A generator thread composes the rows while
//! the calling thread writes them.
//!
//! Everything is deterministic for a given `rng_seed` and database state;
//! times are relative to the moment of the run. The run is additive: it
//! reuses the synthetic institutions (slugs `seed-…`) and agents (addresses
//! `@seed.tusk.example`) that an earlier run created and adds new tickets.
//! It expects to be the only writer while it runs, and it writes no
//! search-outbox rows (`tusk search reindex` builds the index from the
//! database).

use std::collections::{HashMap, HashSet};

use anyhow::Context as _;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::connection::SimpleConnection as _;
use diesel::dsl::max;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng, SeedableRng};

use crate::db::schema::{
    agents, contacts, counters, events, instances, institution_domains, institutions, messages, ticket_sla,
    ticket_tags, tickets,
};
use crate::db::{
    ActorKind, AnyConnection, Channel, Db, InstanceStatus, InstitutionStatus, MessageKind, Priority, Role, TicketStatus,
};
use crate::domain::Plans;
use crate::sla::policy::SlaPolicies;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Number of tickets to add.
    pub tickets: u64,
    /// Seed of the random generator; the same seed on the same database
    /// state gives the same data.
    pub rng_seed: u64,
    /// Show a progress bar on the terminal.
    pub progress: bool,
}

/// What a run added: rows created by this run (institutions, instances,
/// contacts and agents reused from an earlier run are not counted).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeedReport {
    pub institutions: u64,
    pub instances: u64,
    pub contacts: u64,
    pub agents: u64,
    pub tickets: u64,
    pub messages: u64,
    pub events: u64,
}

/// Password of the synthetic agents (`…@seed.tusk.example`), so that a
/// benchmark can sign in as one of them.
pub const SEED_AGENT_PASSWORD: &str = "tusk-seed-password";

/// Domain of the synthetic agents' addresses and of the Message-IDs.
const SEED_DOMAIN: &str = "seed.tusk.example";
/// The support address customers write to in the synthetic threads.
const SUPPORT_ADDRESS: &str = "support@tusk.example";
/// Tickets per transaction.
const TICKETS_PER_CHUNK: u64 = 5_000;
/// Chunks the generator may run ahead of the writer.
const CHUNKS_IN_FLIGHT: usize = 2;
/// Bind parameters per statement: SQLite's `SQLITE_MAX_VARIABLE_NUMBER`.
/// (PostgreSQL takes the rows through `COPY`, which has no such limit.)
const SQLITE_MAX_PARAMS: usize = 32_766;
/// Tickets are spread over this many days before now.
const HISTORY_DAYS: i64 = 730;

/// Generates `options.tickets` tickets with their threads, tags and events,
/// plus the institutions, instances, contacts and agents they need.
/// Uses the SLA policies of the built-in configuration; see
/// [`run_with_policies`].
pub fn run(db: &Db, plans: &Plans, options: &SeedOptions) -> anyhow::Result<SeedReport> {
    let config = crate::config::Config::defaults().map_err(|e| anyhow::anyhow!("{e}"))?;
    let policies = SlaPolicies::from_config(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    run_with_policies(db, plans, &policies, options)
}

/// Generates `options.tickets` tickets; each gets the SLA facts the
/// reports read (`ticket_sla`: policy snapshot, due instants, achieved
/// business times, outcomes), computed by [`crate::sla::clock`] from the
/// same status history and messages the seed writes as events, so that
/// `tusk sla recompute` finds nothing to change. (Clock segments,
/// `sla_segments`, are not written.)
pub fn run_with_policies(
    db: &Db,
    plans: &Plans,
    policies: &SlaPolicies,
    options: &SeedOptions,
) -> anyhow::Result<SeedReport> {
    let mut pooled = db.get()?;
    let conn: &mut AnyConnection = &mut pooled;
    let now = crate::db::now();
    let mut rng = StdRng::seed_from_u64(options.rng_seed);
    let mut report = SeedReport::default();

    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    if sqlite {
        // A bigger page cache for this connection speeds up index maintenance.
        conn.batch_execute("PRAGMA cache_size = -262144")?;
    }
    let result = seed(conn, plans, policies, options, now, &mut rng, &mut report);
    if sqlite {
        conn.batch_execute("PRAGMA cache_size = -2000")?;
    }
    result?;
    Ok(report)
}

fn seed(
    conn: &mut AnyConnection,
    plans: &Plans,
    policies: &SlaPolicies,
    options: &SeedOptions,
    now: NaiveDateTime,
    rng: &mut StdRng,
    report: &mut SeedReport,
) -> anyhow::Result<()> {
    let world = prepare_world(conn, plans, options.tickets, now, rng, report)?;
    if options.tickets == 0 {
        return Ok(());
    }
    let start = reserve(conn, options.tickets)?;
    let bar = progress_bar(options);
    let mut generator = Generator::new(&world, policies, options, now, start);
    let written = std::thread::scope(|scope| -> anyhow::Result<(u64, u64, u64)> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(CHUNKS_IN_FLIGHT);
        let producer = scope.spawn(move || {
            let mut from = 0;
            while from < generator.total {
                let to = (from + TICKETS_PER_CHUNK).min(generator.total);
                if tx.send(generator.chunk(from, to)).is_err() {
                    // The writer stopped on an error; it reports it.
                    return;
                }
                from = to;
            }
        });
        let mut counts = (0, 0, 0);
        for chunk in rx {
            write_chunk(conn, &chunk).context("writing a chunk of seed tickets")?;
            counts.0 += chunk.tickets.len() as u64;
            counts.1 += chunk.messages.len() as u64;
            counts.2 += chunk.events.len() as u64;
            bar.inc(chunk.tickets.len() as u64);
        }
        producer.join().map_err(|_| anyhow::anyhow!("the seed data generator panicked"))?;
        Ok(counts)
    })?;
    bar.finish_and_clear();
    report.tickets += written.0;
    report.messages += written.1;
    report.events += written.2;
    reset_sequences(conn)?;
    Ok(())
}

fn progress_bar(options: &SeedOptions) -> indicatif::ProgressBar {
    if !options.progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(options.tickets);
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} tickets ({per_sec}, {eta} left)",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
}

// ---------------------------------------------------------------------------
// Rows written by the seeder: explicit ids, and `None` stored as NULL so that
// SQLite can take many rows in one statement.

#[derive(Insertable)]
#[diesel(table_name = institutions, treat_none_as_default_value = false)]
struct SeedInstitution {
    id: i64,
    slug: String,
    name: String,
    default_plan: String,
    status: InstitutionStatus,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = institution_domains, treat_none_as_default_value = false)]
struct SeedDomain {
    id: i64,
    institution_id: i64,
    domain: String,
}

#[derive(Insertable)]
#[diesel(table_name = instances, treat_none_as_default_value = false)]
struct SeedInstance {
    id: i64,
    domain: String,
    institution_id: i64,
    plan: String,
    status: InstanceStatus,
    mastodon_version: Option<&'static str>,
    region: Option<&'static str>,
    notes: Option<&'static str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = contacts, treat_none_as_default_value = false)]
struct SeedContact {
    id: i64,
    email: String,
    name: Option<String>,
    institution_id: Option<i64>,
    is_institution_admin: bool,
    blocked: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = agents, treat_none_as_default_value = false)]
struct SeedAgent {
    id: i64,
    email: String,
    name: String,
    role: Role,
    password_hash: String,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
struct SeedTicket {
    id: i64,
    number: i64,
    subject: String,
    status: TicketStatus,
    priority: Priority,
    category: Option<&'static str>,
    channel: Channel,
    requester_id: i64,
    institution_id: Option<i64>,
    instance_id: Option<i64>,
    assignee_id: Option<i64>,
    needs_triage: bool,
    triage_reason: Option<&'static str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    first_response_at: Option<NaiveDateTime>,
    last_customer_message_at: Option<NaiveDateTime>,
    solved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    tags: String,
}

#[derive(Insertable)]
#[diesel(table_name = ticket_tags, treat_none_as_default_value = false)]
struct SeedTag {
    ticket_id: i64,
    tag: &'static str,
}

#[derive(Insertable)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
struct SeedMessage {
    id: i64,
    ticket_id: i64,
    kind: MessageKind,
    author_contact_id: Option<i64>,
    author_agent_id: Option<i64>,
    from_address: Option<String>,
    to_addresses: Option<String>,
    subject: Option<String>,
    body_text: String,
    message_id: String,
    in_reply_to: Option<String>,
    reference_ids: Option<String>,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
struct SeedEvent {
    id: i64,
    ticket_id: Option<i64>,
    subject_type: &'static str,
    subject_id: i64,
    action: &'static str,
    actor_kind: ActorKind,
    field: Option<&'static str>,
    old_value: Option<&'static str>,
    new_value: Option<&'static str>,
    data: Option<String>,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = ticket_sla, treat_none_as_default_value = false)]
struct SeedSla {
    ticket_id: i64,
    tier: String,
    priority: Priority,
    policy: String,
    state: String,
    first_response_due_at: Option<NaiveDateTime>,
    next_response_due_at: Option<NaiveDateTime>,
    resolution_due_at: Option<NaiveDateTime>,
    next_due_at: Option<NaiveDateTime>,
    next_check_at: Option<NaiveDateTime>,
    first_response_business_secs: Option<i64>,
    resolution_business_secs: Option<i64>,
    resolution_elapsed_secs: i64,
    paused_secs: i64,
    breached: bool,
    applied_at: NaiveDateTime,
    computed_at: NaiveDateTime,
    first_response_outcome: Option<String>,
    resolution_outcome: Option<String>,
    opened_at: Option<NaiveDateTime>,
    solved_at: Option<NaiveDateTime>,
}

impl From<crate::sla::store::TicketSlaRow> for SeedSla {
    fn from(r: crate::sla::store::TicketSlaRow) -> Self {
        SeedSla {
            ticket_id: r.ticket_id.0,
            tier: r.tier,
            priority: r.priority,
            policy: r.policy,
            state: r.state,
            first_response_due_at: r.first_response_due_at,
            next_response_due_at: r.next_response_due_at,
            resolution_due_at: r.resolution_due_at,
            next_due_at: r.next_due_at,
            next_check_at: r.next_check_at,
            first_response_business_secs: r.first_response_business_secs,
            resolution_business_secs: r.resolution_business_secs,
            resolution_elapsed_secs: r.resolution_elapsed_secs,
            paused_secs: r.paused_secs,
            breached: r.breached,
            applied_at: r.applied_at,
            computed_at: r.computed_at,
            first_response_outcome: r.first_response_outcome,
            resolution_outcome: r.resolution_outcome,
            opened_at: r.opened_at,
            solved_at: r.solved_at,
        }
    }
}

/// Columns per row of each seed struct, for SQLite's bind-parameter limit.
mod columns {
    pub const INSTITUTION: usize = 7;
    pub const DOMAIN: usize = 3;
    pub const INSTANCE: usize = 10;
    pub const CONTACT: usize = 8;
    pub const AGENT: usize = 8;
    pub const TICKET: usize = 20;
    pub const TAG: usize = 2;
    pub const MESSAGE: usize = 13;
    pub const EVENT: usize = 11;
    pub const SLA: usize = 21;
}

/// Inserts `rows` into `table` on the inner connection: on SQLite as many
/// rows per statement as the bind-parameter limit allows, on PostgreSQL in
/// one `COPY … FROM STDIN` (binary format).
macro_rules! insert_batched {
    ($conn:expr, $table:expr, $rows:expr, $columns:expr) => {{
        let rows = $rows;
        match &mut *$conn {
            AnyConnection::Sqlite(c) => {
                for part in rows.chunks(SQLITE_MAX_PARAMS / $columns) {
                    diesel::insert_into($table).values(part).execute(c)?;
                }
            }
            AnyConnection::Postgresql(c) => {
                diesel::copy_from($table).from_insertable(rows).execute(c)?;
            }
        }
    }};
}

/// The ids after the highest one in use.
fn next_id(conn: &mut AnyConnection, table: &str) -> anyhow::Result<i64> {
    let current: Option<i64> = match table {
        "institutions" => institutions::table.select(max(institutions::id)).first(conn)?,
        "institution_domains" => institution_domains::table.select(max(institution_domains::id)).first(conn)?,
        "instances" => instances::table.select(max(instances::id)).first(conn)?,
        "contacts" => contacts::table.select(max(contacts::id)).first(conn)?,
        "agents" => agents::table.select(max(agents::id)).first(conn)?,
        "tickets" => tickets::table.select(max(tickets::id)).first(conn)?,
        "messages" => messages::table.select(max(messages::id)).first(conn)?,
        "events" => events::table.select(max(events::id)).first(conn)?,
        other => anyhow::bail!("no id sequence for table {other}"),
    };
    Ok(current.unwrap_or(0) + 1)
}

/// Tables whose ids the seeder assigns.
const SEEDED_TABLES: [&str; 8] =
    ["institutions", "institution_domains", "instances", "contacts", "agents", "tickets", "messages", "events"];

/// On PostgreSQL, moves each identity sequence to the table's highest id so
/// that the application's own inserts continue after the seeded rows.
/// (SQLite's `INTEGER PRIMARY KEY` already takes `max(rowid) + 1`.)
fn reset_sequences(conn: &mut AnyConnection) -> anyhow::Result<()> {
    if let AnyConnection::Postgresql(c) = conn {
        for table in SEEDED_TABLES {
            c.batch_execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE((SELECT max(id) FROM {table}), 1), (SELECT max(id) FROM {table}) IS NOT NULL)"
            ))
            .with_context(|| format!("resetting the id sequence of {table}"))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Institutions, instances, contacts and agents.

/// The institutions and agents tickets are spread over.
struct World {
    institutions: Vec<WorldInstitution>,
    /// Cumulative weights of `institutions` (some customers write much more).
    cumulative: Vec<f64>,
    agents: Vec<WorldAgent>,
}

struct WorldInstitution {
    id: i64,
    name: String,
    /// Default plan tier.
    plan: String,
    instances: Vec<(i64, String)>,
    /// Plan tier of each instance, parallel to `instances`.
    instance_plans: Vec<String>,
    contacts: Vec<WorldContact>,
}

struct WorldContact {
    id: i64,
    email: String,
    /// First word of the name, for greetings.
    first_name: Option<String>,
    name: Option<String>,
}

struct WorldAgent {
    id: i64,
    name: String,
}

impl World {
    fn pick_institution(&self, rng: &mut StdRng) -> &WorldInstitution {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        &self.institutions[i.min(self.institutions.len() - 1)]
    }
}

#[derive(Clone, Copy)]
enum Kind {
    University,
    PublicBody,
    Ngo,
}

/// An institution name pattern: `{P}` is the place, `{p}` its lower-case form.
struct NamePattern {
    kind: Kind,
    name: &'static str,
    domain: &'static str,
}

const NAME_PATTERNS: &[NamePattern] = &[
    NamePattern { kind: Kind::University, name: "University of {P}", domain: "uni-{p}" },
    NamePattern { kind: Kind::University, name: "{P} Institute of Technology", domain: "{p}-tech" },
    NamePattern { kind: Kind::University, name: "{P} School of Arts", domain: "{p}-arts" },
    NamePattern { kind: Kind::University, name: "{P} College", domain: "{p}-college" },
    NamePattern { kind: Kind::University, name: "{P} University of Applied Sciences", domain: "{p}-uas" },
    NamePattern { kind: Kind::University, name: "{P} Research Centre", domain: "{p}-research" },
    NamePattern { kind: Kind::PublicBody, name: "City of {P}", domain: "city-of-{p}" },
    NamePattern { kind: Kind::PublicBody, name: "{P} County Council", domain: "{p}-county" },
    NamePattern { kind: Kind::PublicBody, name: "{P} Public Library", domain: "{p}-library" },
    NamePattern { kind: Kind::PublicBody, name: "{P} Regional Archives", domain: "{p}-archives" },
    NamePattern { kind: Kind::PublicBody, name: "{P} Transport Authority", domain: "{p}-transport" },
    NamePattern { kind: Kind::PublicBody, name: "{P} Health Board", domain: "{p}-health" },
    NamePattern { kind: Kind::Ngo, name: "{P} Climate Network", domain: "{p}-climate" },
    NamePattern { kind: Kind::Ngo, name: "Friends of {P} Wetlands", domain: "{p}-wetlands" },
    NamePattern { kind: Kind::Ngo, name: "{P} Digital Rights Foundation", domain: "{p}-digitalrights" },
    NamePattern { kind: Kind::Ngo, name: "{P} Refugee Support", domain: "{p}-refugees" },
    NamePattern { kind: Kind::Ngo, name: "{P} Open Knowledge Society", domain: "{p}-openknowledge" },
    NamePattern { kind: Kind::Ngo, name: "{P} Food Bank Alliance", domain: "{p}-foodbank" },
];

const PLACES: &[&str] = &[
    "Northvale",
    "Eastmere",
    "Westmarch",
    "Highmoor",
    "Lowfield",
    "Brightwater",
    "Stonebridge",
    "Rivenholt",
    "Oakhaven",
    "Fairholm",
    "Elmsworth",
    "Greywater",
    "Silverlake",
    "Thornbury",
    "Kestrelmoor",
    "Larkspur",
    "Ravensholm",
    "Wrenfield",
    "Marlowe",
    "Corrin",
    "Valdoria",
    "Estrava",
    "Nordhavn",
    "Lindemark",
    "Bellacourt",
    "Montclaire",
    "Aubec",
    "Kaldera",
    "Sundby",
    "Vesterholm",
    "Amberley",
    "Coldharbour",
    "Dunmore",
    "Glenarvon",
    "Harrowgate",
    "Ironbridge",
    "Juniper",
    "Kingsmere",
    "Lochmoor",
    "Millbrook",
    "Newhaven",
    "Oldcastle",
    "Pinewood",
    "Queensford",
    "Rosemarch",
    "Saltmarsh",
    "Tidewater",
    "Umberfield",
];

const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kaja", "Lars", "Maya",
    "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tove", "Ugo", "Vera", "Wim", "Xenia", "Yusuf", "Zofia",
    "Amara", "Bruno", "Chiara", "Dmitri", "Emma", "Felix", "Hana", "Ivo", "Julia", "Kenji", "Lea", "Mateo", "Noor",
    "Oskar", "Priya", "Rafael", "Sofia", "Tomas", "Lina", "Aiko", "Marek", "Sanne",
];

const LAST_NAMES: &[&str] = &[
    "Andersen",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quist",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Urban",
    "Vasquez",
    "Weber",
    "Yilmaz",
    "Zimmermann",
    "Berg",
    "Conti",
    "Dahl",
    "Evans",
    "Fontaine",
    "Gomez",
    "Haddad",
    "Ito",
    "Kaur",
    "Lindqvist",
    "Meyer",
    "Nakamura",
    "Olsen",
    "Silva",
    "Virtanen",
];

const MASTODON_VERSIONS: &[&str] = &["4.4.1", "4.3.8", "4.3.6", "4.2.15", "4.2.10", "4.1.22", "3.5.19"];
const REGIONS: &[&str] = &["eu-central", "eu-west", "eu-north", "ca-east", "us-east"];
const INSTANCE_PREFIXES: &[&str] = &["social", "mastodon", "community"];

/// Builds the world tickets are spread over: creates the synthetic
/// institutions (with domains, instances and contacts) and agents that do
/// not exist yet, and loads those that an earlier run created.
fn prepare_world(
    conn: &mut AnyConnection,
    plans: &Plans,
    tickets: u64,
    now: NaiveDateTime,
    rng: &mut StdRng,
    report: &mut SeedReport,
) -> anyhow::Result<World> {
    let (main_plan, other_plan) = plan_pair(plans)?;
    let wanted = usize::try_from((tickets / 5_000).clamp(20, 500))?;
    let names = institution_names(rng, wanted);

    let slugs: Vec<String> = names.iter().map(|(slug, _, _)| slug.clone()).collect();
    let existing: HashMap<String, i64> = institutions::table
        .filter(institutions::slug.eq_any(&slugs))
        .select((institutions::slug, institutions::id))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let taken_domains: HashSet<String> =
        institution_domains::table.select(institution_domains::domain).load::<String>(conn)?.into_iter().collect();
    let taken_instances: HashSet<String> =
        instances::table.select(instances::domain).load::<String>(conn)?.into_iter().collect();

    let mut ids = (
        next_id(conn, "institutions")?,
        next_id(conn, "institution_domains")?,
        next_id(conn, "instances")?,
        next_id(conn, "contacts")?,
    );
    let mut new_institutions = Vec::new();
    let mut new_domains = Vec::new();
    let mut new_instances = Vec::new();
    let mut new_contacts = Vec::new();
    let mut world_ids = Vec::new();
    for (slug, name, stem) in names {
        // Each institution draws the same numbers whether it is new or not,
        // so reusing one does not shift the others.
        let mut own = StdRng::seed_from_u64(rng.random());
        if let Some(&id) = existing.get(&slug) {
            world_ids.push(id);
            continue;
        }
        let domain = format!("{stem}.example");
        if taken_domains.contains(&domain) {
            continue;
        }
        let id = ids.0;
        ids.0 += 1;
        world_ids.push(id);
        let created = now - TimeDelta::days(HISTORY_DAYS + own.random_range(1..365));
        let plan = if own.random_bool(0.6) { &main_plan } else { &other_plan };
        new_institutions.push(SeedInstitution {
            id,
            slug,
            name,
            default_plan: plan.clone(),
            status: InstitutionStatus::Active,
            created_at: created,
            updated_at: created,
        });
        new_domains.push(SeedDomain { id: ids.1, institution_id: id, domain: domain.clone() });
        ids.1 += 1;
        let instance_count = *[1usize, 1, 1, 2, 2, 3].choose(&mut own).unwrap_or(&1);
        for prefix in &INSTANCE_PREFIXES[..instance_count] {
            let instance_domain = format!("{prefix}.{domain}");
            if taken_instances.contains(&instance_domain) {
                continue;
            }
            let status = match own.random_range(0..100) {
                0..3 => InstanceStatus::Suspended,
                3..5 => InstanceStatus::Provisioning,
                _ => InstanceStatus::Active,
            };
            let instance_plan = if own.random_bool(0.85) {
                plan.clone()
            } else if plan == &main_plan {
                other_plan.clone()
            } else {
                main_plan.clone()
            };
            new_instances.push(SeedInstance {
                id: ids.2,
                domain: instance_domain,
                institution_id: id,
                plan: instance_plan,
                status,
                mastodon_version: MASTODON_VERSIONS.choose(&mut own).copied(),
                region: REGIONS.choose(&mut own).copied(),
                notes: own.random_bool(0.1).then_some("Synthetic instance created by tusk seed."),
                created_at: created,
                updated_at: created,
            });
            ids.2 += 1;
        }
        let contact_count = own.random_range(6..=14);
        let mut emails = HashSet::new();
        for n in 0..contact_count {
            let (email, person) = if n == 1 && own.random_bool(0.3) {
                (format!("it-helpdesk@{domain}"), None)
            } else {
                let first = FIRST_NAMES.choose(&mut own).copied().unwrap_or("Alex");
                let last = LAST_NAMES.choose(&mut own).copied().unwrap_or("Smith");
                (format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()), Some(format!("{first} {last}")))
            };
            if !emails.insert(email.clone()) {
                continue;
            }
            new_contacts.push(SeedContact {
                id: ids.3,
                email,
                name: person.or_else(|| Some("IT Helpdesk".to_string())),
                institution_id: Some(id),
                is_institution_admin: n == 0,
                blocked: false,
                created_at: created,
                updated_at: created,
            });
            ids.3 += 1;
        }
    }
    // Addresses that already exist (a real contact in a synthetic domain)
    // are left to their owner.
    let mut taken_emails = HashSet::new();
    for part in new_contacts.chunks(500) {
        let candidates: Vec<&str> = part.iter().map(|c| c.email.as_str()).collect();
        taken_emails.extend(
            contacts::table.filter(contacts::email.eq_any(&candidates)).select(contacts::email).load::<String>(conn)?,
        );
    }
    new_contacts.retain(|c| !taken_emails.contains(&c.email));

    let new_agents = agent_rows(conn, tickets, now, rng)?;

    conn.transaction(|conn| -> QueryResult<()> {
        insert_batched!(conn, institutions::table, &new_institutions, columns::INSTITUTION);
        insert_batched!(conn, institution_domains::table, &new_domains, columns::DOMAIN);
        insert_batched!(conn, instances::table, &new_instances, columns::INSTANCE);
        insert_batched!(conn, contacts::table, &new_contacts, columns::CONTACT);
        insert_batched!(conn, agents::table, &new_agents, columns::AGENT);
        Ok(())
    })
    .context("writing the seed institutions and agents")?;
    report.institutions += new_institutions.len() as u64;
    report.instances += new_instances.len() as u64;
    report.contacts += new_contacts.len() as u64;
    report.agents += new_agents.len() as u64;
    reset_sequences(conn)?;

    load_world(conn, &world_ids, rng)
}

/// The two tiers to spread institutions over, the first taking ~60%:
/// `single` and `managed` when configured, else the first two ids.
fn plan_pair(plans: &Plans) -> anyhow::Result<(String, String)> {
    let ids = plans.ids();
    let has = |p: &str| ids.iter().any(|id| id == p);
    let main = if has("single") {
        "single".to_string()
    } else {
        match ids.first() {
            Some(id) => id.clone(),
            None => plans.resolve(None).map_err(|e| anyhow::anyhow!("{e}"))?,
        }
    };
    let other = if has("managed") && main != "managed" {
        "managed".to_string()
    } else {
        ids.iter().find(|id| **id != main).cloned().unwrap_or_else(|| main.clone())
    };
    Ok((main, other))
}

/// `wanted` distinct (slug, name, domain stem) triples: ~40% universities,
/// ~35% public bodies, ~25% NGOs.
fn institution_names(rng: &mut StdRng, wanted: usize) -> Vec<(String, String, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(wanted);
    let mut attempts = 0u32;
    while out.len() < wanted {
        attempts += 1;
        let kind = match rng.random_range(0..100) {
            0..40 => Kind::University,
            40..75 => Kind::PublicBody,
            _ => Kind::Ngo,
        };
        let patterns: Vec<&NamePattern> =
            NAME_PATTERNS.iter().filter(|p| std::mem::discriminant(&p.kind) == std::mem::discriminant(&kind)).collect();
        let (Some(pattern), Some(place)) = (patterns.choose(rng), PLACES.choose(rng)) else {
            break;
        };
        let lower = place.to_lowercase();
        let mut name = pattern.name.replace("{P}", place);
        let mut stem = pattern.domain.replace("{p}", &lower);
        if attempts > 20_000 {
            // Every combination is taken: number the duplicates.
            name = format!("{name} {}", out.len());
            stem = format!("{stem}-{}", out.len());
        }
        if !seen.insert(stem.clone()) {
            continue;
        }
        out.push((format!("seed-{stem}"), name, stem));
    }
    out
}

/// The synthetic agents that do not exist yet: ~1 per 20,000 tickets
/// (5–50), mostly agents, a few managers and admins. The password is hashed
/// once (argon2 is slow) and shared.
fn agent_rows(
    conn: &mut AnyConnection,
    tickets: u64,
    now: NaiveDateTime,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<SeedAgent>> {
    let wanted = usize::try_from((tickets / 20_000).clamp(5, 50))?;
    let admins = 1 + wanted / 25;
    let managers = 1 + wanted / 10;
    let mut people = Vec::with_capacity(wanted);
    let mut seen = HashSet::new();
    while people.len() < wanted {
        let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Alex");
        let last = LAST_NAMES.choose(rng).copied().unwrap_or("Smith");
        let email = format!("{}.{}@{SEED_DOMAIN}", first.to_lowercase(), last.to_lowercase());
        if seen.insert(email.clone()) {
            people.push((email, format!("{first} {last}")));
        }
    }
    let emails: Vec<&str> = people.iter().map(|(e, _)| e.as_str()).collect();
    let existing: HashSet<String> = agents::table
        .filter(agents::email.eq_any(&emails))
        .select(agents::email)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    if people.iter().all(|(email, _)| existing.contains(email)) {
        return Ok(Vec::new());
    }
    let hash = crate::domain::agents::hash_password(SEED_AGENT_PASSWORD)?;
    let mut id = next_id(conn, "agents")?;
    let mut rows = Vec::new();
    for (n, (email, name)) in people.into_iter().enumerate() {
        if existing.contains(&email) {
            continue;
        }
        let role = if n < admins {
            Role::Admin
        } else if n < admins + managers {
            Role::Manager
        } else {
            Role::Agent
        };
        let created = now - TimeDelta::days(HISTORY_DAYS + 30);
        rows.push(SeedAgent {
            id,
            email,
            name,
            role,
            password_hash: hash.clone(),
            active: true,
            created_at: created,
            updated_at: created,
        });
        id += 1;
    }
    Ok(rows)
}

/// Loads the instances and contacts of the world's institutions, and the
/// synthetic agents, in id order.
fn load_world(conn: &mut AnyConnection, institution_ids: &[i64], rng: &mut StdRng) -> anyhow::Result<World> {
    let mut by_id: HashMap<i64, WorldInstitution> = HashMap::new();
    for part in institution_ids.chunks(500) {
        for (id, name, plan) in institutions::table
            .filter(institutions::id.eq_any(part))
            .select((institutions::id, institutions::name, institutions::default_plan))
            .load::<(i64, String, String)>(conn)?
        {
            by_id.insert(
                id,
                WorldInstitution {
                    id,
                    name,
                    plan,
                    instances: Vec::new(),
                    instance_plans: Vec::new(),
                    contacts: Vec::new(),
                },
            );
        }
        for (id, domain, institution, plan) in instances::table
            .filter(instances::institution_id.eq_any(part))
            .order(instances::id.asc())
            .select((instances::id, instances::domain, instances::institution_id, instances::plan))
            .load::<(i64, String, i64, String)>(conn)?
        {
            if let Some(i) = by_id.get_mut(&institution) {
                i.instances.push((id, domain));
                i.instance_plans.push(plan);
            }
        }
        for (id, email, name, institution) in contacts::table
            .filter(contacts::institution_id.eq_any(part))
            .filter(contacts::blocked.eq(false))
            .order(contacts::id.asc())
            .select((contacts::id, contacts::email, contacts::name, contacts::institution_id))
            .load::<(i64, String, Option<String>, Option<i64>)>(conn)?
        {
            if let Some(i) = institution.and_then(|i| by_id.get_mut(&i)) {
                i.contacts.push(WorldContact {
                    id,
                    email,
                    first_name: name
                        .as_deref()
                        .and_then(|n| n.split_whitespace().next())
                        .filter(|_| name.as_deref() != Some("IT Helpdesk"))
                        .map(str::to_string),
                    name,
                });
            }
        }
    }
    let mut institutions = Vec::new();
    for id in institution_ids {
        if let Some(i) = by_id.remove(id)
            && !i.contacts.is_empty()
        {
            institutions.push(i);
        }
    }
    if institutions.is_empty() {
        anyhow::bail!("no synthetic institution with contacts is available to seed tickets for");
    }
    // Log-uniform weights between 0.2 and 5: a few institutions write a lot.
    let mut cumulative = Vec::with_capacity(institutions.len());
    let mut total = 0.0;
    for _ in &institutions {
        total += (rng.random_range(-1.6f64..1.6)).exp();
        cumulative.push(total);
    }
    let agents: Vec<WorldAgent> = agents::table
        .filter(agents::email.like(format!("%@{SEED_DOMAIN}")))
        .filter(agents::active.eq(true))
        .order(agents::id.asc())
        .select((agents::id, agents::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, name)| WorldAgent { id, name })
        .collect();
    if agents.is_empty() {
        anyhow::bail!("no active synthetic agent is available to assign seed tickets to");
    }
    Ok(World { institutions, cumulative, agents })
}

/// Ids and ticket numbers where this run starts.
#[derive(Debug, Clone, Copy)]
struct Start {
    ticket_id: i64,
    message_id: i64,
    event_id: i64,
    number: i64,
}

/// Finds the first free ids and reserves `count` ticket numbers by moving
/// the `ticket_number` counter past them before any ticket is written, so
/// that an interrupted run never leaves numbers the counter will hand out.
fn reserve(conn: &mut AnyConnection, count: u64) -> anyhow::Result<Start> {
    let count = i64::try_from(count)?;
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        let counter: Option<i64> =
            counters::table.find("ticket_number").select(counters::value).first(conn).optional()?;
        let highest: Option<i64> = tickets::table.select(max(tickets::number)).first(conn)?;
        let number = counter.unwrap_or(0).max(highest.unwrap_or(0)) + 1;
        let last = number + count - 1;
        if counter.is_some() {
            diesel::update(counters::table.find("ticket_number")).set(counters::value.eq(last)).execute(conn)?;
        } else {
            diesel::insert_into(counters::table)
                .values((counters::name.eq("ticket_number"), counters::value.eq(last)))
                .execute(conn)?;
        }
        Ok(Start {
            ticket_id: next_id(conn, "tickets")?,
            message_id: next_id(conn, "messages")?,
            event_id: next_id(conn, "events")?,
            number,
        })
    })
}

// ---------------------------------------------------------------------------
// Tickets and threads.

/// The rows of one transaction.
#[derive(Default)]
struct Chunk {
    tickets: Vec<SeedTicket>,
    tags: Vec<SeedTag>,
    messages: Vec<SeedMessage>,
    events: Vec<SeedEvent>,
    sla: Vec<SeedSla>,
}

fn write_chunk(conn: &mut AnyConnection, chunk: &Chunk) -> QueryResult<()> {
    conn.transaction(|conn| {
        insert_batched!(conn, tickets::table, &chunk.tickets, columns::TICKET);
        insert_batched!(conn, ticket_tags::table, &chunk.tags, columns::TAG);
        insert_batched!(conn, messages::table, &chunk.messages, columns::MESSAGE);
        insert_batched!(conn, events::table, &chunk.events, columns::EVENT);
        insert_batched!(conn, ticket_sla::table, &chunk.sla, columns::SLA);
        if let AnyConnection::Postgresql(c) = conn {
            // Keep the sequences ahead of the rows written so far, so that an
            // interrupted run leaves a usable database.
            let last = |ids: Option<i64>, table: &str| {
                ids.map(|id| format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), {id});"))
            };
            let sql: String = [
                last(chunk.tickets.last().map(|t| t.id), "tickets"),
                last(chunk.messages.last().map(|m| m.id), "messages"),
                last(chunk.events.last().map(|e| e.id), "events"),
            ]
            .into_iter()
            .flatten()
            .collect();
            c.batch_execute(&sql)?;
        }
        Ok(())
    })
}

/// Composes tickets; runs on its own thread.
struct Generator<'w> {
    world: &'w World,
    policies: &'w SlaPolicies,
    rng: StdRng,
    now: NaiveDateTime,
    history_start: NaiveDateTime,
    total: u64,
    next: Start,
}

/// Statuses by ticket age: recent tickets are still being worked on, old
/// ones are mostly closed.
const STATUS_BY_AGE: &[(f64, [u32; 6])] = &[
    // age below (days): new, open, pending, on_hold, solved, closed
    (2.0, [35, 30, 15, 5, 15, 0]),
    (14.0, [8, 20, 17, 8, 40, 7]),
    (60.0, [1, 5, 5, 4, 25, 60]),
    (f64::INFINITY, [0, 1, 1, 1, 3, 94]),
];
const STATUSES: [TicketStatus; 6] = [
    TicketStatus::New,
    TicketStatus::Open,
    TicketStatus::Pending,
    TicketStatus::OnHold,
    TicketStatus::Solved,
    TicketStatus::Closed,
];

impl<'w> Generator<'w> {
    fn new(
        world: &'w World,
        policies: &'w SlaPolicies,
        options: &SeedOptions,
        now: NaiveDateTime,
        start: Start,
    ) -> Self {
        Self {
            world,
            policies,
            rng: StdRng::seed_from_u64(options.rng_seed ^ 0x7475_736b_7365_6564),
            now,
            history_start: now - TimeDelta::days(HISTORY_DAYS),
            total: options.tickets,
            next: start,
        }
    }

    /// Tickets `from..to` of this run.
    fn chunk(&mut self, from: u64, to: u64) -> Chunk {
        let n = usize::try_from(to - from).unwrap_or(0);
        let mut chunk = Chunk {
            tickets: Vec::with_capacity(n),
            tags: Vec::with_capacity(n * 2),
            messages: Vec::with_capacity(n * 4),
            events: Vec::with_capacity(n * 3),
            sla: Vec::with_capacity(n),
        };
        for index in from..to {
            self.ticket(index, &mut chunk);
        }
        chunk
    }

    fn ticket(&mut self, index: u64, chunk: &mut Chunk) {
        let world = self.world;
        let rng = &mut self.rng;
        let id = self.next.ticket_id;
        let number = self.next.number;
        self.next.ticket_id += 1;
        self.next.number += 1;

        // Creation times grow with the index and thicken towards now: the
        // daily volume rises linearly from half to one and a half times the
        // average, so ids follow time as in a real desk.
        let span = (self.now - self.history_start).num_seconds() as f64;
        let p = (index as f64 + rng.random::<f64>()) / self.total as f64;
        let created = self.history_start + TimeDelta::seconds((span * time_fraction(p)) as i64);
        let age_secs = (self.now - created).num_seconds().max(0);
        let age_days = age_secs as f64 / 86_400.0;
        let weights = STATUS_BY_AGE.iter().find(|(limit, _)| age_days < *limit).map_or([0, 0, 0, 0, 0, 1], |(_, w)| *w);
        let status = STATUSES[weighted_index(rng, &weights)];
        let priority =
            [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent][weighted_index(rng, &[10, 60, 22, 8])];
        let channel = [Channel::Email, Channel::Web, Channel::Api][weighted_index(rng, &[80, 15, 5])];

        let institution = world.pick_institution(rng);
        let contacts = &institution.contacts;
        // The first contacts of an institution write most of its tickets.
        let contact = &contacts[((rng.random::<f64>().powi(2)) * contacts.len() as f64) as usize % contacts.len()];
        let instance = if !institution.instances.is_empty() && rng.random_bool(0.85) {
            institution.instances.choose(rng)
        } else {
            None
        };
        let triage = instance.is_none() && institution.instances.len() > 1 && !status.is_done() && rng.random_bool(0.6);
        let topic = &TOPICS[rng.random_range(0..TOPICS.len())];
        let domain = instance.map_or("our instance", |(_, d)| d.as_str());
        let subject = fill(topic.subjects.choose(rng).copied().unwrap_or("Question"), domain);

        let kinds = thread_plan(rng, status);
        let has_reply = kinds.contains(&MessageKind::Reply);
        let assignee = if has_reply || (status != TicketStatus::New && rng.random_bool(0.8)) || rng.random_bool(0.1) {
            world.agents.choose(rng)
        } else {
            None
        };

        // Gaps between messages, then squeezed into the ticket's age.
        let mut gaps: Vec<i64> = Vec::with_capacity(kinds.len() + 1);
        gaps.push(0);
        for pair in kinds.windows(2) {
            gaps.push(gap(rng, pair[0], pair[1], priority));
        }
        let close_gap = if status == TicketStatus::Closed { rng.random_range(3 * 86_400..7 * 86_400) } else { 0 };
        let needed: i64 = gaps.iter().sum::<i64>() + close_gap;
        let available = (age_secs - 60).max(0);
        let scale = if needed > available && needed > 0 { available as f64 / needed as f64 } else { 1.0 };

        let mut at = created;
        let mut first_response = None;
        let mut last_customer = None;
        let mut thread_ids: Vec<String> = Vec::with_capacity(kinds.len());
        let mut timeline: Vec<(NaiveDateTime, MessageKind)> = Vec::with_capacity(kinds.len());
        let agent_name = assignee.map_or("The support team", |a| a.name.as_str());
        for (n, (&kind, &g)) in kinds.iter().zip(&gaps).enumerate() {
            at += TimeDelta::seconds((g as f64 * scale) as i64);
            timeline.push((at, kind));
            let message_id = format!("seed.{id}.{}@{SEED_DOMAIN}", n + 1);
            let (author_contact, author_agent, from, to, msg_subject) = match kind {
                MessageKind::Inbound => {
                    last_customer = Some(at);
                    (
                        Some(contact.id),
                        None,
                        Some(contact.email.clone()),
                        Some(SUPPORT_ADDRESS.to_string()),
                        Some(if n == 0 { subject.clone() } else { format!("Re: [#{number}] {subject}") }),
                    )
                }
                MessageKind::Reply => {
                    if first_response.is_none() {
                        first_response = Some(at);
                    }
                    (
                        None,
                        assignee.map(|a| a.id),
                        Some(SUPPORT_ADDRESS.to_string()),
                        Some(contact.email.clone()),
                        Some(format!("Re: [#{number}] {subject}")),
                    )
                }
                MessageKind::Note => {
                    let writer = if rng.random_bool(0.7) { assignee } else { world.agents.choose(rng) };
                    (None, writer.map(|a| a.id), None, None, None)
                }
            };
            let body = compose(rng, kind, n > 0, topic, domain, contact, &institution.name, agent_name);
            let (in_reply_to, references) = if kind == MessageKind::Note || thread_ids.is_empty() {
                (None, None)
            } else {
                (thread_ids.last().cloned(), Some(thread_ids.join(" ")))
            };
            if kind != MessageKind::Note {
                thread_ids.push(message_id.clone());
            }
            chunk.messages.push(SeedMessage {
                id: self.next.message_id,
                ticket_id: id,
                kind,
                author_contact_id: author_contact,
                author_agent_id: author_agent,
                from_address: from,
                to_addresses: to,
                subject: msg_subject,
                body_text: body,
                message_id,
                in_reply_to,
                reference_ids: references,
                created_at: at,
            });
            self.next.message_id += 1;
        }
        let last_message = at;
        let solved_at = status.is_done().then_some(last_message);
        let closed_at = (status == TicketStatus::Closed)
            .then(|| (last_message + TimeDelta::seconds((close_gap as f64 * scale) as i64)).min(self.now));

        let tag_count = weighted_index(rng, &[20, 45, 25, 10]);
        let mut tags: Vec<&'static str> = Vec::with_capacity(tag_count);
        if tag_count > 0 {
            tags.push(topic.tag);
        }
        while tags.len() < tag_count {
            let extra = TOPICS[rng.random_range(0..TOPICS.len())].tag;
            if !tags.contains(&extra) {
                tags.push(extra);
            }
        }
        tags.sort_unstable();
        let triage_reason =
            triage.then_some("The institution has several instances and the message names none of them.");

        let data = serde_json::json!({
            "number": number,
            "subject": subject,
            "status": TicketStatus::New,
            "priority": priority,
            "channel": channel,
            "requester_id": contact.id,
            "institution_id": institution.id,
            "instance_id": instance.map(|(i, _)| *i),
            "assignee_id": assignee.map(|a| a.id),
            "tags": tags,
            "triage_reason": triage_reason,
            "source": "seed",
        });
        chunk.events.push(SeedEvent {
            id: self.next.event_id,
            ticket_id: Some(id),
            subject_type: "ticket",
            subject_id: id,
            action: "ticket.created",
            actor_kind: ActorKind::System,
            field: None,
            old_value: None,
            new_value: None,
            data: Some(data.to_string()),
            created_at: created,
        });
        self.next.event_id += 1;
        // The status history the domain would have written: open at the
        // first reply (or at once without one), then the final status at
        // the last message, closed after the close gap.
        let mut changes: Vec<(NaiveDateTime, TicketStatus, TicketStatus)> = Vec::with_capacity(3);
        if status != TicketStatus::New {
            changes.push((first_response.unwrap_or(created), TicketStatus::New, TicketStatus::Open));
            match status {
                TicketStatus::Pending | TicketStatus::OnHold | TicketStatus::Solved => {
                    changes.push((last_message, TicketStatus::Open, status));
                }
                TicketStatus::Closed => {
                    changes.push((last_message, TicketStatus::Open, TicketStatus::Solved));
                    changes.push((closed_at.unwrap_or(last_message), TicketStatus::Solved, TicketStatus::Closed));
                }
                TicketStatus::New | TicketStatus::Open => {}
            }
        }
        for &(at, old, new) in &changes {
            chunk.events.push(SeedEvent {
                id: self.next.event_id,
                ticket_id: Some(id),
                subject_type: "ticket",
                subject_id: id,
                action: "ticket.status_changed",
                actor_kind: ActorKind::System,
                field: Some("status"),
                old_value: Some(old.as_str()),
                new_value: Some(new.as_str()),
                data: None,
                created_at: at,
            });
            self.next.event_id += 1;
        }
        // The SLA clock from those facts, as the engine computes it.
        let tier = instance
            .and_then(|(i, _)| institution.instances.iter().position(|(j, _)| j == i))
            .and_then(|k| institution.instance_plans.get(k))
            .unwrap_or(&institution.plan);
        if let Some(policy) = self.policies.get(Some(tier), priority) {
            let facts = crate::sla::clock::Facts {
                created_at: created.and_utc(),
                initial_status: TicketStatus::New,
                status_changes: changes.iter().map(|(at, _, new)| (at.and_utc(), *new)).collect(),
                messages: timeline.iter().map(|(at, kind)| (at.and_utc(), *kind)).collect(),
            };
            let now = self.now.and_utc();
            let clocks = crate::sla::clock::compute(&facts, &policy.snapshot, &policy.calendar, now);
            let sla_ticket = crate::sla::store::RowTicket {
                id: crate::db::TicketId(id),
                done: status.is_done(),
                opened_at: created,
                solved_at,
            };
            if let Ok(row) = crate::sla::store::computed_row(sla_ticket, policy, &clocks, created, now) {
                chunk.sla.push(row.into());
            }
        }
        let tags_text = crate::domain::tickets::tags_text(&tags.iter().map(|t| t.to_string()).collect::<Vec<_>>());
        chunk.tags.extend(tags.into_iter().map(|tag| SeedTag { ticket_id: id, tag }));
        chunk.tickets.push(SeedTicket {
            id,
            number,
            subject,
            status,
            priority,
            category: Some(topic.category),
            channel,
            requester_id: contact.id,
            institution_id: Some(institution.id),
            instance_id: instance.map(|(i, _)| *i),
            assignee_id: assignee.map(|a| a.id),
            needs_triage: triage,
            triage_reason,
            created_at: created,
            updated_at: closed_at.unwrap_or(last_message).max(last_message),
            first_response_at: first_response,
            last_customer_message_at: last_customer,
            solved_at,
            closed_at,
            tags: tags_text,
        });
    }
}

/// Where in the history (0 = two years ago, 1 = now) the ticket at quantile
/// `p` falls, for a volume density rising linearly from 0.5 to 1.5: solves
/// `0.5 x + 0.5 x² = p`.
fn time_fraction(p: f64) -> f64 {
    ((0.25 + 2.0 * p).sqrt() - 0.5).clamp(0.0, 1.0)
}

/// Picks an index with probability proportional to its weight.
fn weighted_index(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.random_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// The kinds of a thread's messages, consistent with the ticket's status:
/// new tickets have no reply yet, pending ones end with a reply (waiting on
/// the customer), open ones with a customer message, solved and closed ones
/// with the agent's solution; notes are sprinkled before some replies.
fn thread_plan(rng: &mut StdRng, status: TicketStatus) -> Vec<MessageKind> {
    use MessageKind::{Inbound, Note, Reply};
    let len = match status {
        TicketStatus::New => [1, 2][weighted_index(rng, &[85, 15])],
        TicketStatus::Open => [1, 3, 5][weighted_index(rng, &[15, 60, 25])],
        TicketStatus::Pending => [2, 4, 6][weighted_index(rng, &[55, 35, 10])],
        TicketStatus::OnHold => [2, 4][weighted_index(rng, &[60, 40])],
        TicketStatus::Solved | TicketStatus::Closed => [2, 4, 6][weighted_index(rng, &[50, 35, 15])],
    };
    let mut kinds = Vec::with_capacity(6);
    for n in 0..len {
        let kind = if status == TicketStatus::New || n % 2 == 0 { Inbound } else { Reply };
        if kind == Reply && kinds.len() + (len - n) < 6 && rng.random_bool(0.12) {
            kinds.push(Note);
        }
        kinds.push(kind);
    }
    if status == TicketStatus::OnHold && kinds.len() < 6 && rng.random_bool(0.5) {
        kinds.push(Note);
    }
    kinds
}

/// Seconds between two thread entries: agents answer faster on urgent
/// tickets; customers take from minutes to days.
fn gap(rng: &mut StdRng, previous: MessageKind, next: MessageKind, priority: Priority) -> i64 {
    let (low, high) = match (previous, next) {
        (_, MessageKind::Note) => (5.0, 120.0),
        (_, MessageKind::Reply) => match priority {
            Priority::Urgent => (5.0, 240.0),
            Priority::High => (15.0, 600.0),
            Priority::Normal => (30.0, 1_440.0),
            Priority::Low => (60.0, 4_320.0),
        },
        (MessageKind::Inbound, MessageKind::Inbound) => (60.0, 2_880.0),
        (_, MessageKind::Inbound) => (20.0, 5_760.0),
    };
    // Log-uniform minutes.
    let minutes = (rng.random_range(f64::ln(low)..f64::ln(high))).exp();
    (minutes * 60.0) as i64
}

/// Replaces `{domain}` in a text fragment.
fn fill(text: &str, domain: &str) -> String {
    if text.contains('{') { text.replace("{domain}", domain) } else { text.to_string() }
}

const MAX_BODY: usize = 800;
const MIN_BODY: usize = 200;

/// A message body of 200–800 characters: a greeting, topic sentences in
/// paragraphs, a signature.
#[allow(clippy::too_many_arguments)]
fn compose(
    rng: &mut StdRng,
    kind: MessageKind,
    follow_up: bool,
    topic: &Topic,
    domain: &str,
    contact: &WorldContact,
    institution: &str,
    agent: &str,
) -> String {
    let target = rng.random_range(MIN_BODY..=MAX_BODY);
    let (opening, closing, pools): (String, String, [&[&str]; 3]) = match kind {
        MessageKind::Inbound => {
            let signer = contact.name.as_deref().unwrap_or("IT Helpdesk");
            let closing = match rng.random_range(0..3) {
                0 => format!("Thanks in advance,\n{signer}"),
                1 => format!("Best regards,\n{signer}\n{institution}"),
                _ => format!("Kind regards,\n{signer}"),
            };
            let pools: [&[&str]; 3] = if follow_up {
                [CUSTOMER_FOLLOW_UP, topic.customer, CUSTOMER_GENERIC]
            } else {
                [topic.customer, CUSTOMER_GENERIC, CUSTOMER_FOLLOW_UP]
            };
            let opening = CUSTOMER_OPENINGS.choose(rng).copied().unwrap_or("Hello,").to_string();
            (opening, closing, pools)
        }
        MessageKind::Reply => {
            let opening = match &contact.first_name {
                Some(first) => format!("{} {first},", ["Hello", "Hi", "Dear"][rng.random_range(0..3)]),
                None => "Hello,".to_string(),
            };
            let closing = if rng.random_bool(0.5) {
                format!("Best regards,\n{agent}\nMastodon hosting support")
            } else {
                format!("Kind regards,\n{agent}")
            };
            (opening, closing, [topic.agent, AGENT_GENERIC, topic.notes])
        }
        MessageKind::Note => ("Internal note:".to_string(), String::new(), [topic.notes, NOTE_GENERIC, topic.agent]),
    };
    let mut body = String::with_capacity(target + 64);
    body.push_str(&opening);
    body.push_str("\n\n");
    let room = MAX_BODY - closing.len() - 2;
    let mut in_paragraph = 0;
    'pools: for pool in pools {
        if pool.is_empty() {
            continue;
        }
        let first = rng.random_range(0..pool.len());
        for k in 0..pool.len() {
            let sentence = fill(pool[(first + k) % pool.len()], domain);
            if body.len() + sentence.len() + 2 > room {
                continue;
            }
            if in_paragraph > 0 {
                if in_paragraph >= 2 && rng.random_bool(0.5) {
                    body.push_str("\n\n");
                    in_paragraph = 0;
                } else {
                    body.push(' ');
                }
            }
            body.push_str(&sentence);
            in_paragraph += 1;
            if body.len() + closing.len() + 2 >= target {
                break 'pools;
            }
        }
    }
    if !closing.is_empty() {
        body.push_str("\n\n");
        body.push_str(&closing);
    }
    body
}

// ---------------------------------------------------------------------------
// Text fragments: real words about Mastodon hosting for search benchmarks.

/// One subject area: its tag, category, subjects and sentences.
struct Topic {
    tag: &'static str,
    category: &'static str,
    subjects: &'static [&'static str],
    customer: &'static [&'static str],
    agent: &'static [&'static str],
    notes: &'static [&'static str],
}

const CUSTOMER_OPENINGS: &[&str] =
    &["Hello,", "Hi there,", "Dear support team,", "Good morning,", "Hello Tusk support,"];

const CUSTOMER_GENERIC: &[&str] = &[
    "Several colleagues have noticed this since yesterday morning.",
    "We have not changed anything on our side as far as I know.",
    "Could you please take a look as soon as possible?",
    "Our communications team relies on the instance for announcements, so this is quite visible.",
    "Let me know if you need screenshots or the exact times when it happened.",
    "I am happy to join a call if that helps.",
    "This affects several accounts, not just mine.",
    "We would appreciate an estimate of when this can be fixed.",
];

const CUSTOMER_FOLLOW_UP: &[&str] = &[
    "Thank you for the quick reply.",
    "We tried what you suggested, but the problem is still there for some users.",
    "That helped for most accounts, but two people still report the same issue.",
    "Here are the details you asked for.",
    "Our IT department confirmed that nothing was changed on their side.",
    "Sorry for the slow answer, I was out of the office.",
    "Is there anything else we should check on our end?",
];

const AGENT_GENERIC: &[&str] = &[
    "Thanks for reporting this and for the details you included.",
    "I have looked into this on our side, and here is what I found.",
    "Please let us know if you notice anything unusual after this change.",
    "If the problem comes back, simply reply to this email and the ticket will reopen.",
    "I have added a note to your instance record so that the whole team is aware.",
    "We will keep monitoring the instance over the next few days.",
];

const NOTE_GENERIC: &[&str] = &[
    "Checked the dashboards: no alerts for this instance in the last 24 hours.",
    "Escalating to the platform team for a second opinion.",
    "Logs posted in the ops channel; nothing customer-facing yet.",
    "The same issue was reported by another institution last week, see the linked ticket.",
    "Remember to update the runbook once this is resolved.",
    "Customer prefers email over phone; keep the replies short and concrete.",
];

const TOPICS: &[Topic] = &[
    Topic {
        tag: "federation",
        category: "technical",
        subjects: &[
            "Federation with mastodon.social stopped",
            "Posts from {domain} not showing up on other servers",
            "Remote follows stuck on pending",
            "Delayed federation since this morning",
            "Cannot follow accounts on a large instance",
        ],
        customer: &[
            "Since this morning, posts from {domain} no longer appear on mastodon.social and several other large servers.",
            "Remote users tell us they can see our profiles, but new posts only show up hours later, if at all.",
            "Follow requests to accounts on other instances stay on pending and never get accepted.",
            "When I search for a remote account by its handle, the search spins for a long time and then returns nothing.",
            "Our followers on other servers stopped receiving boosts and replies from our official account.",
            "We checked the Federation page in the admin interface and no domains are blocked or limited.",
            "The problem started at about the same time as the maintenance window announced last week.",
        ],
        agent: &[
            "I checked the Sidekiq push queue for {domain} and found several thousand deliveries waiting to be retried.",
            "The remote server was rate-limiting our outgoing requests, which delayed federation for a few hours.",
            "I have restarted the push workers and the backlog is draining; new posts should federate within minutes.",
            "Deliveries to that server failed because its certificate had expired; they will be retried automatically.",
            "Remote follows depend on the other server answering our requests, so a pending state usually means it has not processed them yet.",
            "Our logs show that signatures were rejected because of clock drift on one of the web nodes, which we have corrected.",
        ],
        notes: &[
            "Push queue for this instance was at 40k jobs; scaled Sidekiq with four extra threads for now.",
            "Checked the dead set: mostly 401 responses from the remote server, not on our side.",
        ],
    },
    Topic {
        tag: "relay",
        category: "technical",
        subjects: &[
            "Question about relay subscriptions",
            "Relay stuck on pending",
            "Can we add a hashtag relay?",
            "Too much content from the relay on the federated timeline",
            "Relay subscription disappeared",
        ],
        customer: &[
            "We would like to subscribe {domain} to a relay so that the federated timeline is less empty for our users.",
            "The relay we added last week still shows the status pending in the admin interface.",
            "Since we enabled the relay, the federated timeline is flooded with posts in languages our users do not read.",
            "Is there a relay you would recommend for academic or public sector instances?",
            "The relay entry we configured seems to have disappeared from the Relays page.",
            "Could you tell us whether relays increase our media storage usage?",
        ],
        agent: &[
            "A relay stays pending until the relay server accepts our follow request, which some relays only do after manual review.",
            "I have removed the old relay entry and subscribed {domain} again; it is now shown as enabled.",
            "Relays do increase storage because remote media is cached, but our cleanup job removes cached files after 14 days.",
            "If the federated timeline is too busy, you can disable the relay at any time under Administration, Relays.",
            "We usually recommend starting with one small, well moderated relay and watching the storage graphs for a week.",
        ],
        notes: &[
            "Relay endpoint returns 502 intermittently; nothing we can fix on our side.",
            "Customer asked for a recommendation; pointed them to the list in the knowledge base.",
        ],
    },
    Topic {
        tag: "storage",
        category: "technical",
        subjects: &[
            "Media storage full",
            "Uploads failing with an error",
            "Storage quota warning for {domain}",
            "How much storage do we use?",
            "Images not loading on the instance",
        ],
        customer: &[
            "We received an automatic warning that the media storage for {domain} is at 95 percent of the quota.",
            "Users get an error when they try to upload images or videos, and the message only says that something went wrong.",
            "Some older posts show broken images instead of the original pictures.",
            "Could you tell us how much of our storage is used by cached remote media compared to our own uploads?",
            "We would like to know the price of a larger storage quota before our next budget meeting.",
            "One of our accounts posts long lecture videos, which may explain the growth.",
        ],
        agent: &[
            "The object storage bucket for {domain} had reached its quota, which is why uploads failed.",
            "I ran tootctl media remove for remote attachments older than seven days, which freed about 40 GB.",
            "Your own uploads use about a third of the space; the rest is cached media from other servers.",
            "Broken images on old posts are remote files that were cleaned up; they are fetched again when someone opens the post.",
            "We have raised the quota temporarily so that uploads work again while you decide on the plan.",
            "You can shorten the media cache retention in the admin settings under Content retention.",
        ],
        notes: &[
            "Bucket at 498 of 500 GB; raised the quota to 600 GB, billing needs to confirm.",
            "The media cleanup cron job had been failing since the last upgrade; fixed the environment variable.",
        ],
    },
    Topic {
        tag: "upgrade",
        category: "technical",
        subjects: &[
            "Upgrade to Mastodon 4.3",
            "When will we get the new Mastodon version?",
            "Request to schedule an upgrade",
            "Problems after the upgrade to 4.x",
            "Security release: are we patched?",
        ],
        customer: &[
            "We would like to upgrade {domain} to the latest Mastodon 4.x release as soon as it is convenient.",
            "Our users are asking for the new features they have seen announced, such as quote posts and better filters.",
            "Could the upgrade happen outside office hours, ideally on a Friday evening?",
            "Since the upgrade last night, the web interface shows a blank page for some users.",
            "We read about a security release this week and would like to confirm that our instance is already patched.",
            "Please let us know how long the instance will be unavailable during the upgrade.",
        ],
        agent: &[
            "We have scheduled the upgrade of {domain} to Mastodon 4.3 for Friday at 19:00 CET; the downtime should be under fifteen minutes.",
            "The upgrade includes database migrations and a rebuild of the ElasticSearch index, which runs in the background.",
            "The blank page was caused by cached assets from the previous version; clearing the browser cache fixes it.",
            "Your instance already runs the patched release; we apply security updates within 48 hours of publication.",
            "After the upgrade we checked federation, media uploads and sign-ups, and everything works as expected.",
        ],
        notes: &[
            "Run db:migrate with SKIP_POST_DEPLOYMENT_MIGRATIONS first, then the post-deployment ones.",
            "The search index rebuild took 35 minutes on staging for an instance of similar size.",
        ],
    },
    Topic {
        tag: "moderation",
        category: "moderation",
        subjects: &[
            "Help with moderation reports",
            "Reports piling up",
            "Harassment from a remote server",
            "Can you help us write server rules?",
            "A user was suspended by mistake",
        ],
        customer: &[
            "We received a wave of moderation reports this weekend and our small team cannot keep up.",
            "Several of our users are being harassed by accounts on a remote server.",
            "Reports about remote accounts are forwarded to us, but we are not sure what action is appropriate.",
            "Could you help us draft server rules that match our code of conduct?",
            "One of our staff accounts was suspended and we do not know who did it or why.",
            "We would like to give two more colleagues moderator permissions.",
        ],
        agent: &[
            "Most of the open reports concern the same remote account, which you can limit or suspend for the whole instance.",
            "Moderator roles can be granted under Administration, Roles; moderators handle reports without access to server settings.",
            "The audit log shows that the suspension was applied by a moderator account on {domain} at 14:02 yesterday.",
            "We recommend limiting rather than suspending a whole server at first, so that existing follows are kept.",
            "Our moderation guide has example server rules that many public institutions use as a starting point.",
        ],
        notes: &[
            "Audit log exported and attached; the customer's own moderator did it.",
            "Forwarded the harassment case to the trust and safety channel.",
        ],
    },
    Topic {
        tag: "login",
        category: "account",
        subjects: &[
            "SSO login broken",
            "Users cannot log in with their institutional account",
            "LDAP login fails since Monday",
            "Two-factor authentication lost",
            "Password reset emails not arriving",
        ],
        customer: &[
            "Since Monday, nobody can log in to {domain} with our single sign-on; the page returns an error after the identity provider redirect.",
            "Our identity provider certificate was renewed last week, which may be related.",
            "LDAP logins fail with an invalid credentials message even though the passwords are correct.",
            "One of our administrators lost the phone with the two-factor authentication app and is locked out.",
            "New staff members do not receive the confirmation email and cannot finish registration.",
            "Could you check whether the OpenID Connect settings on your side still match our tenant?",
        ],
        agent: &[
            "The SAML metadata we had cached still contained the old certificate; I have refreshed it and logins work again.",
            "The LDAP bind user's password had expired on your directory server; once it was reset, logins succeeded.",
            "I have disabled two-factor authentication for that account after verifying the request with your institution administrator.",
            "The OpenID Connect client secret had been rotated on your side; please send us the new secret through the secure upload link.",
            "Logins through single sign-on create the account automatically on first use, so no invitation is needed.",
        ],
        notes: &[
            "The IdP metadata URL returns the new certificate; refreshed the OmniAuth settings and restarted web.",
            "Verified the two-factor reset request by phone with the institution admin.",
        ],
    },
    Topic {
        tag: "email-delivery",
        category: "technical",
        subjects: &[
            "Confirmation emails not arriving",
            "SMTP delivery problems",
            "Notification emails land in spam",
            "Emails from {domain} bounce",
            "Change the sender address of notification emails",
        ],
        customer: &[
            "New users report that they never receive the confirmation email after signing up on {domain}.",
            "Notification emails from the instance end up in the spam folder of our institutional mail system.",
            "Our mail administrators say that messages from the instance fail the SPF check.",
            "We would like notification emails to come from an address in our own domain.",
            "Password reset emails arrive, but only after several hours.",
        ],
        agent: &[
            "Our SMTP relay was being throttled by your mail system, which delayed notifications; we have reduced the sending rate.",
            "Messages failed SPF because the include for our SMTP relay was missing from your DNS record.",
            "I have added DKIM signing for {domain}; please publish the TXT record I sent so that receivers can verify it.",
            "Using your own sender address is possible once the DNS records for SPF and DKIM are in place.",
            "The delivery log shows the confirmation emails were accepted by your mail server, so they may be held in quarantine there.",
        ],
        notes: &[
            "Twelve bounces with 550 5.7.1 from their mail gateway in the SMTP logs.",
            "Mail logs show deferrals because of the provider's rate limit.",
        ],
    },
    Topic {
        tag: "custom-emoji",
        category: "technical",
        subjects: &[
            "Importing custom emoji",
            "Custom emoji not showing",
            "Can we add our logo as an emoji?",
            "Emoji pack upload fails",
            "Remove copied emoji",
        ],
        customer: &[
            "We would like to import a set of about 200 custom emoji with our logo and mascots.",
            "The custom emoji we uploaded do not appear in the emoji picker of the mobile apps.",
            "Uploading the emoji pack as an archive fails without a clear error message.",
            "Some users copied emoji from other servers and we would like to remove those.",
            "Is there a limit on the size or the number of custom emoji?",
        ],
        agent: &[
            "Custom emoji must be PNG or GIF files under 256 KB; several files in your pack were larger, which made the upload fail.",
            "I imported the emoji with tootctl emoji import and assigned them to the category you asked for.",
            "Mobile apps cache the emoji list, so new emoji appear after the app is restarted.",
            "Copied emoji can be disabled or deleted under Administration, Custom emojis, filtered by local origin.",
        ],
        notes: &["Imported 187 of 203 emoji; 16 were over the size limit, sent the list to the customer."],
    },
    Topic {
        tag: "domain-block",
        category: "moderation",
        subjects: &[
            "Please block a domain",
            "Domain block not effective",
            "Undo a domain block",
            "Question about limiting a server",
            "Blocklist import",
        ],
        customer: &[
            "We would like to block a remote domain that keeps sending spam and harassment to our users.",
            "We blocked a server last week, but its posts still appear in some users' timelines.",
            "We blocked a domain by mistake and would like to restore the follows that were removed.",
            "Could you import a shared blocklist that other public institutions use?",
            "What is the difference between limiting and suspending a remote server?",
        ],
        agent: &[
            "A suspension removes existing follows and cached content, while a limit only hides the server from public timelines.",
            "Posts that were already boosted stay visible until the cached copies are removed by the cleanup job tonight.",
            "Follows removed by a suspension cannot be restored automatically; affected users have to follow the accounts again.",
            "I have imported the blocklist as limits rather than suspensions so that you can review each entry.",
        ],
        notes: &["Customer asked for the block before the weekend; applied it as a limit, waiting for confirmation."],
    },
    Topic {
        tag: "backup",
        category: "technical",
        subjects: &[
            "Restore a deleted account",
            "Backup schedule question",
            "Can we get a copy of our data?",
            "Restore accidentally deleted posts",
            "Export for the archive",
        ],
        customer: &[
            "An administrator deleted an important account by mistake and we would like to restore it from a backup.",
            "For our data protection officer, could you describe how often {domain} is backed up and where the backups are stored?",
            "We would like a full export of our instance for the institutional archive.",
            "Is it possible to restore posts that a user deleted yesterday?",
        ],
        agent: &[
            "Database backups are taken every night and kept for 30 days in a data centre in the same region as your instance.",
            "Restoring a single account requires a point-in-time restore on a separate server, which we can do as a paid intervention.",
            "I have prepared an export of the database and the media files; the download link is valid for seven days.",
            "Deleted posts are removed from federated servers as well, so restoring them locally would not bring them back elsewhere.",
        ],
        notes: &["Last successful backup at 03:12 UTC, checksum verified."],
    },
    Topic {
        tag: "performance",
        category: "technical",
        subjects: &[
            "Instance very slow",
            "Timelines take ages to load",
            "Sidekiq queues backing up",
            "Search does not return results",
            "502 errors on {domain}",
        ],
        customer: &[
            "For the last two days, {domain} has been very slow and timelines sometimes take more than ten seconds to load.",
            "Users see 502 errors when they post, and the post sometimes appears twice afterwards.",
            "The Sidekiq dashboard shows tens of thousands of jobs in the default queue.",
            "Full-text search returns no results, even for posts we wrote today.",
            "The slowness seems worst in the morning, when most of our staff log in.",
        ],
        agent: &[
            "The default Sidekiq queue was backed up by a burst of link preview jobs; we added workers and the queue is empty again.",
            "The ElasticSearch cluster for {domain} ran out of heap memory, which is why search returned nothing; we restarted it and rebuilt the index.",
            "We moved your PostgreSQL database to a larger server, which brought timeline load times back under a second.",
            "The 502 errors came from the web process restarting under memory pressure; we have increased its memory limit.",
            "We have enabled additional caching for home timelines, which should help during the morning peak.",
        ],
        notes: &[
            "p95 latency 8 s, database CPU at 100%, autovacuum on the statuses table was behind.",
            "ElasticSearch heap of 2 GB was too small; raised it to 4 GB and reindexed with tootctl search deploy.",
        ],
    },
    Topic {
        tag: "spam",
        category: "moderation",
        subjects: &[
            "Spam wave on our instance",
            "Sign-up spam",
            "Bots registering accounts",
            "Spam mentions from new accounts",
            "Enable approval for registrations?",
        ],
        customer: &[
            "Overnight, dozens of new accounts signed up on {domain} and started posting spam links.",
            "Our users receive spam mentions from freshly created accounts on several servers.",
            "Could we require approval for new registrations, or restrict sign-ups to our own email domain?",
            "We suspended the spam accounts we found, but new ones keep appearing.",
            "Is there a way to add a CAPTCHA or a similar check to the sign-up form?",
        ],
        agent: &[
            "I have switched registrations on {domain} to require approval and added your email domain to the allowlist.",
            "We suspended 74 spam accounts and blocked the email provider they used for sign-ups.",
            "The spam mentions come from accounts on other servers; you can limit those servers until their moderators react.",
            "Mastodon can show hCaptcha on the sign-up form; we have turned it on for your instance.",
        ],
        notes: &["Spam accounts all came from the same /24; added an IP block for two weeks."],
    },
    Topic {
        tag: "billing",
        category: "billing",
        subjects: &[
            "Invoice question",
            "Change from Single Service to All-in-One Managed",
            "Purchase order number on the invoice",
            "Billing address update",
            "Renewal quote for next year",
        ],
        customer: &[
            "Our finance department needs the purchase order number to appear on the invoice for this quarter.",
            "Could you send us a quote for moving from the Single Service plan to the All-in-One Managed plan?",
            "The invoice was addressed to our old department; please update the billing address.",
            "We would like to pay annually instead of quarterly from next year.",
            "Could you confirm that VAT is handled correctly for a public body?",
        ],
        agent: &[
            "I have reissued the invoice with your purchase order number; it is attached to this message.",
            "The All-in-One Managed plan includes moderation support and priority handling; I have attached a quote.",
            "Your billing address has been updated, and future invoices will be sent to the finance mailbox.",
            "Switching to annual billing is possible from the next renewal date; I have noted it on your account.",
        ],
        notes: &["Forwarded to finance; they will reissue the invoice with the purchase order number."],
    },
    Topic {
        tag: "dns",
        category: "technical",
        subjects: &[
            "Custom domain for our instance",
            "DNS change needed",
            "Moving {domain} to a new domain",
            "WebFinger not working on our main domain",
            "CNAME record question",
        ],
        customer: &[
            "We would like to use our own domain for the instance instead of the subdomain you gave us.",
            "Our network team is changing DNS providers next week; which records do we need to keep?",
            "We would like user handles to use our main domain while the instance runs on a subdomain.",
            "Lookups of our accounts by handle fail on other servers since we changed the DNS records.",
        ],
        agent: &[
            "Please create a CNAME record for {domain} pointing to the host name in our welcome email; we issue the certificate once it resolves.",
            "For handles on your main domain, the main website must redirect /.well-known/webfinger to {domain}.",
            "The DNS change removed the record for the WebFinger redirect, which is why lookups failed.",
            "Changing the domain of an existing instance is not supported by Mastodon; accounts would have to move to a new instance.",
        ],
        notes: &["dig shows the CNAME still pointing to the old load balancer."],
    },
    Topic {
        tag: "tls",
        category: "technical",
        subjects: &[
            "TLS certificate expired",
            "Certificate warning in browsers",
            "Let's Encrypt renewal failed",
            "HTTPS error on {domain}",
            "Certificate from our own authority",
        ],
        customer: &[
            "Browsers show a certificate warning when we open {domain} this morning.",
            "Our security team reports that the certificate for the instance expires in five days.",
            "The mobile apps refuse to connect and show a TLS handshake error.",
            "Our institution requires certificates from its own certificate authority; can you install one?",
        ],
        agent: &[
            "The Let's Encrypt renewal failed because the HTTP challenge was blocked by a redirect on your side; we switched to the DNS challenge.",
            "The certificate has been renewed and is valid for another 90 days; the warning disappears after a page reload.",
            "We can install a certificate from your authority; please send the certificate chain, the private key stays on our side.",
            "The TLS error in the apps came from an incomplete certificate chain, which we have fixed.",
        ],
        notes: &["certbot logs show a 403 on the challenge from their web application firewall."],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_index_follows_weights() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 4];
        for _ in 0..100_000 {
            counts[weighted_index(&mut rng, &[10, 60, 22, 8])] += 1;
        }
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
        assert!((58_000..62_000).contains(&counts[1]), "{counts:?}");
        assert!((20_500..23_500).contains(&counts[2]), "{counts:?}");
        assert!((7_000..9_000).contains(&counts[3]), "{counts:?}");
    }

    #[test]
    fn volume_rises_towards_now() {
        assert_eq!(time_fraction(0.0), 0.0);
        assert!((time_fraction(1.0) - 1.0).abs() < 1e-12);
        // The first half of the history holds 0.5 * 0.5 + 0.5 * 0.25 = 37.5%.
        assert!((time_fraction(0.375) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn threads_match_status() {
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..2_000 {
            for status in STATUSES {
                let kinds = thread_plan(&mut rng, status);
                assert!((1..=6).contains(&kinds.len()), "{status}: {kinds:?}");
                assert_eq!(kinds[0], MessageKind::Inbound);
                let last_public = kinds.iter().rev().find(|k| **k != MessageKind::Note);
                match status {
                    TicketStatus::New => assert!(!kinds.contains(&MessageKind::Reply)),
                    TicketStatus::Open => assert_eq!(last_public, Some(&MessageKind::Inbound)),
                    _ => assert_eq!(last_public, Some(&MessageKind::Reply), "{status}: {kinds:?}"),
                }
            }
        }
    }

    #[test]
    fn bodies_have_realistic_length() {
        let mut rng = StdRng::seed_from_u64(3);
        let contact = WorldContact {
            id: 1,
            email: "anna.berg@uni-northvale.example".into(),
            first_name: Some("Anna".into()),
            name: Some("Anna Berg".into()),
        };
        for topic in TOPICS {
            for kind in [MessageKind::Inbound, MessageKind::Reply, MessageKind::Note] {
                for follow_up in [false, true] {
                    let body = compose(
                        &mut rng,
                        kind,
                        follow_up,
                        topic,
                        "social.uni-northvale.example",
                        &contact,
                        "University of Northvale",
                        "Lars Olsen",
                    );
                    assert!(
                        (MIN_BODY..=MAX_BODY).contains(&body.len()),
                        "{} {kind}: {} chars\n{body}",
                        topic.tag,
                        body.len()
                    );
                    assert!(!body.contains('{'), "{body}");
                }
            }
        }
    }

    #[test]
    fn institution_names_are_distinct_even_when_many() {
        let mut rng = StdRng::seed_from_u64(4);
        let names = institution_names(&mut rng, 500);
        assert_eq!(names.len(), 500);
        let slugs: HashSet<_> = names.iter().map(|n| &n.0).collect();
        assert_eq!(slugs.len(), 500);
        for (slug, _, stem) in &names {
            assert!(slug.len() <= 64 && slug.starts_with("seed-"));
            assert!(crate::domain::validate::is_valid_domain(&format!("social.{stem}.example")));
        }
    }

    #[test]
    fn plan_pair_prefers_single_and_managed() {
        let plans = Plans::new(vec!["managed".into(), "single".into()], "single");
        assert_eq!(plan_pair(&plans).unwrap(), ("single".into(), "managed".into()));
        let plans = Plans::new(vec!["basic".into(), "gold".into(), "silver".into()], "basic");
        assert_eq!(plan_pair(&plans).unwrap(), ("basic".into(), "gold".into()));
        let plans = Plans::new(vec!["only".into()], "only");
        assert_eq!(plan_pair(&plans).unwrap(), ("only".into(), "only".into()));
    }
}
