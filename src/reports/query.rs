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
use crate::db::schema::{agents, instances, institutions};
use crate::db::{AnyConnection, TicketStatus};
use crate::error::AppResult;

/// Tickets opened in `[?, ?)`, by their SLA row alone (the covering index
/// `ticket_sla_report`): enough for the tier and priority groupings.
const BASE: &str = " FROM ticket_sla s WHERE s.opened_at >= ? AND s.opened_at < ?";
/// The same with the ticket, for the groupings by its current institution,
/// instance or assignee.
const BASE_TICKETS: &str = " FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id \
                             WHERE s.opened_at >= ? AND s.opened_at < ?";

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

fn base(group_by: GroupBy) -> &'static str {
    match group_by {
        GroupBy::Tier | GroupBy::Priority => BASE,
        GroupBy::Institution | GroupBy::Instance | GroupBy::Agent => BASE_TICKETS,
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
#[derive(Debug, Default)]
pub(super) struct GroupCounts {
    pub key: String,
    pub tickets: i64,
    pub fr_met: i64,
    pub fr_breached: i64,
    pub fr_pending: i64,
    pub res_met: i64,
    pub res_breached: i64,
    pub res_pending: i64,
}

/// One ticket opened in the range, as the report sees it.
#[derive(QueryableByName)]
struct FactSql {
    #[diesel(sql_type = Timestamp)]
    opened_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    tier: String,
    /// `VERDICT_*` codes.
    #[diesel(sql_type = Integer)]
    fr: i32,
    #[diesel(sql_type = Nullable<BigInt>)]
    fr_secs: Option<i64>,
    #[diesel(sql_type = Integer)]
    res: i32,
    #[diesel(sql_type = Nullable<BigInt>)]
    res_secs: Option<i64>,
}

/// Where a metric of one ticket stands at `as_of`, as coded by the SQL.
const VERDICT_MET: i32 = 1;
const VERDICT_BREACHED: i32 = 2;
const VERDICT_PENDING: i32 = 3;

/// Per group key: achieved first-response and resolution business seconds.
pub(super) type AchievedTimes = HashMap<String, (Vec<i64>, Vec<i64>)>;

/// Compliance of the tickets opened in one UTC hour of one tier.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct HourCounts {
    tickets: i64,
    fr_met: i64,
    fr_breached: i64,
    res_met: i64,
    res_breached: i64,
}

/// Everything the report derives from the tickets opened in the range,
/// read in one pass.
pub(super) struct RangeFacts {
    /// Per group, in key order.
    pub groups: Vec<GroupCounts>,
    pub achieved: AchievedTimes,
    /// Per (UTC hour since the epoch, tier), for the weekly section.
    pub hours: HashMap<(i64, String), HourCounts>,
}

/// Reads the SLA facts of the tickets opened in `[from, to)` once and
/// aggregates them: met / breached / pending per group, the achieved
/// business times per group, and the hourly cohorts per tier.
pub(super) fn range_facts(
    conn: &mut AnyConnection,
    group_by: GroupBy,
    from: NaiveDateTime,
    to: NaiveDateTime,
    as_of: NaiveDateTime,
) -> AppResult<RangeFacts> {
    let sql = format!(
        "SELECT s.opened_at AS opened_at, {key} AS key, s.tier AS tier, \
           CASE WHEN {FR_MET} THEN {VERDICT_MET} WHEN {FR_BREACHED} THEN {VERDICT_BREACHED} \
                WHEN s.first_response_outcome IS NOT NULL THEN {VERDICT_PENDING} ELSE 0 END AS fr, \
           s.first_response_business_secs AS fr_secs, \
           CASE WHEN {RES_MET} THEN {VERDICT_MET} WHEN {RES_BREACHED} THEN {VERDICT_BREACHED} \
                WHEN s.resolution_outcome IS NOT NULL THEN {VERDICT_PENDING} ELSE 0 END AS res, \
           s.resolution_business_secs AS res_secs \
         {base}",
        key = key_expr(group_by),
        base = base(group_by),
    );
    let rows: Vec<FactSql> = load(conn, &sql, &[as_of, as_of, from, to])?;
    let mut groups: BTreeMap<String, GroupCounts> = BTreeMap::new();
    let mut achieved: AchievedTimes = HashMap::new();
    let mut hours: HashMap<(i64, String), HourCounts> = HashMap::new();
    for r in rows {
        let (fr_met, fr_breached) = (i64::from(r.fr == VERDICT_MET), i64::from(r.fr == VERDICT_BREACHED));
        let (res_met, res_breached) = (i64::from(r.res == VERDICT_MET), i64::from(r.res == VERDICT_BREACHED));
        let hour = hours.entry((r.opened_at.and_utc().timestamp().div_euclid(3600), r.tier)).or_default();
        hour.tickets += 1;
        hour.fr_met += fr_met;
        hour.fr_breached += fr_breached;
        hour.res_met += res_met;
        hour.res_breached += res_breached;
        if r.fr_secs.is_some() || r.res_secs.is_some() {
            let times = achieved.entry(r.key.clone()).or_default();
            times.0.extend(r.fr_secs);
            times.1.extend(r.res_secs);
        }
        let group = groups.entry(r.key).or_default();
        group.tickets += 1;
        group.fr_met += fr_met;
        group.fr_breached += fr_breached;
        group.fr_pending += i64::from(r.fr == VERDICT_PENDING);
        group.res_met += res_met;
        group.res_breached += res_breached;
        group.res_pending += i64::from(r.res == VERDICT_PENDING);
    }
    let groups = groups.into_iter().map(|(key, counts)| GroupCounts { key, ..counts }).collect();
    Ok(RangeFacts { groups, achieved, hours })
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
         FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id \
           LEFT JOIN institutions i ON i.id = t.institution_id \
           LEFT JOIN instances n ON n.id = t.instance_id \
           LEFT JOIN agents a ON a.id = t.assignee_id \
         WHERE s.opened_at >= ? AND s.opened_at < ? AND ({FR_BREACHED} OR {RES_BREACHED}) \
         ORDER BY s.opened_at DESC, s.ticket_id DESC LIMIT {limit}"
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
    let buckets = |column: &str| {
        let mut cases = String::new();
        for (i, _) in AGE_BUCKETS.iter().enumerate().take(AGE_BUCKETS.len() - 1) {
            cases.push_str(&format!("WHEN {column} > ? THEN {i} "));
        }
        format!("CASE {cases}ELSE {} END", AGE_BUCKETS.len() - 1)
    };
    let mut binds: Vec<NaiveDateTime> =
        AGE_BUCKETS.iter().take(AGE_BUCKETS.len() - 1).map(|(_, days)| as_of - Duration::days(*days)).collect();
    binds.push(as_of);
    // Per tier, the open tickets as their SLA rows say (the partial index
    // `ticket_sla_backlog` holds just those).
    let sql = format!(
        "SELECT s.tier AS tier, {bucket} AS bucket, COUNT(*) AS n FROM ticket_sla s \
         WHERE s.state <> 'done' AND s.opened_at <= ? GROUP BY 1, 2",
        bucket = buckets("s.opened_at")
    );
    let by_tier: Vec<BacklogSql> = load(conn, &sql, &binds)?;
    // Every open ticket, to find those no policy was applied to yet (tier
    // `none`): the difference, so that no ticket is joined to its SLA row.
    // The open statuses are listed (not `NOT IN` the done ones) so that the
    // `(status, created_at)` index answers alone.
    let open = crate::db::sql_literals(TicketStatus::ALL.iter().filter(|s| !s.is_done()).map(|s| s.as_str()));
    let sql = format!(
        "SELECT 'all' AS tier, {bucket} AS bucket, COUNT(*) AS n FROM tickets t \
         WHERE t.status IN ({open}) AND t.created_at <= ? GROUP BY 1, 2",
        bucket = buckets("t.created_at")
    );
    let all: Vec<BacklogSql> = load(conn, &sql, &binds)?;

    let mut rows: BTreeMap<String, BacklogRow> = BTreeMap::new();
    let mut add = |tier: &str, bucket: i32, n: i64| {
        let row = rows.entry(tier.to_string()).or_insert_with(|| BacklogRow {
            tier: tier.to_string(),
            by_age: vec![0; AGE_BUCKETS.len()],
            total: 0,
        });
        if let Some(slot) = usize::try_from(bucket).ok().and_then(|b| row.by_age.get_mut(b)) {
            *slot += n;
            row.total += n;
        }
    };
    let mut none = vec![0i64; AGE_BUCKETS.len()];
    for r in &all {
        if let Some(slot) = usize::try_from(r.bucket).ok().and_then(|b| none.get_mut(b)) {
            *slot += r.n;
        }
    }
    for r in by_tier {
        if let Some(slot) = usize::try_from(r.bucket).ok().and_then(|b| none.get_mut(b)) {
            *slot -= r.n;
        }
        add(&r.tier, r.bucket, r.n);
    }
    for (bucket, n) in none.into_iter().enumerate() {
        if n > 0 {
            add("none", i32::try_from(bucket).unwrap_or(i32::MAX), n);
        }
    }
    Ok(rows.into_values().collect())
}

#[derive(QueryableByName)]
struct SolvedSql {
    #[diesel(sql_type = Text)]
    tier: String,
    #[diesel(sql_type = BigInt)]
    tickets: i64,
}

/// The UTC instant of local midnight starting `date` (the earlier one when
/// a clock change repeats it, the instant after the gap when it skips it).
fn local_midnight(date: NaiveDate, tz: Tz) -> NaiveDateTime {
    use chrono::TimeZone;
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    (0..=3)
        .find_map(|h| tz.from_local_datetime(&(midnight + Duration::hours(h))).earliest())
        .map_or(midnight, |at| at.naive_utc())
}

/// The local week (Monday) of a UTC hour (hours since the epoch).
fn week_of(hour: i64, tz: Tz) -> Option<NaiveDate> {
    let at = chrono::DateTime::from_timestamp(hour.checked_mul(3600)?, 0)?;
    Some(week_start(at.with_timezone(&tz).date_naive()))
}

/// Weekly volume and compliance per tier over the range, every week of the
/// range present for every tier seen (zeros included), oldest first:
/// `created` from [`range_facts`], the solved tickets read here.
pub(super) fn weeks(
    conn: &mut AnyConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    tz: Tz,
    created: HashMap<(i64, String), HourCounts>,
) -> AppResult<Vec<WeekRow>> {
    // Solved tickets: one count per local week over the `(solved_at, tier)`
    // index — a range scan each, where one grouping by hour would sort the
    // whole year's rows.
    let first = week_start(from.and_utc().with_timezone(&tz).date_naive());
    let last = week_start((to - Duration::seconds(1)).and_utc().with_timezone(&tz).date_naive());
    let sql = "SELECT s.tier AS tier, COUNT(*) AS tickets FROM ticket_sla s \
               WHERE s.solved_at >= ? AND s.solved_at < ? GROUP BY s.tier";
    let mut solved: Vec<(NaiveDate, SolvedSql)> = Vec::new();
    let mut week = first;
    while week <= last {
        let start = local_midnight(week, tz).max(from);
        let end = local_midnight(week + Duration::days(7), tz).min(to);
        if start < end {
            let rows: Vec<SolvedSql> = load(conn, sql, &[start, end])?;
            solved.extend(rows.into_iter().map(|r| (week, r)));
        }
        week += Duration::days(7);
    }

    let tiers: BTreeSet<&str> =
        created.keys().map(|(_, tier)| tier.as_str()).chain(solved.iter().map(|(_, r)| r.tier.as_str())).collect();
    let mut table: BTreeMap<(NaiveDate, String), WeekRow> = BTreeMap::new();
    let mut week = first;
    while week <= last {
        for tier in &tiers {
            table
                .insert((week, (*tier).to_string()), WeekRow { week, tier: (*tier).to_string(), ..WeekRow::default() });
        }
        week += Duration::days(7);
    }
    for ((hour, tier), r) in created {
        if let Some(w) = week_of(hour, tz)
            && let Some(row) = table.get_mut(&(w, tier))
        {
            row.new += r.tickets;
            row.first_response_met += r.fr_met;
            row.first_response_breached += r.fr_breached;
            row.resolution_met += r.res_met;
            row.resolution_breached += r.res_breached;
        }
    }
    for (w, r) in solved {
        if let Some(row) = table.get_mut(&(w, r.tier)) {
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
    fn local_midnights_in_utc() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let utc = |m, day, h| d(m, day).and_hms_opt(h, 0, 0).unwrap();
        assert_eq!(local_midnight(d(11, 30), chrono_tz::Europe::Paris), utc(11, 29, 23));
        assert_eq!(local_midnight(d(7, 6), chrono_tz::Europe::Paris), utc(7, 5, 22));
        // Santiago skips midnight when summer time starts (6 Sep 2026).
        assert_eq!(local_midnight(d(9, 6), chrono_tz::America::Santiago), utc(9, 6, 4));
    }

    #[test]
    fn hours_map_to_local_weeks() {
        // Sunday 23:30 UTC is Monday 00:30 in Paris (winter): the next week.
        let hour = |h| {
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap().and_hms_opt(h, 0, 0).unwrap().and_utc().timestamp() / 3600
        };
        assert_eq!(week_of(hour(23), chrono_tz::Europe::Paris), NaiveDate::from_ymd_opt(2026, 11, 30));
        assert_eq!(week_of(hour(22), chrono_tz::Europe::Paris), NaiveDate::from_ymd_opt(2026, 11, 23));
        assert_eq!(week_of(i64::MAX, chrono_tz::UTC), None);
    }
}
