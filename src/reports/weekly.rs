//! The weekly SLA summary email to managers (`[reports.weekly]`).
//!
//! From the configured day and time of each week (in `support.timezone`)
//! the summary of the previous week (Monday 00:00 to Monday 00:00 local) is
//! due. Whoever finds it due first computes the report and, in one
//! transaction, inserts the `report_deliveries` row for the week (unique per
//! report and period start) and one `sla_weekly` mail-outbox row per active
//! manager, with the summary CSV attached. A second process — or a second
//! tick — finds the row, or loses the insert on the unique index and rolls
//! back, so each week's summary is queued exactly once.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde_json::json;

use super::{GroupBy, ReportQuery, SlaReport, TierNames, human_pct, week_start};
use crate::config::Config;
use crate::db::schema::{agents, report_deliveries};
use crate::db::{AnyConnection, Role};
use crate::domain::outbox::{self, OutgoingMail};
use crate::error::{AppError, AppResult, ErrorKind};

/// Name of the report in `report_deliveries`, and the email kind.
pub const REPORT: &str = "sla_weekly";

/// When the summary is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub enabled: bool,
    pub weekday: Weekday,
    pub time: NaiveTime,
    pub timezone: Tz,
    pub check_interval: std::time::Duration,
}

impl Schedule {
    /// From `[reports.weekly]` and `support.timezone`; the error names the key.
    pub fn from_config(config: &Config) -> Result<Schedule, (String, String)> {
        let w = &config.reports.weekly;
        let weekday = match w.day.as_str() {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            other => {
                return Err((
                    "reports.weekly.day".into(),
                    format!("`{other}` is not a day; write mon, tue, wed, thu, fri, sat or sun"),
                ));
            }
        };
        let time = NaiveTime::parse_from_str(&w.time, "%H:%M")
            .map_err(|_| ("reports.weekly.time".to_string(), format!("`{}` is not a time like 08:00", w.time)))?;
        let timezone = config.support.timezone.parse::<Tz>().map_err(|_| {
            ("support.timezone".to_string(), format!("unknown IANA timezone `{}`", config.support.timezone))
        })?;
        if w.check_interval_secs == 0 {
            return Err(("reports.weekly.check_interval_secs".into(), "must be at least 1".into()));
        }
        Ok(Schedule {
            enabled: w.enabled,
            weekday,
            time,
            timezone,
            check_interval: std::time::Duration::from_secs(w.check_interval_secs),
        })
    }

    /// The week whose summary is due at `now`: `[Monday before last,
    /// last Monday)` once this week's send instant has passed, else the
    /// week before that (already due since last week's send instant).
    /// Returns (start, end, Monday's local date).
    pub fn due_period(&self, now: DateTime<Utc>) -> AppResult<(DateTime<Utc>, DateTime<Utc>, NaiveDate)> {
        let today = now.with_timezone(&self.timezone).date_naive();
        let monday = week_start(today);
        let send_day = monday + Duration::days(i64::from(self.weekday.num_days_from_monday()));
        let send_at = local_instant(self.timezone, send_day.and_time(self.time))?;
        let this_week = if now >= send_at { monday } else { monday - Duration::days(7) };
        let first = this_week - Duration::days(7);
        Ok((super::local_midnight(self.timezone, first)?, super::local_midnight(self.timezone, this_week)?, first))
    }
}

/// A local wall-clock instant as UTC (a time in a DST gap moves forward).
fn local_instant(tz: Tz, mut at: chrono::NaiveDateTime) -> AppResult<DateTime<Utc>> {
    for _ in 0..4 {
        if let Some(local) = tz.from_local_datetime(&at).earliest() {
            return Ok(local.with_timezone(&Utc));
        }
        at += Duration::minutes(30);
    }
    Err(AppError::invalid(format!("{at} does not exist in {tz}")))
}

/// What sending needs besides the schedule.
#[derive(Debug, Clone)]
pub struct WeeklySettings {
    pub schedule: Schedule,
    /// Plan tier display names.
    pub tier_names: TierNames,
    /// `server.public_url`, for the report link.
    pub public_url: String,
    /// Domain of the Message-IDs.
    pub mail_domain: String,
}

impl WeeklySettings {
    pub fn from_config(config: &Config) -> anyhow::Result<WeeklySettings> {
        let schedule = Schedule::from_config(config).map_err(|(k, m)| anyhow::anyhow!("{k}: {m}"))?;
        Ok(WeeklySettings {
            schedule,
            tier_names: config.plans.iter().map(|(id, p)| (id.clone(), p.name.clone())).collect(),
            public_url: config.server.public_url.trim_end_matches('/').to_string(),
            mail_domain: config.support.address.rsplit_once('@').map_or("localhost", |(_, d)| d).to_string(),
        })
    }
}

/// A summary queued by this call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub period_start: NaiveDate,
    /// Outbox rows queued (one per active manager).
    pub recipients: usize,
}

/// The email payload of the summary for one recipient.
pub fn payload(
    report: &SlaReport,
    settings: &WeeklySettings,
    week: NaiveDate,
    name: &str,
) -> AppResult<serde_json::Value> {
    let csv = super::csv::summary(report)?;
    let attachment_name = format!("sla-summary-{week}.csv");
    let backlog: i64 = report.backlog.iter().map(|b| b.total).sum();
    let tiers: Vec<serde_json::Value> = report
        .groups
        .iter()
        .map(|g| {
            json!({
                "name": settings.tier_names.get(&g.key).cloned().unwrap_or_else(|| g.label.clone()),
                "tickets": g.tickets,
                "first_response_percent": human_pct(g.first_response.percent_met),
                "resolution_percent": human_pct(g.resolution.percent_met),
            })
        })
        .collect();
    Ok(json!({
        "recipient_name": name,
        "period": format!("{week} to {}", week + Duration::days(6)),
        "tickets": report.total.tickets,
        "first_response_percent": human_pct(report.total.first_response.percent_met),
        "resolution_percent": human_pct(report.total.resolution.percent_met),
        "breaches": report.breaches_total,
        "backlog": backlog,
        "tiers": tiers,
        "report_url": format!(
            "{}/console/reports/sla?from={week}&to={}",
            settings.public_url,
            week + Duration::days(6)
        ),
        "attachment_name": attachment_name,
        "attachments": [{ "filename": attachment_name, "content_type": "text/csv; charset=utf-8", "content": csv }],
    }))
}

fn already_sent(conn: &mut AnyConnection, start: chrono::NaiveDateTime) -> AppResult<bool> {
    let n: i64 = report_deliveries::table
        .filter(report_deliveries::report.eq(REPORT))
        .filter(report_deliveries::period_start.eq(start))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Queues the summary due at `now` unless it was queued already; `None`
/// when there was nothing to do (not due, disabled, or sent).
pub fn send_if_due(
    conn: &mut AnyConnection,
    settings: &WeeklySettings,
    now: DateTime<Utc>,
) -> AppResult<Option<Delivery>> {
    if !settings.schedule.enabled {
        return Ok(None);
    }
    let (from, to, week) = settings.schedule.due_period(now)?;
    if already_sent(conn, from.naive_utc())? {
        return Ok(None);
    }
    let query = ReportQuery {
        from,
        to,
        group_by: GroupBy::Tier,
        as_of: now,
        timezone: settings.schedule.timezone,
        breach_limit: 0,
    };
    let report = super::sla_report(conn, &query)?;
    let managers: Vec<(String, String)> = agents::table
        .filter(agents::role.eq(Role::Manager))
        .filter(agents::active.eq(true))
        .order(agents::id.asc())
        .select((agents::email, agents::name))
        .load(conn)?;
    let at = crate::db::truncate_micros(now.naive_utc());
    let queued = crate::db::write_transaction(conn, |conn| {
        let recipients = i32::try_from(managers.len()).unwrap_or(i32::MAX);
        diesel::insert_into(report_deliveries::table)
            .values((
                report_deliveries::report.eq(REPORT),
                report_deliveries::period_start.eq(from.naive_utc()),
                report_deliveries::period_end.eq(to.naive_utc()),
                report_deliveries::recipients.eq(recipients),
                report_deliveries::created_at.eq(at),
            ))
            .execute(conn)?;
        for (email, name) in &managers {
            let message_id = crate::domain::tickets::generate_message_id(&settings.mail_domain);
            outbox::enqueue_mail(
                conn,
                &OutgoingMail {
                    kind: REPORT,
                    ticket_id: None,
                    message_ref: None,
                    recipients: std::slice::from_ref(email),
                    rfc_message_id: &message_id,
                    payload: payload(&report, settings, week, name)?,
                },
                at,
            )?;
        }
        Ok::<_, AppError>(managers.len())
    });
    match queued {
        Ok(recipients) => Ok(Some(Delivery { period_start: week, recipients })),
        // Another process queued this week's summary first.
        Err(e) if e.kind == ErrorKind::Conflict => Ok(None),
        Err(e) => Err(e),
    }
}

/// Starts the weekly-summary tick of `tusk serve`.
pub fn spawn(db: crate::db::Db, config: &Config) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let settings = WeeklySettings::from_config(config)?;
    Ok(tokio::spawn(async move {
        if !settings.schedule.enabled {
            return;
        }
        let mut tick = tokio::time::interval(settings.schedule.check_interval);
        loop {
            tick.tick().await;
            let s = settings.clone();
            match db.run(move |conn| send_if_due(conn, &s, Utc::now())).await {
                Ok(Some(d)) => {
                    tracing::info!(week = %d.period_start, recipients = d.recipients, "weekly SLA summary queued")
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = ?e, "weekly SLA summary failed"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(day: Weekday, h: u32) -> Schedule {
        Schedule {
            enabled: true,
            weekday: day,
            time: NaiveTime::from_hms_opt(h, 0, 0).unwrap(),
            timezone: chrono_tz::Europe::Paris,
            check_interval: std::time::Duration::from_secs(60),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_previous_week_is_due_from_the_configured_instant() {
        let s = schedule(Weekday::Mon, 8);
        // Mon 30 Nov 2026 07:59 Paris = 06:59 UTC: still the week before.
        let (from, to, week) = s.due_period(utc("2026-11-30T06:59:00Z")).unwrap();
        assert_eq!(week, NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!((from, to), (utc("2026-11-15T23:00:00Z"), utc("2026-11-22T23:00:00Z")));
        // 08:00 Paris: the week of 23 November.
        let (from, to, week) = s.due_period(utc("2026-11-30T07:00:00Z")).unwrap();
        assert_eq!(week, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!((from, to), (utc("2026-11-22T23:00:00Z"), utc("2026-11-29T23:00:00Z")));
        // Later in the week it stays the same week.
        assert_eq!(s.due_period(utc("2026-12-06T22:00:00Z")).unwrap().2, week);
    }

    #[test]
    fn the_config_is_checked() {
        let mut config = Config::defaults().unwrap();
        assert_eq!(Schedule::from_config(&config).unwrap().weekday, Weekday::Mon);
        config.reports.weekly.day = "monday".into();
        assert_eq!(Schedule::from_config(&config).unwrap_err().0, "reports.weekly.day");
        config.reports.weekly.day = "fri".into();
        config.reports.weekly.time = "25:00".into();
        assert_eq!(Schedule::from_config(&config).unwrap_err().0, "reports.weekly.time");
    }

    #[test]
    fn a_wednesday_schedule_uses_local_days() {
        let s = schedule(Weekday::Wed, 9);
        // Tue 1 Dec: the week of 16 Nov is still the one due.
        assert_eq!(
            s.due_period(utc("2026-12-01T12:00:00Z")).unwrap().2,
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
        );
        assert_eq!(
            s.due_period(utc("2026-12-02T08:00:00Z")).unwrap().2,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
    }
}
