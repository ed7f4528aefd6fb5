//! Hand-computed cases, the configuration surface and its errors, and the
//! assumptions behind the offset table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::local::{DAY, weekday_of_day};
use super::offsets::{SCAN_FROM, SCAN_TO, UtcOffsets, offset_at};
use super::*;
use chrono::{Datelike, NaiveDate, TimeZone, Weekday};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// A wall-clock time in `tz`, which must exist and be unambiguous.
fn local(tz: &str, text: &str) -> DateTime<Utc> {
    let tz: Tz = tz.parse().unwrap();
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive).single().unwrap().to_utc()
}

fn config(toml_text: &str) -> CalendarConfig {
    toml::from_str(toml_text).unwrap()
}

fn calendar(toml_text: &str) -> Calendar {
    config(toml_text).compile().unwrap()
}

fn compile_error(toml_text: &str) -> CalendarError {
    config(toml_text).compile().unwrap_err()
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

const PARIS_OFFICE: &str = r#"
timezone = "Europe/Paris"
hours = { mon = ["09:00-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-18:00"] }
"#;

// ---------------------------------------------------------------- scenarios

#[test]
fn friday_evening_plus_one_business_hour_is_monday_ten() {
    let cal = calendar(PARIS_OFFICE);
    let opened = local("Europe/Paris", "2026-06-05 18:05"); // a Friday
    assert!(!cal.is_open(opened));
    assert_eq!(cal.next_open(opened), local("Europe/Paris", "2026-06-08 09:00"));
    let due = cal.add(opened, hours(1));
    assert_eq!(due, local("Europe/Paris", "2026-06-08 10:00"));
    assert_eq!(due, utc("2026-06-08T08:00:00Z"));
    assert_eq!(cal.elapsed(opened, due), hours(1));
    // The explanation the clock builds: nothing open between Friday 18:05
    // and Monday 09:00, then one hour.
    let open: Vec<_> = cal.open_intervals(opened, due).collect();
    assert_eq!(open, vec![(local("Europe/Paris", "2026-06-08 09:00"), due)]);
}

#[test]
fn single_tier_ticket_before_christmas_waits_for_the_holiday_and_weekend() {
    let cal = calendar(
        r#"
        timezone = "Europe/Paris"
        hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
        holidays = ["2026-12-25"]
        "#,
    );
    let opened = local("Europe/Paris", "2026-12-24 16:00"); // Thursday
    // 1 h on Thursday (16:00-17:00), Friday 25 is a holiday, Saturday and
    // Sunday are closed, then 7 h on Monday 28: 09:00 + 7 h = 16:00 local,
    // which is 15:00 UTC (CET is UTC+1).
    let due = cal.add(opened, hours(8));
    assert_eq!(due, local("Europe/Paris", "2026-12-28 16:00"));
    assert_eq!(due, utc("2026-12-28T15:00:00Z"));
    assert_eq!(cal.elapsed(opened, due), hours(8));
    // One business hour ends exactly at Thursday's close, not after the
    // holiday.
    assert_eq!(cal.add(opened, hours(1)), local("Europe/Paris", "2026-12-24 17:00"));
    assert!(!cal.is_open(local("Europe/Paris", "2026-12-25 10:00")));
    assert_eq!(
        cal.elapsed(local("Europe/Paris", "2026-12-25 00:00"), local("Europe/Paris", "2026-12-26 00:00")),
        Duration::zero()
    );
    let open: Vec<_> = cal.open_intervals(opened, due).collect();
    assert_eq!(
        open,
        vec![(opened, local("Europe/Paris", "2026-12-24 17:00")), (local("Europe/Paris", "2026-12-28 09:00"), due),]
    );
    // Without the holiday the same ticket is due on Friday.
    let no_holiday = calendar(
        r#"
        timezone = "Europe/Paris"
        hours = { thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
        "#,
    );
    assert_eq!(no_holiday.add(opened, hours(8)), local("Europe/Paris", "2026-12-25 16:00"));
}

#[test]
fn the_documented_example_compiles_and_handles_a_lunch_break() {
    let cal = calendar(
        r#"
        timezone = "Europe/Paris"
        # either "24x7", or a weekly schedule
        hours = { mon = ["09:00-12:30", "13:30-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-17:00"] }
        holidays = ["2026-12-25", "2026-12-24..2026-12-26", "2027-01-01"]
        "#,
    );
    let monday = |time: &str| local("Europe/Paris", &format!("2026-06-08 {time}"));
    // 30 minutes before lunch, 30 after.
    assert_eq!(cal.add(monday("12:00"), hours(1)), monday("14:00"));
    assert_eq!(cal.elapsed(monday("00:00"), monday("23:59")), minutes(8 * 60));
    assert_eq!(cal.next_close(monday("10:00")), Some(monday("12:30")));
    assert_eq!(cal.next_close(monday("12:45")), Some(monday("12:45")));
    assert_eq!(cal.next_open(monday("12:45")), monday("13:30"));
    let open: Vec<_> = cal.open_intervals(monday("00:00"), monday("23:59")).collect();
    assert_eq!(open, vec![(monday("09:00"), monday("12:30")), (monday("13:30"), monday("18:00"))]);
    // Adding exactly up to the lunch break stops at 12:30, not at 13:30.
    assert_eq!(cal.add(monday("12:00"), minutes(30)), monday("12:30"));
    // The holidays: Thursday 24 to Saturday 26 December, and New Year's Day.
    assert_eq!(cal.add(local("Europe/Paris", "2026-12-23 17:00"), hours(2)), local("Europe/Paris", "2026-12-28 10:00"));
    assert_eq!(cal.next_open(local("Europe/Paris", "2026-12-31 18:30")), local("Europe/Paris", "2027-01-04 09:00"));
}

#[test]
fn midnight_spanning_interval_runs_into_the_next_day() {
    let night = r#"
        timezone = "Europe/Paris"
        hours = { fri = ["22:00-06:00"] }
    "#;
    let cal = calendar(night);
    let at = |text: &str| local("Europe/Paris", text);
    assert!(!cal.is_open(at("2026-06-05 21:59")));
    assert!(cal.is_open(at("2026-06-05 22:00")));
    assert!(cal.is_open(at("2026-06-06 05:59")));
    assert!(!cal.is_open(at("2026-06-06 06:00")));
    assert_eq!(cal.add(at("2026-06-05 23:00"), hours(2)), at("2026-06-06 01:00"));
    assert_eq!(cal.add(at("2026-06-06 05:00"), hours(2)), at("2026-06-12 23:00"));
    assert_eq!(cal.next_close(at("2026-06-05 23:00")), Some(at("2026-06-06 06:00")));
    assert_eq!(cal.elapsed(at("2026-06-01 00:00"), at("2026-06-08 00:00")), hours(8));
    assert_eq!(
        cal.open_intervals(at("2026-06-01 00:00"), at("2026-06-08 00:00")).collect::<Vec<_>>(),
        vec![(at("2026-06-05 22:00"), at("2026-06-06 06:00"))]
    );
}

#[test]
fn a_holiday_closes_the_part_after_midnight_of_an_interval_it_owns() {
    let at = |text: &str| local("Europe/Paris", text);
    let friday_off = calendar(
        r#"
        timezone = "Europe/Paris"
        hours = { fri = ["22:00-06:00"] }
        holidays = ["2026-06-05"]
        "#,
    );
    assert!(!friday_off.is_open(at("2026-06-06 01:00")));
    assert_eq!(friday_off.elapsed(at("2026-06-05 00:00"), at("2026-06-07 00:00")), Duration::zero());
    assert_eq!(friday_off.next_open(at("2026-06-05 20:00")), at("2026-06-12 22:00"));
    // A holiday on the Saturday does not close what Friday owns.
    let saturday_off = calendar(
        r#"
        timezone = "Europe/Paris"
        hours = { fri = ["22:00-06:00"], sat = ["10:00-12:00"] }
        holidays = ["2026-06-06"]
        "#,
    );
    assert!(saturday_off.is_open(at("2026-06-06 01:00")));
    assert!(!saturday_off.is_open(at("2026-06-06 11:00")));
    assert_eq!(saturday_off.elapsed(at("2026-06-05 00:00"), at("2026-06-07 00:00")), hours(8));
    // A holiday on the Saturday of a week with Friday 20:00-24:00 and
    // Saturday 00:00-04:00 closes only Saturday's part.
    let split = calendar(
        r#"
        timezone = "Europe/Paris"
        hours = { fri = ["20:00-24:00"], sat = ["00:00-04:00"] }
        holidays = ["2026-06-06"]
        "#,
    );
    assert_eq!(split.next_close(at("2026-06-05 21:00")), Some(at("2026-06-06 00:00")));
    assert_eq!(split.elapsed(at("2026-06-05 00:00"), at("2026-06-07 00:00")), hours(4));
}

#[test]
fn touching_intervals_form_one_opening_also_across_midnight_and_the_week_end() {
    let at = |text: &str| local("Europe/Paris", text);
    let cal = calendar(
        r#"
        timezone = "Europe/Paris"
        hours = { sun = ["20:00-02:00"], mon = ["02:00-04:00", "04:00-05:00"] }
        "#,
    );
    // Sunday 2026-06-07 20:00 to Monday 05:00 is one opening.
    assert_eq!(cal.next_close(at("2026-06-07 21:00")), Some(at("2026-06-08 05:00")));
    assert_eq!(
        cal.open_intervals(at("2026-06-07 00:00"), at("2026-06-09 00:00")).collect::<Vec<_>>(),
        vec![(at("2026-06-07 20:00"), at("2026-06-08 05:00"))]
    );
    assert_eq!(cal.add(at("2026-06-07 23:00"), hours(5)), at("2026-06-08 04:00"));
}

// ---------------------------------------------------------------- DST

const BERLIN_SUNDAY_NIGHT: &str = r#"
timezone = "Europe/Berlin"
hours = { sun = ["01:00-04:00"] }
"#;

#[test]
fn spring_forward_skips_the_missing_hour() {
    // 2026-03-29: at 02:00 CET (01:00 UTC) clocks jump to 03:00 CEST.
    let cal = calendar(BERLIN_SUNDAY_NIGHT);
    let day = (utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z"));
    assert_eq!(cal.elapsed(day.0, day.1), hours(2));
    assert_eq!(
        cal.open_intervals(day.0, day.1).collect::<Vec<_>>(),
        vec![(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T02:00:00Z"))]
    );
    // A week later (no transition) the same interval holds 3 hours.
    assert_eq!(cal.elapsed(utc("2026-04-04T22:00:00Z"), utc("2026-04-05T22:00:00Z")), hours(3));
    // An interval entirely inside the gap holds nothing that day.
    let gap = calendar(
        r#"
        timezone = "Europe/Berlin"
        hours = { sun = ["02:15-02:45"] }
        "#,
    );
    assert_eq!(gap.elapsed(day.0, day.1), Duration::zero());
    assert_eq!(gap.next_open(utc("2026-03-28T12:00:00Z")), local("Europe/Berlin", "2026-04-05 02:15"));
    // A ticket crossing the change: Friday 16:00 CET + 2 h lands on Monday
    // 10:00 CEST, which is 08:00 UTC, not 09:00.
    let office = calendar(
        r#"
        timezone = "Europe/Berlin"
        hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }
        "#,
    );
    let opened = local("Europe/Berlin", "2026-03-27 16:00");
    assert_eq!(opened, utc("2026-03-27T15:00:00Z"));
    assert_eq!(office.add(opened, hours(2)), utc("2026-03-30T08:00:00Z"));
}

#[test]
fn fall_back_counts_the_repeated_hour_twice() {
    // 2026-10-25: at 03:00 CEST (01:00 UTC) clocks fall back to 02:00 CET.
    let cal = calendar(BERLIN_SUNDAY_NIGHT);
    let day = (utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z"));
    // 01:00 CEST is 23:00 UTC the day before; 04:00 CET is 03:00 UTC.
    assert_eq!(cal.elapsed(day.0, day.1), hours(4));
    assert_eq!(
        cal.open_intervals(day.0, day.1).collect::<Vec<_>>(),
        vec![(utc("2026-10-24T23:00:00Z"), utc("2026-10-25T03:00:00Z"))]
    );
    // An interval inside the repeated hour is open on both passes.
    let repeated = calendar(
        r#"
        timezone = "Europe/Berlin"
        hours = { sun = ["02:15-02:45"] }
        "#,
    );
    assert_eq!(
        repeated.open_intervals(day.0, day.1).collect::<Vec<_>>(),
        vec![
            (utc("2026-10-25T00:15:00Z"), utc("2026-10-25T00:45:00Z")),
            (utc("2026-10-25T01:15:00Z"), utc("2026-10-25T01:45:00Z")),
        ]
    );
    assert_eq!(repeated.elapsed(day.0, day.1), hours(1));
    // 5 minutes left on the first pass, the other 5 on the second.
    assert_eq!(repeated.add(utc("2026-10-25T00:40:00Z"), minutes(10)), utc("2026-10-25T01:20:00Z"));
    // An interval straddling the change: 02:30-03:00 CEST, then the clock
    // reads 02:00 again (closed until 02:30), then 02:30-03:30 CET.
    let straddle = calendar(
        r#"
        timezone = "Europe/Berlin"
        hours = { sun = ["02:30-03:30"] }
        "#,
    );
    assert_eq!(
        straddle.open_intervals(day.0, day.1).collect::<Vec<_>>(),
        vec![
            (utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:00:00Z")),
            (utc("2026-10-25T01:30:00Z"), utc("2026-10-25T02:30:00Z")),
        ]
    );
    assert_eq!(straddle.next_close(utc("2026-10-25T00:45:00Z")), Some(utc("2026-10-25T01:00:00Z")));
    assert_eq!(straddle.next_open(utc("2026-10-25T01:00:00Z")), utc("2026-10-25T01:30:00Z"));
}

#[test]
fn half_hour_dst_of_lord_howe() {
    // 2026-10-04 02:00 LHST (+10:30) jumps to 02:30 LHDT (+11), at
    // 2026-10-03T15:30Z.
    let cal = calendar(
        r#"
        timezone = "Australia/Lord_Howe"
        hours = { sun = ["01:00-04:00"] }
        "#,
    );
    assert_eq!(cal.elapsed(utc("2026-10-03T12:00:00Z"), utc("2026-10-04T12:00:00Z")), minutes(150));
    assert_eq!(
        cal.open_intervals(utc("2026-10-03T12:00:00Z"), utc("2026-10-04T12:00:00Z")).collect::<Vec<_>>(),
        vec![(utc("2026-10-03T14:30:00Z"), utc("2026-10-03T17:00:00Z"))]
    );
}

// ---------------------------------------------------------------- 24x7

#[test]
fn twenty_four_seven_is_plain_time() {
    for text in ["hours = \"24x7\"", "always = true", "always = true\nhours = \"24x7\""] {
        let cal = calendar(text);
        assert!(cal.is_always_open(), "{text}");
        let start = utc("2026-06-05T18:05:00Z");
        assert_eq!(cal.add(start, hours(1)), utc("2026-06-05T19:05:00Z"));
        assert_eq!(cal.add(start, hours(24 * 365)), start + hours(24 * 365));
        assert_eq!(cal.elapsed(start, start + hours(72)), hours(72));
        assert!(cal.is_open(start));
        assert_eq!(cal.next_open(start), start);
        assert_eq!(cal.next_close(start), None);
        assert_eq!(cal.open_intervals(start, start + hours(2)).collect::<Vec<_>>(), vec![(start, start + hours(2))]);
    }
    assert_eq!(calendar("timezone = \"Europe/Paris\"\nalways = true").timezone(), Some(chrono_tz::Europe::Paris));
    assert!(Calendar::always_open().is_always_open());
    assert!(CalendarConfig::always_open().compile().unwrap().is_always_open());
}

#[test]
fn twenty_four_seven_with_holidays_closes_those_local_days() {
    let cal = calendar(
        r#"
        timezone = "Europe/Paris"
        hours = "24x7"
        holidays = ["2026-12-25"]
        "#,
    );
    assert!(!cal.is_always_open());
    let start = utc("2026-12-24T12:00:00Z");
    assert_eq!(cal.elapsed(start, utc("2026-12-26T12:00:00Z")), hours(24));
    // Christmas Day in Paris is 2026-12-24T23:00Z to 2026-12-25T23:00Z.
    assert_eq!(cal.next_close(start), Some(utc("2026-12-24T23:00:00Z")));
    // 11 h until midnight in Paris, then 1 h after Christmas Day.
    assert_eq!(cal.add(start, hours(12)), utc("2026-12-26T00:00:00Z"));
    // Open around the clock after the last holiday, across DST changes.
    assert_eq!(cal.next_close(utc("2026-12-26T00:00:00Z")), None);
}

// ---------------------------------------------------------------- edges

#[test]
fn adding_zero_returns_start_even_outside_hours() {
    let cal = calendar(PARIS_OFFICE);
    let closed = utc("2026-06-06T12:00:00.250Z"); // Saturday
    let open = utc("2026-06-08T10:00:00.250Z"); // Monday 12:00 Paris
    for start in [closed, open] {
        assert_eq!(cal.add(start, Duration::zero()), start);
        assert_eq!(cal.add(start, Duration::milliseconds(999)), start);
        assert_eq!(cal.add(start, Duration::seconds(-30)), start);
    }
    // Sub-second parts are truncated: the result is a whole second.
    assert_eq!(cal.add(open, Duration::seconds(60)), utc("2026-06-08T10:01:00Z"));
    assert_eq!(cal.elapsed(utc("2026-06-08T10:00:00.900Z"), utc("2026-06-08T10:00:02.100Z")), Duration::seconds(2));
    assert_eq!(cal.next_open(open), open);
    assert_eq!(cal.next_close(closed), Some(closed));
}

#[test]
fn elapsed_is_zero_for_empty_or_reversed_ranges() {
    let cal = calendar(PARIS_OFFICE);
    let a = utc("2026-06-08T10:00:00Z");
    assert_eq!(cal.elapsed(a, a), Duration::zero());
    assert_eq!(cal.elapsed(a + hours(1), a), Duration::zero());
    assert_eq!(cal.open_intervals(a + hours(1), a).count(), 0);
}

#[test]
fn long_spans_skip_whole_weeks() {
    let cal = calendar(PARIS_OFFICE);
    let start = local("Europe/Paris", "2026-01-05 09:00"); // Monday
    // 45 h a week; 52 weeks later the same Monday 09:00.
    let year = cal.add(start, hours(45 * 52));
    assert_eq!(year, local("Europe/Paris", "2027-01-04 09:00") - Duration::hours(63));
    assert_eq!(year, local("Europe/Paris", "2027-01-01 18:00"));
    assert_eq!(cal.elapsed(start, year), hours(45 * 52));
    // Far outside the tz database's transitions the offset is constant.
    let future = local("Europe/Paris", "2300-01-08 09:00"); // a Monday
    assert_eq!(future.with_timezone(&chrono_tz::Europe::Paris).weekday(), Weekday::Mon);
    assert_eq!(cal.add(future, hours(10)), local("Europe/Paris", "2300-01-09 10:00"));
    let past = local("Europe/Paris", "1800-01-06 09:00"); // a Monday
    assert_eq!(past.with_timezone(&chrono_tz::Europe::Paris).weekday(), Weekday::Mon);
    assert_eq!(cal.add(past, hours(10)), local("Europe/Paris", "1800-01-07 10:00"));
}

#[test]
fn results_past_the_representable_range_saturate() {
    let cal = calendar(PARIS_OFFICE);
    let start = utc("2026-06-08T10:00:00Z");
    assert_eq!(cal.add(start, Duration::MAX), DateTime::<Utc>::MAX_UTC);
    assert_eq!(Calendar::always_open().add(start, Duration::MAX), DateTime::<Utc>::MAX_UTC);
    let sparse = calendar("timezone = \"UTC\"\nhours = { sun = [\"00:00-00:01\"] }");
    let near_end = DateTime::<Utc>::MAX_UTC - Duration::days(30);
    assert_eq!(sparse.add(near_end, hours(1)), DateTime::<Utc>::MAX_UTC);
    assert!(sparse.add(start, hours(1)) > start + Duration::days(59 * 7));
}

#[test]
fn elapsed_excluding_subtracts_each_paused_second_once() {
    let cal = calendar(PARIS_OFFICE);
    let at = |time: &str| local("Europe/Paris", &format!("2026-06-08 {time}"));
    let (from, to) = (at("08:00"), at("20:00"));
    assert_eq!(cal.elapsed(from, to), hours(9));
    let paused = [
        (at("11:00"), at("13:00")),
        (at("10:00"), at("12:00")), // overlaps the first
        (at("17:30"), at("23:00")), // reaches past `to`
        (at("15:00"), at("14:00")), // reversed: pauses nothing
        (at("06:00"), at("08:30")), // starts before `from`, mostly closed time
    ];
    // 9 h open, minus 10:00-13:00 and 17:30-18:00.
    assert_eq!(cal.elapsed_excluding(from, to, &paused), minutes(5 * 60 + 30));
    assert_eq!(cal.elapsed_excluding(from, to, &[]), hours(9));
    assert_eq!(cal.elapsed_excluding(from, to, &[(from, to)]), Duration::zero());
}

#[test]
fn calendar_is_cheap_to_share_between_threads() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Calendar>();
    let cal = calendar(PARIS_OFFICE);
    let copy = cal.clone();
    let start = utc("2026-06-05T16:05:00Z");
    let due = std::thread::spawn(move || copy.add(start, hours(1))).join().unwrap();
    assert_eq!(due, cal.add(start, hours(1)));
    assert_eq!(format!("{cal:?}"), "Calendar { hours: \"weekly\", timezone: \"Europe/Paris\" }");
}

// ---------------------------------------------------------------- errors

#[test]
fn errors_name_the_key_and_the_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "timezone = \"Europe/Pari\"\nhours = \"24x7\"",
            "timezone: unknown timezone \"Europe/Pari\"; expected an IANA name such as \"Europe/Paris\"",
        ),
        (
            "hours = { mon = [\"09:00-17:00\"] }",
            "timezone: missing; it is required for weekly hours (they are local wall-clock times)",
        ),
        (
            "hours = \"24x7\"\nholidays = [\"2026-12-25\"]",
            "timezone: missing; it is required for holidays (they are local dates)",
        ),
        ("timezone = \"UTC\"", "hours: missing; set a weekly table, \"24x7\", or `always = true`"),
        (
            "timezone = \"UTC\"\nalways = true\nhours = { mon = [\"09:00-17:00\"] }",
            "always: `always = true` conflicts with the weekly `hours` table; keep one of them",
        ),
        (
            "timezone = \"UTC\"\nhours = { tue = [\"09:00-17:00\", \"9-17\"] }",
            "hours.tue[1]: malformed interval \"9-17\": \"9\" is not a time \"HH:MM\"",
        ),
        (
            "timezone = \"UTC\"\nhours = { wed = [\"09:00\"] }",
            "hours.wed[0]: malformed interval \"09:00\": expected \"HH:MM-HH:MM\"",
        ),
        (
            "timezone = \"UTC\"\nhours = { wed = [\"09:60-10:00\"] }",
            "hours.wed[0]: malformed interval \"09:60-10:00\": \"09:60\" is not a time of day (00:00 to 24:00)",
        ),
        (
            "timezone = \"UTC\"\nhours = { wed = [\"09:00-24:30\"] }",
            "hours.wed[0]: malformed interval \"09:00-24:30\": \"24:30\" is not a time of day (00:00 to 24:00)",
        ),
        (
            "timezone = \"UTC\"\nhours = { wed = [\"24:00-02:00\"] }",
            "hours.wed[0]: malformed interval \"24:00-02:00\": 24:00 can only end an interval",
        ),
        (
            "timezone = \"UTC\"\nhours = { thu = [\"09:00-09:00\"] }",
            "hours.thu[0]: interval \"09:00-09:00\" is empty; write \"00:00-24:00\" for a whole day",
        ),
        (
            "timezone = \"UTC\"\nhours = { mon = [\"11:00-13:00\", \"09:00-12:00\"] }",
            "hours.mon: intervals 09:00-12:00 and 11:00-13:00 overlap",
        ),
        (
            "timezone = \"UTC\"\nhours = { mon = [\"09:00-12:00\", \"09:00-12:00\"] }",
            "hours.mon: intervals 09:00-12:00 and 09:00-12:00 overlap",
        ),
        (
            "timezone = \"UTC\"\nhours = { mon = [\"20:00-02:00\", \"21:00-22:00\"] }",
            "hours.mon: intervals 20:00-02:00 and 21:00-22:00 overlap",
        ),
        (
            "timezone = \"UTC\"\nhours = { fri = [\"22:00-06:00\"], sat = [\"05:00-09:00\"] }",
            "hours.fri: interval 22:00-06:00 runs past midnight and overlaps hours.sat: interval 05:00-09:00",
        ),
        (
            "timezone = \"UTC\"\nhours = { mon = [\"05:00-09:00\"], sun = [\"22:00-06:00\"] }",
            "hours.sun: interval 22:00-06:00 runs past midnight and overlaps hours.mon: interval 05:00-09:00",
        ),
        (
            "timezone = \"UTC\"\nhours = \"24x7\"\nholidays = [\"2026-12-25\", \"2026-02-30\"]",
            "holidays[1]: \"2026-02-30\" is not a date or a date range: \"2026-02-30\" is no such date",
        ),
        (
            "timezone = \"UTC\"\nhours = \"24x7\"\nholidays = [\"christmas\"]",
            "holidays[0]: \"christmas\" is not a date or a date range: \"christmas\" is not \"YYYY-MM-DD\" (ranges are \"YYYY-MM-DD..YYYY-MM-DD\")",
        ),
        (
            "timezone = \"UTC\"\nhours = \"24x7\"\nholidays = [\"2026-12-24..2026-12-2\"]",
            "holidays[0]: \"2026-12-24..2026-12-2\" is not a date or a date range: \"2026-12-2\" is not \"YYYY-MM-DD\" (ranges are \"YYYY-MM-DD..YYYY-MM-DD\")",
        ),
        (
            "timezone = \"UTC\"\nhours = \"24x7\"\nholidays = [\"2026-12-26..2026-12-24\"]",
            "holidays[0]: range \"2026-12-26..2026-12-24\" ends before it starts",
        ),
        (
            "timezone = \"UTC\"\nhours = {}",
            "hours: no open time in the week; list at least one interval, or use \"24x7\"",
        ),
        (
            "timezone = \"UTC\"\nhours = { sat = [] }",
            "hours: no open time in the week; list at least one interval, or use \"24x7\"",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(compile_error(text).to_string(), *expected, "for {text:?}");
    }
    // How the caller reports it.
    let error = compile_error("timezone = \"UTC\"\nhours = { mon = [\"09:00-12:00\", \"11:00-13:00\"] }");
    assert_eq!(
        format!("sla.managed.calendar: {error}"),
        "sla.managed.calendar: hours.mon: intervals 09:00-12:00 and 11:00-13:00 overlap"
    );
    assert_eq!(
        error,
        CalendarError::Overlap { day: Weekday::Mon, first: "09:00-12:00".to_owned(), second: "11:00-13:00".to_owned() }
    );
}

#[test]
fn touching_and_full_day_intervals_are_valid() {
    for hours in [
        "{ mon = [\"09:00-12:00\", \"12:00-13:00\"] }",
        "{ mon = [\"00:00-24:00\"], tue = [\"00:00-24:00\"] }",
        "{ fri = [\"22:00-06:00\"], sat = [\"06:00-09:00\"] }",
        "{ sun = [\"22:00-06:00\"], mon = [\"06:00-09:00\"] }",
        "{ mon = [\"18:00-00:00\"], tue = [\"00:00-01:00\"] }",
        "{ mon = [\" 9:00 - 17:00 \"] }",
    ] {
        let text = format!("timezone = \"UTC\"\nhours = {hours}");
        assert!(config(&text).compile().is_ok(), "{text}");
    }
    // "18:00-00:00" ends at midnight, like "18:00-24:00".
    let cal = calendar("timezone = \"UTC\"\nhours = { mon = [\"18:00-00:00\"] }");
    assert_eq!(cal.elapsed(utc("2026-06-08T00:00:00Z"), utc("2026-06-10T00:00:00Z")), hours(6));
}

#[test]
fn deserialization_rejects_unknown_keys_and_values() {
    let error = |text: &str| toml::from_str::<CalendarConfig>(text).unwrap_err().to_string();
    assert!(error("timezone = \"UTC\"\nhour = \"24x7\"").contains("unknown field `hour`"));
    assert!(error("timezone = \"UTC\"\nhours = { mnd = [\"09:00-17:00\"] }").contains("unknown field `mnd`"));
    let bad_keyword = error("hours = \"24/7\"");
    assert!(bad_keyword.contains("invalid value: string \"24/7\""), "{bad_keyword}");
    assert!(bad_keyword.contains("expected \"24x7\" or a table of weekdays"), "{bad_keyword}");
    assert_eq!(
        config("timezone = \"UTC\"\nhours = { mon = [\"09:00-17:00\"] }").hours,
        Some(HoursConfig::Weekly(WeeklyHours { mon: vec!["09:00-17:00".to_owned()], ..WeeklyHours::default() }))
    );
    assert_eq!(config("hours = \"24x7\"").hours, Some(HoursConfig::AlwaysOpen));
}

#[test]
fn overlapping_and_adjacent_holidays_merge() {
    let cal = calendar(
        r#"
        timezone = "UTC"
        hours = "24x7"
        holidays = ["2026-12-27", "2026-12-24..2026-12-26", "2026-12-25", "2027-01-01"]
        "#,
    );
    assert_eq!(
        cal.open_intervals(utc("2026-12-20T00:00:00Z"), utc("2027-01-05T00:00:00Z")).collect::<Vec<_>>(),
        vec![
            (utc("2026-12-20T00:00:00Z"), utc("2026-12-24T00:00:00Z")),
            (utc("2026-12-28T00:00:00Z"), utc("2027-01-01T00:00:00Z")),
            (utc("2027-01-02T00:00:00Z"), utc("2027-01-05T00:00:00Z")),
        ]
    );
}

// ---------------------------------------------------------------- offsets

#[test]
fn day_numbers_and_weekdays_line_up_with_chrono() {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    assert_eq!(config::day_number(epoch), 0);
    for date in [
        epoch,
        NaiveDate::from_ymd_opt(1840, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(),
        NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
    ] {
        let day = config::day_number(date);
        assert_eq!(day, (date - epoch).num_days());
        assert_eq!(weekday_of_day(day), date.weekday().num_days_from_monday() as usize);
    }
    assert_eq!(SCAN_FROM, config::day_number(NaiveDate::from_ymd_opt(1840, 1, 1).unwrap()) * DAY);
    assert_eq!(SCAN_TO, config::day_number(NaiveDate::from_ymd_opt(2100, 1, 1).unwrap()) * DAY);
}

/// The offset table relies on the tz database having no change outside
/// 1840..2100; this fails if a `chrono-tz` upgrade breaks that.
#[test]
fn every_zone_has_a_constant_offset_outside_the_scanned_range() {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    for tz in chrono_tz::TZ_VARIANTS {
        assert_eq!(offset_at(tz, min), offset_at(tz, SCAN_FROM), "{}", tz.name());
        assert_eq!(offset_at(tz, max), offset_at(tz, SCAN_TO), "{}", tz.name());
    }
}

#[test]
fn offset_table_matches_chrono_tz() {
    for name in ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"] {
        let tz: Tz = name.parse().unwrap();
        let table = UtcOffsets::new(tz);
        // Changes are real, and more than a day apart (the daily scan
        // cannot have missed one between two samples).
        for window in table.changes().windows(2) {
            assert!(window[1] - window[0] > DAY, "{name}");
        }
        for &change in table.changes() {
            assert_ne!(offset_at(tz, change - 1), offset_at(tz, change), "{name}");
            assert_eq!(table.piece_at(change).offset, offset_at(tz, change), "{name}");
            assert_eq!(table.piece_at(change - 1).offset, offset_at(tz, change - 1), "{name}");
        }
        // Every 47 minutes from 2019 to 2031.
        let mut at = utc("2019-01-01T00:00:00Z").timestamp();
        while at < utc("2031-01-01T00:00:00Z").timestamp() {
            assert_eq!(table.piece_at(at).offset, offset_at(tz, at), "{name} at {at}");
            at += 47 * 60;
        }
    }
    let berlin = UtcOffsets::new(chrono_tz::Europe::Berlin);
    let spring = utc("2026-03-29T01:00:00Z").timestamp();
    let autumn = utc("2026-10-25T01:00:00Z").timestamp();
    assert_eq!(berlin.piece_at(spring), offsets::Piece { start: spring, end: autumn, offset: 7200 });
}

#[test]
fn compiled_calendars_are_shared_per_definition() {
    let scheduled = |c: &Calendar| match &c.repr {
        Repr::Scheduled(s) => Arc::clone(s),
        Repr::AlwaysOpen(_) => panic!("expected a schedule"),
    };
    let berlin = "timezone = \"Europe/Berlin\"\nhours = { mon = [\"09:00-17:00\"] }";
    let a = calendar(berlin);
    let b = calendar(berlin);
    assert!(Arc::ptr_eq(&scheduled(&a), &scheduled(&b)), "compiled once, then shared");
    let other = calendar("timezone = \"Europe/Berlin\"\nhours = { mon = [\"09:00-18:00\"] }");
    assert!(!Arc::ptr_eq(&scheduled(&a), &scheduled(&other)), "another definition, another calendar");
    let monday_evening = local("Europe/Berlin", "2026-11-30 17:30");
    assert!(!a.is_open(monday_evening));
    assert!(other.is_open(monday_evening));
    // Errors are not cached: the same bad definition fails every time.
    let bad = "timezone = \"Mars/Olympus\"\nalways = true";
    assert!(matches!(compile_error(bad), CalendarError::UnknownTimezone { .. }));
    assert!(matches!(compile_error(bad), CalendarError::UnknownTimezone { .. }));
}
