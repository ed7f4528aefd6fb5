//! SLA policies: per plan tier, a business calendar, warning thresholds, the
//! statuses that pause the clock, and per priority the targets for first
//! response, next response and resolution.
//!
//! ```toml
//! [sla.single]
//! calendar = { timezone = "Europe/Paris", hours = { mon = ["09:00-18:00"] } }
//! warn_at = [75, 90]                       # percent of each target
//! pause_statuses = ["pending", "on_hold"]
//! [sla.single.normal]
//! first_response = "8h"                    # business time
//! next_response = "8h"
//! resolution = "40h"
//! [sla.managed.urgent]
//! calendar = "24x7"                        # this priority runs around the clock
//! first_response = "1h"
//! ```
//!
//! # Durations
//!
//! Targets are **business time** measured on the calendar: `"45m"`,
//! `"8h"`, `"1h30m"`. Units are `h` (hours) and `m` (minutes) only; there is
//! deliberately no "day" unit, because a business day is whatever the
//! calendar opens for (write `"8h"` for one day of 09:00-17:00). On a 24x7
//! calendar business time is wall-clock time.
//!
//! A policy is compiled once at start-up ([`SlaPolicies::from_config`]);
//! when applied to a ticket its targets, thresholds, pause statuses and the
//! calendar definition are copied into a [`PolicySnapshot`] stored with the
//! ticket, so later configuration edits never rewrite history.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::calendar::{Calendar, CalendarConfig, CalendarError};
use crate::db::{Priority, TicketStatus};

/// A business duration as written in the configuration (`"1h30m"`), in
/// whole minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BusinessDuration {
    minutes: i64,
}

impl BusinessDuration {
    /// A duration of `minutes` business minutes.
    pub fn minutes(minutes: i64) -> Self {
        Self { minutes }
    }

    /// The duration as a `chrono::Duration` (of business time).
    pub fn as_duration(self) -> Duration {
        Duration::minutes(self.minutes)
    }

    /// Whole business minutes.
    pub fn as_minutes(self) -> i64 {
        self.minutes
    }

    /// Parses `"8h"`, `"45m"`, `"1h30m"` (hours then minutes, each at most
    /// once).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration; write e.g. \"8h\" or \"45m\"".into());
        }
        let mut minutes: i64 = 0;
        let mut number = String::new();
        let mut seen_h = false;
        let mut seen_m = false;
        for c in text.chars() {
            match c {
                '0'..='9' => number.push(c),
                'h' | 'm' => {
                    let value: i64 = number
                        .parse()
                        .map_err(|_| format!("{text:?}: a number must come before `{c}`; write e.g. \"1h30m\""))?;
                    number.clear();
                    let repeated = if c == 'h' { seen_h || seen_m } else { seen_m };
                    if repeated {
                        return Err(format!("{text:?}: write hours then minutes, each once (\"1h30m\")"));
                    }
                    let factor = if c == 'h' {
                        seen_h = true;
                        60
                    } else {
                        seen_m = true;
                        1
                    };
                    minutes = value
                        .checked_mul(factor)
                        .and_then(|v| minutes.checked_add(v))
                        .ok_or_else(|| format!("{text:?}: too large"))?;
                }
                'd' => {
                    return Err(format!(
                        "{text:?}: there is no day unit; a business day is what the calendar opens, \
                         so write business hours, e.g. \"8h\""
                    ));
                }
                _ => return Err(format!("{text:?}: unexpected {c:?}; units are `h` and `m`, e.g. \"1h30m\"")),
            }
        }
        if !number.is_empty() {
            return Err(format!("{text:?}: a unit is missing after {number}; write e.g. \"{number}m\""));
        }
        Ok(Self { minutes })
    }
}

impl fmt::Display for BusinessDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m) = (self.minutes / 60, self.minutes % 60);
        match (h, m) {
            (0, m) => write!(f, "{m}m"),
            (h, 0) => write!(f, "{h}h"),
            (h, m) => write!(f, "{h}h{m}m"),
        }
    }
}

impl<'de> Deserialize<'de> for BusinessDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for BusinessDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The three SLA metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// From the ticket's creation to the first agent reply.
    FirstResponse,
    /// From a customer message following an agent reply to the next agent
    /// reply.
    NextResponse,
    /// From creation to solved, resuming on reopen.
    Resolution,
}

impl Metric {
    /// All metrics, in order.
    pub const ALL: [Metric; 3] = [Metric::FirstResponse, Metric::NextResponse, Metric::Resolution];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstResponse => "first_response",
            Metric::NextResponse => "next_response",
            Metric::Resolution => "resolution",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which calendar a priority uses: the tier's, or around the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CalendarChoice {
    /// The tier's `calendar` (`calendar = "tier"`, the default).
    #[default]
    Tier,
    /// Around the clock (`calendar = "24x7"`), e.g. urgent outages of a
    /// managed instance.
    AlwaysOpen,
}

impl<'de> Deserialize<'de> for CalendarChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "tier" => Ok(CalendarChoice::Tier),
            super::calendar::ALWAYS_OPEN => Ok(CalendarChoice::AlwaysOpen),
            other => Err(serde::de::Error::custom(format!(
                "unknown calendar choice {other:?}; expected \"tier\" or \"24x7\""
            ))),
        }
    }
}

/// The targets of one priority, as written in the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    /// `"tier"` (default) or `"24x7"`.
    #[serde(default)]
    pub calendar: CalendarChoice,
    pub first_response: Option<BusinessDuration>,
    pub next_response: Option<BusinessDuration>,
    pub resolution: Option<BusinessDuration>,
}

/// The SLA policy of one plan tier, as written under `[sla.<tier>]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyConfig {
    /// The support team's business calendar for this tier.
    pub calendar: CalendarConfig,
    /// Warning thresholds in percent of each target, each in 1..=99.
    #[serde(default = "default_warn_at")]
    pub warn_at: Vec<u8>,
    /// Statuses during which the clocks stop.
    #[serde(default = "default_pause_statuses")]
    pub pause_statuses: Vec<TicketStatus>,
    pub low: TargetsConfig,
    pub normal: TargetsConfig,
    pub high: TargetsConfig,
    pub urgent: TargetsConfig,
}

fn default_warn_at() -> Vec<u8> {
    vec![75, 90]
}

fn default_pause_statuses() -> Vec<TicketStatus> {
    vec![TicketStatus::Pending, TicketStatus::OnHold]
}

impl SlaPolicyConfig {
    /// The targets of a priority.
    pub fn targets(&self, priority: Priority) -> &TargetsConfig {
        match priority {
            Priority::Low => &self.low,
            Priority::Normal => &self.normal,
            Priority::High => &self.high,
            Priority::Urgent => &self.urgent,
        }
    }
}

/// What is wrong with an SLA policy; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct PolicyError {
    /// The configuration key, e.g. `sla.single.normal.first_response`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl PolicyError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

/// The targets, thresholds, pause statuses and calendar definition applied
/// to one ticket: stored as JSON with the ticket's SLA row, so the clock can
/// be recomputed later exactly as it was promised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// The plan tier the policy came from.
    pub tier: String,
    /// The ticket priority the targets are for.
    pub priority: Priority,
    /// The calendar the clocks run on (the tier's, or 24x7).
    pub calendar: CalendarConfig,
    /// Warning thresholds in percent.
    pub warn_at: Vec<u8>,
    /// Statuses that stop the clocks.
    pub pause_statuses: Vec<TicketStatus>,
    /// Target of first response, if the policy sets one.
    pub first_response: Option<BusinessDuration>,
    /// Target of each next response.
    pub next_response: Option<BusinessDuration>,
    /// Target of resolution.
    pub resolution: Option<BusinessDuration>,
}

impl PolicySnapshot {
    /// The target of a metric.
    pub fn target(&self, metric: Metric) -> Option<BusinessDuration> {
        match metric {
            Metric::FirstResponse => self.first_response,
            Metric::NextResponse => self.next_response,
            Metric::Resolution => self.resolution,
        }
    }

    /// Whether `status` stops the clocks.
    pub fn pauses(&self, status: TicketStatus) -> bool {
        self.pause_statuses.contains(&status)
    }

    /// Compiles the snapshot's calendar.
    pub fn compile_calendar(&self) -> Result<Calendar, CalendarError> {
        self.calendar.compile()
    }
}

/// A compiled policy: the snapshot plus its compiled calendar.
#[derive(Debug, Clone)]
pub struct AppliedPolicy {
    /// What is stored with the ticket.
    pub snapshot: PolicySnapshot,
    /// The compiled calendar of the snapshot.
    pub calendar: Calendar,
}

/// Every tier's policy, validated and compiled: cheap to clone, shared by
/// the domain, the evaluator and `tusk sla recompute`.
#[derive(Debug, Clone)]
pub struct SlaPolicies {
    tiers: Arc<BTreeMap<(String, Priority), AppliedPolicy>>,
    default_plan: String,
}

impl SlaPolicies {
    /// Validates and compiles the `[sla.<tier>]` tables: every plan tier in
    /// `plans` must have a policy (policies of other tiers are ignored), and
    /// each priority needs all three targets, each above zero.
    pub fn compile(
        sla: &BTreeMap<String, SlaPolicyConfig>,
        plans: &[String],
        default_plan: &str,
    ) -> Result<Self, PolicyError> {
        for plan in plans {
            if !sla.contains_key(plan) {
                return Err(PolicyError::new(
                    format!("sla.{plan}"),
                    format!("plan tier `{plan}` has no SLA policy; add an [sla.{plan}] table"),
                ));
            }
        }
        let mut tiers = BTreeMap::new();
        for (tier, policy) in sla {
            let key = format!("sla.{tier}");
            // A policy of a tier that is not sold (e.g. a built-in default
            // after [plans] was replaced) is not used.
            if !plans.iter().any(|p| p == tier) {
                continue;
            }
            let tier_calendar =
                policy.calendar.compile().map_err(|e| PolicyError::new(format!("{key}.calendar"), e.to_string()))?;
            let mut warn_at = policy.warn_at.clone();
            if let Some(bad) = warn_at.iter().find(|w| !(1..=99).contains(*w)) {
                return Err(PolicyError::new(format!("{key}.warn_at"), format!("{bad} is not a percentage in 1..=99")));
            }
            warn_at.sort_unstable();
            warn_at.dedup();
            let mut pause_statuses = policy.pause_statuses.clone();
            if let Some(done) = pause_statuses.iter().find(|s| s.is_done()) {
                return Err(PolicyError::new(
                    format!("{key}.pause_statuses"),
                    format!("`{done}` already stops the clocks for good; list only open statuses"),
                ));
            }
            pause_statuses.sort_unstable();
            pause_statuses.dedup();
            for &priority in Priority::ALL {
                let targets = policy.targets(priority);
                let pkey = format!("{key}.{priority}");
                for metric in Metric::ALL {
                    let target = match metric {
                        Metric::FirstResponse => targets.first_response,
                        Metric::NextResponse => targets.next_response,
                        Metric::Resolution => targets.resolution,
                    };
                    match target {
                        None => {
                            return Err(PolicyError::new(
                                format!("{pkey}.{metric}"),
                                "target missing; set a business duration such as \"8h\"",
                            ));
                        }
                        Some(t) if t.as_minutes() <= 0 => {
                            return Err(PolicyError::new(format!("{pkey}.{metric}"), "target must be above zero"));
                        }
                        Some(_) => {}
                    }
                }
                let (calendar_config, calendar) = match targets.calendar {
                    CalendarChoice::Tier => (policy.calendar.clone(), tier_calendar.clone()),
                    CalendarChoice::AlwaysOpen => {
                        let mut config = CalendarConfig::always_open();
                        config.timezone = policy.calendar.timezone.clone();
                        let calendar = config
                            .compile()
                            .map_err(|e| PolicyError::new(format!("{pkey}.calendar"), e.to_string()))?;
                        (config, calendar)
                    }
                };
                let snapshot = PolicySnapshot {
                    tier: tier.clone(),
                    priority,
                    calendar: calendar_config,
                    warn_at: warn_at.clone(),
                    pause_statuses: pause_statuses.clone(),
                    first_response: targets.first_response,
                    next_response: targets.next_response,
                    resolution: targets.resolution,
                };
                tiers.insert((tier.clone(), priority), AppliedPolicy { snapshot, calendar });
            }
        }
        if !sla.contains_key(default_plan) {
            return Err(PolicyError::new(
                format!("sla.{default_plan}"),
                format!("the default plan `{default_plan}` has no SLA policy"),
            ));
        }
        Ok(Self { tiers: Arc::new(tiers), default_plan: default_plan.to_string() })
    }

    /// Compiles the policies of a loaded configuration.
    pub fn from_config(config: &crate::config::Config) -> Result<Self, PolicyError> {
        Self::compile(&config.sla, &config.plan_ids(), &config.support.default_plan)
    }

    /// The policy for a tier and priority; an unknown tier (removed from the
    /// configuration) falls back to the default plan's policy.
    pub fn get(&self, tier: Option<&str>, priority: Priority) -> Option<&AppliedPolicy> {
        let tier = tier.unwrap_or(&self.default_plan);
        self.tiers.get(&(tier.to_string(), priority)).or_else(|| self.tiers.get(&(self.default_plan.clone(), priority)))
    }

    /// The default plan tier.
    pub fn default_plan(&self) -> &str {
        &self.default_plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> BTreeMap<String, SlaPolicyConfig> {
        toml::from_str(text).unwrap()
    }

    const GOOD: &str = r#"
[single]
calendar = { timezone = "Europe/Paris", hours = { mon = ["09:00-17:00"], fri = ["09:00-17:00"] } }
low = { first_response = "16h", next_response = "16h", resolution = "80h" }
normal = { first_response = "8h", next_response = "8h", resolution = "40h" }
high = { first_response = "4h", next_response = "4h", resolution = "16h" }
urgent = { first_response = "1h", next_response = "1h", resolution = "8h" }
"#;

    #[test]
    fn durations_parse_in_business_hours_and_minutes() {
        assert_eq!(BusinessDuration::parse("8h").unwrap().as_minutes(), 480);
        assert_eq!(BusinessDuration::parse("45m").unwrap().as_minutes(), 45);
        assert_eq!(BusinessDuration::parse("1h30m").unwrap().as_minutes(), 90);
        assert!(BusinessDuration::parse("1d").unwrap_err().contains("no day unit"));
        assert!(BusinessDuration::parse("30m1h").is_err());
        assert!(BusinessDuration::parse("90").unwrap_err().contains("unit is missing"));
        assert!(BusinessDuration::parse("").is_err());
        assert_eq!(BusinessDuration::parse("1h30m").unwrap().to_string(), "1h30m");
    }

    #[test]
    fn compiles_with_defaults_and_snapshots() {
        let sla = parse(GOOD);
        let policies = SlaPolicies::compile(&sla, &["single".into()], "single").unwrap();
        let p = policies.get(None, Priority::Normal).unwrap();
        assert_eq!(p.snapshot.warn_at, vec![75, 90]);
        assert_eq!(p.snapshot.pause_statuses, vec![TicketStatus::Pending, TicketStatus::OnHold]);
        assert_eq!(p.snapshot.first_response, Some(BusinessDuration::minutes(480)));
        let json = serde_json::to_string(&p.snapshot).unwrap();
        let back: PolicySnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p.snapshot);
        back.compile_calendar().unwrap();
    }

    #[test]
    fn validation_names_the_plan_and_the_problem() {
        let sla = parse(GOOD);
        let e = SlaPolicies::compile(&sla, &["single".into(), "managed".into()], "single").unwrap_err();
        assert_eq!(e.key, "sla.managed");

        let sla = parse(&GOOD.replace("normal = { first_response = \"8h\", ", "normal = { "));
        let e = SlaPolicies::compile(&sla, &["single".into()], "single").unwrap_err();
        assert_eq!(e.key, "sla.single.normal.first_response");

        let sla = parse(&GOOD.replace("\"16h\", resolution", "\"0m\", resolution"));
        let e = SlaPolicies::compile(&sla, &["single".into()], "single").unwrap_err();
        assert_eq!(e.to_string(), "sla.single.low.next_response: target must be above zero");

        let sla = parse(&GOOD.replace("Europe/Paris", "Europe/Pariss"));
        let e = SlaPolicies::compile(&sla, &["single".into()], "single").unwrap_err();
        assert_eq!(e.key, "sla.single.calendar");
        assert!(e.message.contains("unknown timezone"), "{e}");

        let sla = parse(&GOOD.replace("mon = [\"09:00-17:00\"]", "mon = [\"09:00-17:00\", \"16:00-18:00\"]"));
        let e = SlaPolicies::compile(&sla, &["single".into()], "single").unwrap_err();
        assert!(e.message.contains("overlap"), "{e}");

        let sla = parse(&GOOD.replace("[single]\n", "[single]\nwarn_at = [75, 120]\n"));
        let e = SlaPolicies::compile(&sla, &["single".into()], "single").unwrap_err();
        assert_eq!(e.to_string(), "sla.single.warn_at: 120 is not a percentage in 1..=99");
    }

    #[test]
    fn a_priority_may_run_around_the_clock() {
        let sla = parse(&GOOD.replace("urgent = { first_response", "urgent = { calendar = \"24x7\", first_response"));
        let policies = SlaPolicies::compile(&sla, &["single".into()], "single").unwrap();
        assert!(policies.get(Some("single"), Priority::Urgent).unwrap().calendar.is_always_open());
        assert!(!policies.get(Some("single"), Priority::High).unwrap().calendar.is_always_open());
        assert!(policies.get(Some("gone"), Priority::High).is_some());
    }
}
