//! Typed configuration, layered as `config/default.toml` < `--config FILE` <
//! `TUSK_*` environment variables, and validated once at start-up.
//!
//! Every error names the key (and the file or variable it came from) and the
//! problem, so that an operator can fix it without reading code.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The built-in defaults; the same text ships as `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Environment variables with this prefix configure Tusk.
const ENV_PREFIX: &str = "TUSK_";
/// Variables with these prefixes belong to the test suite, not to Tusk.
const ENV_IGNORED_PREFIXES: &[&str] = &["TUSK_TEST_", "TUSK_CORPUS_DIR"];

/// A configuration problem, with the place it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {origin}: {message}")]
pub struct ConfigError {
    /// File name, environment variable or key the problem is in.
    pub origin: String,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl ConfigError {
    fn new(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Self { origin: origin.into(), message: message.into() }
    }
}

/// A secret value: never printed by `Debug` or `Display`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub support: SupportConfig,
    pub plans: BTreeMap<String, PlanConfig>,
    /// SLA policy of each plan tier (`[sla.<tier>]`); see [`crate::sla::policy`].
    pub sla: BTreeMap<String, crate::sla::policy::SlaPolicyConfig>,
    pub mail: MailConfig,
    pub smtp: SmtpConfig,
    pub console: ConsoleConfig,
    pub search: SearchConfig,
    pub meilisearch: MeilisearchConfig,
    pub log: LogConfig,
    pub reports: ReportsConfig,
    pub portal: PortalConfig,
}

/// The customer web channel (`[portal]`): support form and magic-link portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Minutes a sign-in link stays valid.
    pub magic_link_minutes: u32,
    /// Sign-in links sent per email address, and requested per client
    /// address, within `rate_window_minutes`.
    pub link_max_per_email: u32,
    pub link_max_per_ip: u32,
    /// Support-form tickets per client address and per email address within
    /// `rate_window_minutes`.
    pub form_max_per_ip: u32,
    pub form_max_per_email: u32,
    pub rate_window_minutes: u32,
    /// Largest attachment in bytes, and most attachments per submission.
    pub max_attachment_bytes: usize,
    pub max_attachments: u32,
    /// Accepted attachment content types (a list, or comma-separated in the
    /// environment).
    #[serde(deserialize_with = "list_or_csv")]
    pub attachment_types: Vec<String>,
    /// Categories offered on the support form (same format).
    #[serde(deserialize_with = "list_or_csv")]
    pub categories: Vec<String>,
}

/// A list of strings from TOML, or one comma-separated string (how an
/// environment variable sets a list).
fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Csv(String),
    }
    let items = match Either::deserialize(d)? {
        Either::List(items) => items,
        Either::Csv(text) => text.split(',').map(str::to_string).collect(),
    };
    Ok(items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// SLA reports (`[reports]`); see [`crate::reports`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    pub weekly: WeeklyReportConfig,
}

/// The weekly SLA summary email to managers (`[reports.weekly]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyReportConfig {
    /// Send it from this process (several processes still send it once).
    pub enabled: bool,
    /// Day of the week it is sent: `mon` … `sun`.
    pub day: String,
    /// Local time (`support.timezone`) it is sent, `HH:MM`.
    pub time: String,
    /// Seconds between checks whether it is due.
    pub check_interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    pub public_url: String,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub max_body_bytes: usize,
    /// Take the client address for rate limits from the last
    /// `X-Forwarded-For` entry (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

/// The agent console and browser sessions (console and portal).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Hours of inactivity after which a session ends.
    pub session_ttl_hours: u32,
    /// Failed sign-ins per email address within the window before refusing.
    pub login_max_failures: u32,
    /// Failed sign-ins per client address within the window before refusing.
    pub login_max_failures_per_ip: u32,
    pub login_window_minutes: u32,
    /// Tickets per queue page.
    pub page_size: u32,
}

impl ConsoleConfig {
    pub fn session_ttl(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.session_ttl_hours.max(1)))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// May carry a password, hence a secret.
    pub url: Secret,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u32,
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `PRAGMA synchronous` for pooled connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportConfig {
    pub name: String,
    pub address: String,
    pub timezone: String,
    pub default_plan: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub max_message_bytes: usize,
    /// Raw messages and attachments up to this size are kept in the
    /// database (table `blob_data`), larger ones as files under
    /// `data_dir/blobs`.
    pub inline_blob_max_bytes: usize,
    pub refuse_over_bytes: usize,
    pub inbound_token: Secret,
    pub inbound_token_file: String,
    pub reopen_window_days: u32,
    pub authserv_id: String,
    pub require_aligned_sender: bool,
    pub loop_limit_per_hour: u32,
    pub ack_limit_per_hour: u32,
}

impl MailConfig {
    /// The inbound token, when one is configured (a token file is read at load).
    pub fn inbound_token(&self) -> Option<&str> {
        Some(self.inbound_token.expose().trim()).filter(|t| !t.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// May carry credentials, hence a secret.
    pub url: Secret,
    /// EHLO name; empty = the domain of `support.address`.
    pub hello_name: String,
    /// SMTP connections kept open and used at once by the mail worker.
    pub pool_size: u32,
    /// Seconds an SMTP command may take before the attempt counts as failed.
    pub timeout_secs: u64,
    /// Tries before a row whose server keeps answering 4xx (or cannot be
    /// reached) is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubles with each try up to `backoff_max_secs`.
    pub backoff_initial_secs: u64,
    pub backoff_max_secs: u64,
    /// Display name in `From`; empty = `support.name`.
    pub from_name: String,
    /// Directory overriding the built-in email templates; empty = built-in only.
    pub templates_dir: String,
    pub worker: SmtpWorkerConfig,
}

/// `[smtp.worker]`: the outbox worker of `tusk serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpWorkerConfig {
    /// Off: this process queues mail but never sends it (another one does).
    pub enabled: bool,
    /// Rows claimed at once.
    pub batch_size: u32,
    /// Milliseconds between polls of an empty outbox.
    pub poll_interval_ms: u64,
    /// Seconds a claimed row stays reserved to its worker; after that (a
    /// crash between sending and recording the result) any worker resends it.
    pub lease_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchBackend {
    Embedded,
    Meilisearch,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub backend: SearchBackend,
    /// Writer memory (MiB) of `tusk search reindex` on the embedded engine.
    pub reindex_heap_mb: usize,
    pub worker: SearchWorkerConfig,
}

/// `[search.worker]`: the indexer of `tusk serve` (drains `search_outbox`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchWorkerConfig {
    /// Off: this process queues index updates but never applies them.
    pub enabled: bool,
    /// Outbox rows claimed at once.
    pub batch_size: u32,
    /// Milliseconds between polls of an empty outbox.
    pub poll_interval_ms: u64,
    /// Seconds a claimed row stays reserved to its worker.
    pub lease_secs: u64,
    /// First retry delay after an engine failure; doubles up to `backoff_max_secs`.
    pub backoff_initial_ms: u64,
    pub backoff_max_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeilisearchConfig {
    pub url: String,
    pub key: Secret,
    pub index: String,
    /// Seconds a request or an awaited task may take.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// A loaded configuration and the non-fatal remarks made while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// E.g. an unknown `TUSK_*` variable that was ignored.
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads defaults, then `file` (when given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// As [`Config::load`], with the environment passed in (for tests).
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
        let defaults = parse_toml("config/default.toml (built in)", DEFAULT_TOML)?;
        let mut merged = defaults.clone();
        if let Some(path) = file {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(&origin, format!("cannot read the file: {e}")))?;
            let layer = parse_toml(&origin, &text)?;
            check_known_keys(&origin, &layer, &defaults, "")?;
            merge_layer(&mut merged, layer);
        }
        let warnings = apply_env(&mut merged, &defaults, env)?;
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::new(path, e.into_inner().to_string())
        })?;
        let mut config = config;
        config.validate()?;
        config.read_secret_files()?;
        Ok(Loaded { config, warnings })
    }

    /// Reads secrets named by `*_file` keys into their values.
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        let path = self.mail.inbound_token_file.trim();
        if !path.is_empty() {
            let token = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new("mail.inbound_token_file", format!("cannot read {path}: {e}")))?;
            if token.trim().is_empty() {
                return Err(ConfigError::new("mail.inbound_token_file", format!("{path} is empty")));
            }
            self.mail.inbound_token = Secret::new(token.trim());
        }
        Ok(())
    }

    /// Loads only the built-in defaults (tests and tools).
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::load_from(None, &[]).map(|l| l.config)
    }

    /// Checks what types alone cannot: addresses, timezones, plan references.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.bind.parse::<SocketAddr>().map_err(|_| {
            ConfigError::new(
                "server.bind",
                format!("`{}` is not a socket address like 127.0.0.1:8080", self.server.bind),
            )
        })?;
        if !(self.server.public_url.starts_with("http://") || self.server.public_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "server.public_url",
                format!("`{}` must start with http:// or https://", self.server.public_url),
            ));
        }
        if self.server.max_body_bytes == 0 {
            return Err(ConfigError::new("server.max_body_bytes", "must be greater than 0"));
        }
        crate::db::DbUrl::parse(self.database.url.expose())
            .map_err(|message| ConfigError::new("database.url", message))?;
        if self.database.pool_size == 0 {
            return Err(ConfigError::new("database.pool_size", "must be at least 1"));
        }
        if self.support.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::new(
                "support.timezone",
                format!("unknown IANA timezone `{}` (e.g. Europe/Paris)", self.support.timezone),
            ));
        }
        if !self.support.address.contains('@') {
            return Err(ConfigError::new(
                "support.address",
                format!("`{}` is not an email address", self.support.address),
            ));
        }
        if self.plans.is_empty() {
            return Err(ConfigError::new("plans", "at least one plan tier is required"));
        }
        for (id, plan) in &self.plans {
            if !is_plan_id(id) {
                return Err(ConfigError::new(
                    format!("plans.{id}"),
                    "a plan id may contain only a-z, 0-9, `_` and `-`",
                ));
            }
            if plan.name.trim().is_empty() {
                return Err(ConfigError::new(format!("plans.{id}.name"), "must not be empty"));
            }
        }
        self.check_plan("support.default_plan", &self.support.default_plan)?;
        crate::sla::policy::SlaPolicies::from_config(self).map_err(|e| ConfigError::new(e.key, e.message))?;
        crate::reports::weekly::Schedule::from_config(self).map_err(|(key, message)| ConfigError::new(key, message))?;
        if self.mail.max_message_bytes == 0 {
            return Err(ConfigError::new("mail.max_message_bytes", "must be greater than 0"));
        }
        if self.mail.refuse_over_bytes < self.mail.max_message_bytes {
            return Err(ConfigError::new(
                "mail.refuse_over_bytes",
                "must be at least mail.max_message_bytes (larger messages are quarantined, not refused)",
            ));
        }
        if self.mail.require_aligned_sender && self.mail.authserv_id.trim().is_empty() {
            return Err(ConfigError::new(
                "mail.require_aligned_sender",
                "needs mail.authserv_id (the id your MTA writes in Authentication-Results)",
            ));
        }
        if self.mail.loop_limit_per_hour == 0 {
            return Err(ConfigError::new("mail.loop_limit_per_hour", "must be at least 1"));
        }
        self.validate_smtp()?;
        self.validate_portal()?;
        for (key, value) in [
            ("search.reindex_heap_mb", self.search.reindex_heap_mb as u64),
            ("search.worker.batch_size", u64::from(self.search.worker.batch_size)),
            ("search.worker.poll_interval_ms", self.search.worker.poll_interval_ms),
            ("search.worker.lease_secs", self.search.worker.lease_secs),
            ("search.worker.backoff_initial_ms", self.search.worker.backoff_initial_ms),
            ("meilisearch.timeout_secs", self.meilisearch.timeout_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if self.search.backend == SearchBackend::Meilisearch
            && !(self.meilisearch.url.starts_with("http://") || self.meilisearch.url.starts_with("https://"))
        {
            return Err(ConfigError::new(
                "meilisearch.url",
                "must be an http:// or https:// URL when search.backend = \"meilisearch\"",
            ));
        }
        Ok(())
    }

    /// Checks `[portal]`: positive limits, known content types, categories.
    fn validate_portal(&self) -> Result<(), ConfigError> {
        let p = &self.portal;
        for (key, value) in [
            ("portal.magic_link_minutes", u64::from(p.magic_link_minutes)),
            ("portal.link_max_per_email", u64::from(p.link_max_per_email)),
            ("portal.link_max_per_ip", u64::from(p.link_max_per_ip)),
            ("portal.form_max_per_ip", u64::from(p.form_max_per_ip)),
            ("portal.form_max_per_email", u64::from(p.form_max_per_email)),
            ("portal.rate_window_minutes", u64::from(p.rate_window_minutes)),
            ("portal.max_attachment_bytes", p.max_attachment_bytes as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if let Some(bad) = p.attachment_types.iter().find(|t| {
            let t = t.as_str();
            t.split_once('/').is_none_or(|(a, b)| a.is_empty() || b.is_empty()) || t.contains(char::is_whitespace)
        }) {
            return Err(ConfigError::new(
                "portal.attachment_types",
                format!("`{bad}` is not a content type like image/png"),
            ));
        }
        if p.categories.is_empty() {
            return Err(ConfigError::new("portal.categories", "at least one category is required"));
        }
        if let Some(bad) = p.categories.iter().find(|c| c.chars().count() > 100) {
            return Err(ConfigError::new("portal.categories", format!("`{bad}` is longer than 100 characters")));
        }
        Ok(())
    }

    /// Checks `[smtp]`: a usable relay URL and sane worker numbers.
    fn validate_smtp(&self) -> Result<(), ConfigError> {
        let smtp = &self.smtp;
        crate::mail::outbound::transport::SmtpUrl::parse(smtp.url.expose())
            .map_err(|message| ConfigError::new("smtp.url", message))?;
        let positive: [(&str, u64); 6] = [
            ("smtp.pool_size", u64::from(smtp.pool_size)),
            ("smtp.timeout_secs", smtp.timeout_secs),
            ("smtp.max_attempts", u64::from(smtp.max_attempts)),
            ("smtp.worker.batch_size", u64::from(smtp.worker.batch_size)),
            ("smtp.worker.poll_interval_ms", smtp.worker.poll_interval_ms),
            ("smtp.worker.lease_secs", smtp.worker.lease_secs),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if smtp.backoff_max_secs < smtp.backoff_initial_secs {
            return Err(ConfigError::new("smtp.backoff_max_secs", "must be at least smtp.backoff_initial_secs"));
        }
        if smtp.worker.lease_secs <= smtp.timeout_secs.saturating_mul(2) {
            return Err(ConfigError::new(
                "smtp.worker.lease_secs",
                "must be more than twice smtp.timeout_secs (a lease must outlive one send)",
            ));
        }
        if !smtp.hello_name.is_empty()
            && !smtp.hello_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))
        {
            return Err(ConfigError::new("smtp.hello_name", format!("`{}` is not a host name", smtp.hello_name)));
        }
        Ok(())
    }

    /// Errors unless `plan` is a configured tier; `key` names the setting.
    pub fn check_plan(&self, key: &str, plan: &str) -> Result<(), ConfigError> {
        if self.plans.contains_key(plan) {
            Ok(())
        } else {
            Err(ConfigError::new(key, format!("unknown plan tier `{plan}` (known: {})", self.plan_ids().join(", "))))
        }
    }

    pub fn plan_ids(&self) -> Vec<String> {
        self.plans.keys().cloned().collect()
    }

    /// The support team's timezone (validated at load).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.support.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

fn is_plan_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn parse_toml(origin: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::new(origin, e.to_string().trim_end().to_string()))
}

/// Rejects keys of a user layer that the defaults do not have (except inside
/// `plans`, whose keys are the operator's own), naming the file and key.
fn check_known_keys(
    origin: &str,
    layer: &toml::Table,
    defaults: &toml::Table,
    prefix: &str,
) -> Result<(), ConfigError> {
    for (key, value) in layer {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        // `sla` is keyed by plan tier too; its tables are checked when typed.
        if path == "plans" || path == "sla" {
            continue;
        }
        match defaults.get(key) {
            None => {
                return Err(ConfigError::new(
                    origin,
                    format!("unknown key `{path}` (see config/default.toml for the keys)"),
                ));
            }
            Some(toml::Value::Table(sub_defaults)) => {
                if let toml::Value::Table(sub) = value {
                    check_known_keys(origin, sub, sub_defaults, &path)?;
                } else {
                    return Err(ConfigError::new(origin, format!("`{path}` must be a table ([{path}])")));
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Deep-merges `layer` into `base`; a `plans` table replaces the default one
/// wholesale so that an operator can define exactly the tiers they sell.
fn merge_layer(base: &mut toml::Table, layer: toml::Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(l)) if key != "plans" => merge_layer(b, l),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// Collects `(dotted.path, default value)` for every leaf key.
fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        // SLA policies are set in files only, not through TUSK_SLA_* variables.
        if path == "plans" || path == "sla" {
            continue;
        }
        match value {
            toml::Value::Table(sub) => leaf_keys(sub, &path, out),
            other => out.push((path, other.clone())),
        }
    }
}

fn env_name(path: &str) -> String {
    format!("{ENV_PREFIX}{}", path.replace('.', "_").to_ascii_uppercase())
}

fn apply_env(
    merged: &mut toml::Table,
    defaults: &toml::Table,
    env: &[(String, String)],
) -> Result<Vec<String>, ConfigError> {
    let mut leaves = Vec::new();
    leaf_keys(defaults, "", &mut leaves);
    let mut warnings = Vec::new();
    for (name, raw) in env {
        if !name.starts_with(ENV_PREFIX) || ENV_IGNORED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let Some((path, default)) = leaves.iter().find(|(path, _)| env_name(path) == *name) else {
            warnings.push(format!("ignoring unknown environment variable {name}"));
            continue;
        };
        let value = match default {
            toml::Value::Integer(_) => raw
                .trim()
                .parse::<i64>()
                .map(toml::Value::Integer)
                .map_err(|_| ConfigError::new(name, format!("`{raw}` is not a whole number (for {path})")))?,
            toml::Value::Boolean(_) => match raw.trim() {
                "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
                "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
                _ => return Err(ConfigError::new(name, format!("`{raw}` is not true or false (for {path})"))),
            },
            toml::Value::Float(_) => raw
                .trim()
                .parse::<f64>()
                .map(toml::Value::Float)
                .map_err(|_| ConfigError::new(name, format!("`{raw}` is not a number (for {path})")))?,
            _ => toml::Value::String(raw.clone()),
        };
        set_path(merged, path, value);
    }
    Ok(warnings)
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut current = table;
    for part in parts {
        let entry = current.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else { return };
        current = next;
    }
    current.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_load_and_validate() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.server.bind, "127.0.0.1:8080");
        assert_eq!(c.database.url.expose(), "sqlite://data/tusk.db");
        assert_eq!(c.plans["single"].name, "Single Service");
        assert_eq!(c.plans["managed"].name, "All-in-One Managed");
        assert_eq!(c.search.backend, SearchBackend::Embedded);
    }

    #[test]
    fn every_file_in_config_dir_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Config::load_from(Some(&path), &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 1);
    }

    #[test]
    fn file_then_env_override() {
        let f = file("[server]\nbind = \"127.0.0.1:9000\"\n[database]\npool_size = 3\n");
        let loaded = Config::load_from(
            Some(f.path()),
            &env(&[
                ("TUSK_DATABASE_URL", "postgres://u:p@localhost/db"),
                ("TUSK_DATABASE_POOL_SIZE", "5"),
                ("TUSK_DATA_DIR", "/var/lib/tusk"),
                ("TUSK_SEARCH_BACKEND", "meilisearch"),
                ("TUSK_MEILISEARCH_KEY", "s3cret"),
                ("TUSK_TEST_POSTGRES_URL", "ignored"),
                ("TUSK_BOGUS", "x"),
            ]),
        )
        .unwrap();
        let c = loaded.config;
        assert_eq!(c.server.bind, "127.0.0.1:9000");
        assert_eq!(c.database.pool_size, 5);
        assert_eq!(c.database.url.expose(), "postgres://u:p@localhost/db");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/tusk"));
        assert_eq!(c.search.backend, SearchBackend::Meilisearch);
        assert_eq!(format!("{:?}", c.meilisearch.key), "***");
        assert!(!format!("{:?}", c.database).contains("u:p"));
        assert_eq!(loaded.warnings, vec!["ignoring unknown environment variable TUSK_BOGUS".to_string()]);
    }

    #[test]
    fn malformed_file_names_file_and_line() {
        let f = file("[server]\nbind = \"127.0.0.1:9000\n");
        let e = Config::load_from(Some(f.path()), &[]).unwrap_err();
        assert_eq!(e.origin, f.path().display().to_string());
        assert!(e.message.contains("line 2"), "{e}");
    }

    #[test]
    fn unreadable_file_is_named() {
        let e = Config::load_from(Some(Path::new("/nonexistent/tusk.toml")), &[]).unwrap_err();
        assert_eq!(e.origin, "/nonexistent/tusk.toml");
        assert!(e.message.contains("cannot read"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let f = file("[server]\nbnid = \"x\"\n");
        let e = Config::load_from(Some(f.path()), &[]).unwrap_err();
        assert!(e.message.contains("server.bnid"), "{e}");
    }

    #[test]
    fn wrong_type_names_key() {
        let f = file("[database]\npool_size = \"many\"\n");
        let e = Config::load_from(Some(f.path()), &[]).unwrap_err();
        assert_eq!(e.origin, "database.pool_size", "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("[support]\ntimezone = \"Mars/Olympus\"\n", "support.timezone", "Mars/Olympus"),
            ("[support]\ndefault_plan = \"gold\"\n", "support.default_plan", "gold"),
            ("[server]\nbind = \"localhost\"\n", "server.bind", "localhost"),
            ("[database]\nurl = \"mysql://x\"\n", "database.url", "mysql"),
            ("[search]\nbackend = \"elastic\"\n", "search.backend", "elastic"),
            ("[plans.Gold]\nname = \"Gold\"\n", "plans.Gold", "a-z"),
            ("[smtp]\nurl = \"smtp://mx?tls=maybe\"\n", "smtp.url", "tls mode"),
            ("[smtp]\nurl = \"http://mx\"\n", "smtp.url", "scheme"),
            ("[smtp]\npool_size = 0\n", "smtp.pool_size", "at least 1"),
            ("[smtp]\nbackoff_max_secs = 10\n", "smtp.backoff_max_secs", "backoff_initial_secs"),
            ("[smtp.worker]\nlease_secs = 30\n", "smtp.worker.lease_secs", "timeout_secs"),
            ("[smtp]\nhello_name = \"a b\"\n", "smtp.hello_name", "host name"),
        ];
        for (text, key, needle) in cases {
            let f = file(text);
            let e = Config::load_from(Some(f.path()), &[]).unwrap_err();
            assert_eq!(e.origin, key, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn bad_env_value_names_variable() {
        let e = Config::load_from(None, &env(&[("TUSK_SERVER_WORKERS", "lots")])).unwrap_err();
        assert_eq!(e.origin, "TUSK_SERVER_WORKERS");
    }

    #[test]
    fn plans_table_replaces_defaults() {
        let f = file(
            "[support]\ndefault_plan = \"basic\"\n[plans.basic]\nname = \"Basic\"\n\
             [sla.basic]\ncalendar = { hours = \"24x7\" }\n\
             low = { first_response = \"8h\", next_response = \"8h\", resolution = \"40h\" }\n\
             normal = { first_response = \"8h\", next_response = \"8h\", resolution = \"40h\" }\n\
             high = { first_response = \"4h\", next_response = \"4h\", resolution = \"16h\" }\n\
             urgent = { first_response = \"1h\", next_response = \"1h\", resolution = \"8h\" }\n",
        );
        let c = Config::load_from(Some(f.path()), &[]).unwrap().config;
        assert_eq!(c.plan_ids(), vec!["basic".to_string()]);
    }
}
