//! The report queries. Raw SQL, because the grouping column, the bucketing
//! of timestamps and the conditional sums are clearer that way; written
//! once with `?` placeholders and run on the inner connection of either
//! backend (PostgreSQL gets `$n`). Only typed values are bound; the SQL
//! text is built from fixed fragments chosen by enums, never from input.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use super::{AGE_BUCKETS, BacklogRow, BreachMetric, BreachRow, GroupBy, WeekRow, week_start};
use crate::db::AnyConnection;
use crate::db::schema::{agents, instances, institutions};
use crate::error::AppResult;

/// Tickets opened in `[?, ?)` with their SLA row.
const BASE: &str = " FROM tickets t JOIN ticket_sla s ON s.ticket_id = t.id \
                     WHERE t.created_at >= ? AND t.created_at < ?";

const FR_MET: &str = "s.first_response_outcome = 'met'";
/// Binds `as_of`.
const FR_BREACHED: &str = "(s.first_response_outcome IN ('breached', 'overdue') \
                           OR (s.first_response_outcome = 'running' AND s.first_response_due_at <= ?))";
const RES_MET: &str = "s.resolution_outcome = 'met'";
/// Binds `as_of`.
const RES_BREACHED: &str = "(s.resolution_outcome IN ('breached', 'overdue') \
                            OR (s.resolution_outcome = 'running' AND s.resolution_due_at <= ?))";

fn key_expr(group_by: GroupBy) -> &'static str {
    match group_by {
        GroupBy::Tier => "s.tier",
        GroupBy::Priority => "s.priority",
        GroupBy::Institution => "COALESCE(CAST(t.institution_id AS TEXT), 'none')",
        GroupBy::Instance => "COALESCE(CAST(t.instance_id AS TEXT), 'none')",
        GroupBy::Agent => "COALESCE(CAST(t.assignee_id AS TEXT), 'none')",
    }
}

/// `YYYY-MM-DD HH` of a UTC timestamp column.
fn hour_expr(conn: &AnyConnection, column: &str) -> String {
    match conn {
        AnyConnection::Sqlite(_) => format!("substr({column}, 1, 13)"),
        AnyConnection::Postgresql(_) => format!("to_char({column}, 'YYYY-MM-DD HH24')"),
    }
}

/// `?` → `$1`, `$2`, … (the SQL here has no `?` inside literals).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn load<T>(conn: &mut AnyConnection, sql: &str, binds: &[NaiveDateTime]) -> AppResult<Vec<T>>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    match conn {
        AnyConnection::Sqlite(c) => {
            let mut q = diesel::sql_query(sql).into_boxed::<Sqlite>();
            for b in binds {
                q = q.bind::<Timestamp, _>(*b);
            }
            Ok(q.load(c)?)
        }
        AnyConnection::Postgresql(c) => {
            let mut q = diesel::sql_query(numbered(sql)).into_boxed::<Pg>();
            for b in binds {
                q = q.bind::<Timestamp, _>(*b);
            }
            Ok(q.load(c)?)
        }
    }
}

/// Counts of one group.
#[derive(Debug, QueryableByName)]
pub(super) struct GroupCounts {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub tickets: i64,
    #[diesel(sql_type = BigInt)]
    pub fr_met: i64,
    #[diesel(sql_type = BigInt)]
    pub fr_breached: i64,
    #[diesel(sql_type = BigInt)]
    pub fr_pending: i64,
    #[diesel(sql_type = BigInt)]
    pub res_met: i64,
    #[diesel(sql_type = BigInt)]
    pub res_breached: i64,
    #[diesel(sql_type = BigInt)]
    pub res_pending: i64,
}

/// Met / breached / pending per group, in key order.
pub(super) fn group_counts(
    conn: &mut AnyConnection,
    group_by: GroupBy,
    from: NaiveDateTime,
    to: NaiveDateTime,
    as_of: NaiveDateTime,
) -> AppResult<Vec<GroupCounts>> {
    let sql = format!(
        "SELECT key, tickets, fr_met, fr_breached, fr_known - fr_met - fr_breached AS fr_pending, \
                res_met, res_breached, res_known - res_met - res_breached AS res_pending FROM ( \
         SELECT {key} AS key, COUNT(*) AS tickets, \
           SUM(CASE WHEN {FR_MET} THEN 1 ELSE 0 END) AS fr_met, \
           SUM(CASE WHEN {FR_BREACHED} THEN 1 ELSE 0 END) AS fr_breached, \
           SUM(CASE WHEN s.first_response_outcome IS NOT NULL THEN 1 ELSE 0 END) AS fr_known, \
           SUM(CASE WHEN {RES_MET} THEN 1 ELSE 0 END) AS res_met, \
           SUM(CASE WHEN {RES_BREACHED} THEN 1 ELSE 0 END) AS res_breached, \
           SUM(CASE WHEN s.resolution_outcome IS NOT NULL THEN 1 ELSE 0 END) AS res_known \
         {BASE} GROUP BY 1) g ORDER BY key",
        key = key_expr(group_by)
    );
    load(conn, &sql, &[as_of, as_of, from, to])
}

#[derive(QueryableByName)]
struct Achieved {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    fr: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    res: Option<i64>,
}

/// Per group key: achieved first-response and resolution business seconds.
pub(super) type AchievedTimes = HashMap<String, (Vec<i64>, Vec<i64>)>;

/// Achieved business seconds per group: (first response, resolution).
pub(super) fn achieved_times(
    conn: &mut AnyConnection,
    group_by: GroupBy,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> AppResult<AchievedTimes> {
    let sql = format!(
        "SELECT {key} AS key, s.first_response_business_secs AS fr, s.resolution_business_secs AS res {BASE} \
         AND (s.first_response_business_secs IS NOT NULL OR s.resolution_business_secs IS NOT NULL)",
        key = key_expr(group_by)
    );
    let rows: Vec<Achieved> = load(conn, &sql, &[from, to])?;
    let mut out: AchievedTimes = HashMap::new();
    for r in rows {
        let entry = out.entry(r.key).or_default();
        if let Some(v) = r.fr {
            entry.0.push(v);
        }
        if let Some(v) = r.res {
            entry.1.push(v);
        }
    }
    Ok(out)
}

/// Labels of the keys: institution names, instance domains, agent names.
pub(super) fn labels<'a>(
    conn: &mut AnyConnection,
    group_by: GroupBy,
    keys: impl Iterator<Item = &'a str>,
) -> AppResult<BTreeMap<String, String>> {
    let ids: Vec<i64> = keys.filter_map(|k| k.parse().ok()).collect();
    let mut out = BTreeMap::new();
    out.insert("none".to_string(), "(none)".to_string());
    let named: Vec<(i64, String)> = match group_by {
        GroupBy::Tier | GroupBy::Priority => return Ok(out),
        GroupBy::Institution => institutions::table
            .filter(institutions::id.eq_any(&ids))
            .select((institutions::id, institutions::name))
            .load::<(crate::db::InstitutionId, String)>(conn)?
            .into_iter()
            .map(|(id, n)| (id.0, n))
            .collect(),
        GroupBy::Instance => instances::table
            .filter(instances::id.eq_any(&ids))
            .select((instances::id, instances::domain))
            .load::<(crate::db::InstanceId, String)>(conn)?
            .into_iter()
            .map(|(id, n)| (id.0, n))
            .collect(),
        GroupBy::Agent => agents::table
            .filter(agents::id.eq_any(&ids))
            .select((agents::id, agents::name))
            .load::<(crate::db::AgentId, String)>(conn)?
            .into_iter()
            .map(|(id, n)| (id.0, n))
            .collect(),
    };
    out.extend(named.into_iter().map(|(id, name)| (id.to_string(), name)));
    Ok(out)
}

#[derive(QueryableByName)]
struct BreachSql {
    #[diesel(sql_type = BigInt)]
    number: i64,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    tier: String,
    #[diesel(sql_type = Text)]
    priority: String,
    #[diesel(sql_type = Nullable<Text>)]
    institution: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    instance: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    agent: Option<String>,
    #[diesel(sql_type = Integer)]
    fr_breached: i32,
    #[diesel(sql_type = Nullable<Timestamp>)]
    fr_due: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<BigInt>)]
    fr_secs: Option<i64>,
    #[diesel(sql_type = Integer)]
    res_breached: i32,
    #[diesel(sql_type = Nullable<Timestamp>)]
    res_due: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<BigInt>)]
    res_secs: Option<i64>,
}

/// Missed targets of tickets opened in the range, newest tickets first, at
/// most `limit` rows.
pub(super) fn breaches(
    conn: &mut AnyConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    as_of: NaiveDateTime,
    limit: usize,
) -> AppResult<Vec<BreachRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT t.number, t.subject, s.tier, s.priority, i.name AS institution, n.domain AS instance, \
           a.name AS agent, \
           CASE WHEN {FR_BREACHED} THEN 1 ELSE 0 END AS fr_breached, s.first_response_due_at AS fr_due, \
           s.first_response_business_secs AS fr_secs, \
           CASE WHEN {RES_BREACHED} THEN 1 ELSE 0 END AS res_breached, s.resolution_due_at AS res_due, \
           s.resolution_business_secs AS res_secs \
         FROM tickets t JOIN ticket_sla s ON s.ticket_id = t.id \
           LEFT JOIN institutions i ON i.id = t.institution_id \
           LEFT JOIN instances n ON n.id = t.instance_id \
           LEFT JOIN agents a ON a.id = t.assignee_id \
         WHERE t.created_at >= ? AND t.created_at < ? AND ({FR_BREACHED} OR {RES_BREACHED}) \
         ORDER BY t.created_at DESC, t.id DESC LIMIT {limit}"
    );
    let rows: Vec<BreachSql> = load(conn, &sql, &[as_of, as_of, from, to, as_of, as_of])?;
    let mut out = Vec::new();
    for r in rows {
        let base = BreachRow {
            number: r.number,
            subject: r.subject,
            link: format!("/console/tickets/{}", r.number),
            tier: r.tier,
            priority: r.priority,
            institution: r.institution,
            instance: r.instance,
            agent: r.agent,
            metric: BreachMetric::FirstResponse,
            due_at: r.fr_due,
            business_secs: r.fr_secs,
            still_open: r.fr_secs.is_none(),
        };
        if r.fr_breached == 1 {
            out.push(base.clone());
        }
        if r.res_breached == 1 {
            out.push(BreachRow {
                metric: BreachMetric::Resolution,
                due_at: r.res_due,
                business_secs: r.res_secs,
                still_open: r.res_secs.is_none(),
                ..base
            });
        }
    }
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(out)
}

#[derive(QueryableByName)]
struct BacklogSql {
    #[diesel(sql_type = Text)]
    tier: String,
    #[diesel(sql_type = Integer)]
    bucket: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Open tickets by tier and age at `as_of`.
pub(super) fn backlog(conn: &mut AnyConnection, as_of: NaiveDateTime) -> AppResult<Vec<BacklogRow>> {
    let mut cases = String::new();
    let mut binds = Vec::new();
    for (i, (_, days)) in AGE_BUCKETS.iter().enumerate().take(AGE_BUCKETS.len() - 1) {
        cases.push_str(&format!("WHEN t.created_at > ? THEN {i} "));
        binds.push(as_of - Duration::days(*days));
    }
    let last = AGE_BUCKETS.len() - 1;
    let sql = format!(
        "SELECT COALESCE(s.tier, 'none') AS tier, CASE {cases}ELSE {last} END AS bucket, COUNT(*) AS n \
         FROM tickets t LEFT JOIN ticket_sla s ON s.ticket_id = t.id \
         WHERE t.status NOT IN ('solved', 'closed') AND t.created_at <= ? GROUP BY 1, 2 ORDER BY 1, 2"
    );
    binds.push(as_of);
    let rows: Vec<BacklogSql> = load(conn, &sql, &binds)?;
    let mut out: Vec<BacklogRow> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|b| b.tier != r.tier) {
            out.push(BacklogRow { tier: r.tier.clone(), by_age: vec![0; AGE_BUCKETS.len()], total: 0 });
        }
        if let Some(row) = out.last_mut()
            && let Some(slot) = usize::try_from(r.bucket).ok().and_then(|b| row.by_age.get_mut(b))
        {
            *slot += r.n;
            row.total += r.n;
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct HourSql {
    #[diesel(sql_type = Text)]
    hour: String,
    #[diesel(sql_type = Text)]
    tier: String,
    #[diesel(sql_type = BigInt)]
    tickets: i64,
    #[diesel(sql_type = BigInt)]
    fr_met: i64,
    #[diesel(sql_type = BigInt)]
    fr_breached: i64,
    #[diesel(sql_type = BigInt)]
    res_met: i64,
    #[diesel(sql_type = BigInt)]
    res_breached: i64,
}

#[derive(QueryableByName)]
struct SolvedSql {
    #[diesel(sql_type = Text)]
    hour: String,
    #[diesel(sql_type = Text)]
    tier: String,
    #[diesel(sql_type = BigInt)]
    tickets: i64,
}

/// The local week (Monday) of a `YYYY-MM-DD HH` UTC hour.
fn week_of(hour: &str, tz: Tz) -> Option<NaiveDate> {
    let at = NaiveDateTime::parse_from_str(&format!("{hour}:00:00"), "%Y-%m-%d %H:%M:%S").ok()?;
    Some(week_start(at.and_utc().with_timezone(&tz).date_naive()))
}

/// Weekly volume and compliance per tier over the range, every week of the
/// range present for every tier seen (zeros included), oldest first.
pub(super) fn weeks(
    conn: &mut AnyConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    as_of: NaiveDateTime,
    tz: Tz,
) -> AppResult<Vec<WeekRow>> {
    let hour = hour_expr(conn, "t.created_at");
    let sql = format!(
        "SELECT {hour} AS hour, s.tier AS tier, COUNT(*) AS tickets, \
           SUM(CASE WHEN {FR_MET} THEN 1 ELSE 0 END) AS fr_met, \
           SUM(CASE WHEN {FR_BREACHED} THEN 1 ELSE 0 END) AS fr_breached, \
           SUM(CASE WHEN {RES_MET} THEN 1 ELSE 0 END) AS res_met, \
           SUM(CASE WHEN {RES_BREACHED} THEN 1 ELSE 0 END) AS res_breached \
         {BASE} GROUP BY 1, 2"
    );
    let created: Vec<HourSql> = load(conn, &sql, &[as_of, as_of, from, to])?;
    let solved_hour = hour_expr(conn, "t.solved_at");
    let sql = format!(
        "SELECT {solved_hour} AS hour, s.tier AS tier, COUNT(*) AS tickets \
         FROM tickets t JOIN ticket_sla s ON s.ticket_id = t.id \
         WHERE t.solved_at >= ? AND t.solved_at < ? GROUP BY 1, 2"
    );
    let solved: Vec<SolvedSql> = load(conn, &sql, &[from, to])?;

    let first = week_start(from.and_utc().with_timezone(&tz).date_naive());
    let last = week_start((to - Duration::seconds(1)).and_utc().with_timezone(&tz).date_naive());
    let tiers: BTreeSet<&str> =
        created.iter().map(|r| r.tier.as_str()).chain(solved.iter().map(|r| r.tier.as_str())).collect();
    let mut table: BTreeMap<(NaiveDate, String), WeekRow> = BTreeMap::new();
    let mut week = first;
    while week <= last {
        for tier in &tiers {
            table
                .insert((week, (*tier).to_string()), WeekRow { week, tier: (*tier).to_string(), ..WeekRow::default() });
        }
        week += Duration::days(7);
    }
    for r in created {
        if let Some(w) = week_of(&r.hour, tz)
            && let Some(row) = table.get_mut(&(w, r.tier))
        {
            row.new += r.tickets;
            row.first_response_met += r.fr_met;
            row.first_response_breached += r.fr_breached;
            row.resolution_met += r.res_met;
            row.resolution_breached += r.res_breached;
        }
    }
    for r in solved {
        if let Some(w) = week_of(&r.hour, tz)
            && let Some(row) = table.get_mut(&(w, r.tier))
        {
            row.solved += r.tickets;
        }
    }
    Ok(table.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(numbered("a = ? AND b < ? OR c"), "a = $1 AND b < $2 OR c");
    }

    #[test]
    fn hours_map_to_local_weeks() {
        // Sunday 23:30 UTC is Monday 00:30 in Paris (winter): the next week.
        assert_eq!(week_of("2026-11-29 23", chrono_tz::Europe::Paris), NaiveDate::from_ymd_opt(2026, 11, 30));
        assert_eq!(week_of("2026-11-29 22", chrono_tz::Europe::Paris), NaiveDate::from_ymd_opt(2026, 11, 23));
        assert_eq!(week_of("garbage", chrono_tz::UTC), None);
    }
}
