//! Property tests on random calendars: random zones (with 30-minute DST
//! and none), random weekly intervals including midnight- and week-spanning
//! ones, random holidays, and instants around DST transitions; checked
//! against algebraic laws and against a straightforward minute-by-minute
//! reference implementation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Timelike};
use proptest::prelude::*;

use super::offsets::offset_at;
use super::*;

const DAY_MINUTES: i64 = 1440;
const WEEK_MINUTES: i64 = 7 * DAY_MINUTES;

/// Zones under test, with their 2026 offset changes (UTC).
const ZONES: &[(&str, &[&str])] = &[
    ("Europe/Berlin", &["2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"]),
    ("America/New_York", &["2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z"]),
    // 30-minute DST: +11 to +10:30 in April, back in October.
    ("Australia/Lord_Howe", &["2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z"]),
    ("Asia/Kolkata", &[]),
    ("UTC", &[]),
];

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

#[test]
fn listed_transitions_are_real_offset_changes() {
    for (name, transitions) in ZONES {
        let tz: Tz = name.parse().unwrap();
        for text in *transitions {
            let at = utc(text).timestamp();
            assert_ne!(offset_at(tz, at - 1), offset_at(tz, at), "{name} {text}");
        }
    }
}

/// A random calendar: the structured truth the reference reads, and the
/// configuration text the implementation parses.
#[derive(Debug, Clone)]
struct Case {
    zone: &'static str,
    /// `None` for `hours = "24x7"`; else intervals as written: (weekday,
    /// start minute, end minute after that day's midnight, > 1440 past
    /// midnight), with how to spell the end.
    weekly: Option<Vec<Owned>>,
    holidays: Vec<(NaiveDate, NaiveDate)>,
    /// An instant the test instants are drawn around (often a DST change).
    focus: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
struct Owned {
    weekday: usize,
    start: i64,
    end: i64,
    /// Spell an end at midnight as "00:00" rather than "24:00".
    midnight_as_zero: bool,
}

fn clock(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Case {
    fn config(&self) -> CalendarConfig {
        let hours = match &self.weekly {
            None => HoursConfig::AlwaysOpen,
            Some(intervals) => {
                let mut weekly = WeeklyHours::default();
                for interval in intervals {
                    let end = match interval.end {
                        1440 if interval.midnight_as_zero && interval.start > 0 => "00:00".to_owned(),
                        1440 => "24:00".to_owned(),
                        end if end > 1440 => clock(end - 1440),
                        end => clock(end),
                    };
                    let text = format!("{}-{end}", clock(interval.start));
                    let day = match DAY_KEYS[interval.weekday] {
                        "mon" => &mut weekly.mon,
                        "tue" => &mut weekly.tue,
                        "wed" => &mut weekly.wed,
                        "thu" => &mut weekly.thu,
                        "fri" => &mut weekly.fri,
                        "sat" => &mut weekly.sat,
                        _ => &mut weekly.sun,
                    };
                    day.push(text);
                }
                HoursConfig::Weekly(weekly)
            }
        };
        let holidays = self
            .holidays
            .iter()
            .map(|&(first, last)| {
                if first == last {
                    first.format("%Y-%m-%d").to_string()
                } else {
                    format!("{}..{}", first.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
                }
            })
            .collect();
        CalendarConfig { timezone: Some(self.zone.to_owned()), always: false, hours: Some(hours), holidays }
    }

    fn calendar(&self) -> Calendar {
        self.config().compile().unwrap()
    }

    fn reference(&self) -> Reference {
        let mut by_day: [Vec<(i64, i64)>; 7] = Default::default();
        match &self.weekly {
            None => by_day.iter_mut().for_each(|day| day.push((0, DAY_MINUTES))),
            Some(intervals) => {
                for interval in intervals {
                    by_day[interval.weekday].push((interval.start, interval.end));
                }
            }
        }
        let mut holidays = BTreeSet::new();
        for &(first, last) in &self.holidays {
            let mut day = first;
            while day <= last {
                holidays.insert(day);
                day = day.succ_opt().unwrap();
            }
        }
        Reference { tz: self.zone.parse().unwrap(), by_day, holidays }
    }
}

/// The rules, read literally: convert the instant to local time, look at
/// the schedule of its date (and the previous date's intervals running past
/// midnight), and at the holidays.
struct Reference {
    tz: Tz,
    by_day: [Vec<(i64, i64)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Reference {
    fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz).naive_local();
        let date = local.date();
        let minute = i64::from(local.hour() * 60 + local.minute());
        let weekday = date.weekday().num_days_from_monday() as usize;
        let today = !self.holidays.contains(&date)
            && self.by_day[weekday].iter().any(|&(start, end)| start <= minute && minute < end.min(DAY_MINUTES));
        let previous = date.pred_opt().unwrap();
        let from_yesterday = !self.holidays.contains(&previous)
            && self.by_day[(weekday + 6) % 7].iter().any(|&(_, end)| end > DAY_MINUTES && minute < end - DAY_MINUTES);
        today || from_yesterday
    }

    /// Whether each minute `[from + i, from + i + 1)` is open. All zones and
    /// transitions in use are on whole minutes, so a minute is open or
    /// closed as a whole.
    fn minutes(&self, from: DateTime<Utc>, count: i64) -> Vec<bool> {
        (0..count).map(|i| self.is_open(from + minutes(i))).collect()
    }
}

/// Maximal runs of `true` as (first index, end index).
fn runs(open: &[bool]) -> Vec<(i64, i64)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, &is_open) in open.iter().enumerate() {
        let i = i as i64;
        match (is_open, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, open.len() as i64));
    }
    runs
}

/// Splits the week-circle interval `[a, b)` (minutes from Monday 00:00) into
/// intervals as a config would write them: within a day, running past
/// midnight (when `span` and shorter than a day), or cut at midnight.
fn write_interval(a: i64, b: i64, span: bool, midnight_as_zero: bool, out: &mut Vec<Owned>) {
    let mut a = a;
    while a < b {
        let start = a % DAY_MINUTES;
        let day_end = a - start + DAY_MINUTES;
        let weekday = ((a / DAY_MINUTES) % 7) as usize;
        let owned = |end| Owned { weekday, start, end, midnight_as_zero };
        if b <= day_end {
            out.push(owned(b - (day_end - DAY_MINUTES)));
            return;
        }
        if span && b - day_end < start {
            out.push(owned(b - day_end + DAY_MINUTES));
            return;
        }
        out.push(owned(DAY_MINUTES));
        a = day_end;
    }
}

fn arb_weekly() -> impl Strategy<Value = Vec<Owned>> {
    let cut = prop_oneof![(0..WEEK_MINUTES / 30).prop_map(|half_hours| half_hours * 30), 0..WEEK_MINUTES,];
    (
        proptest::collection::btree_set(cut, 2..=12),
        any::<bool>(),
        proptest::collection::vec((any::<bool>(), any::<bool>()), 6),
    )
        .prop_map(|(cuts, wrap, spelling)| {
            let mut cuts: Vec<i64> = cuts.into_iter().collect();
            if cuts.len() % 2 == 1 {
                cuts.pop();
            }
            // Pair the sorted cut points into disjoint intervals; with
            // `wrap`, one interval runs from Sunday into Monday.
            let pairs: Vec<(i64, i64)> = if wrap {
                let n = cuts.len();
                (0..n / 2)
                    .map(|i| {
                        let a = cuts[2 * i + 1];
                        let b = if 2 * i + 2 < n { cuts[2 * i + 2] } else { cuts[0] + WEEK_MINUTES };
                        (a, b)
                    })
                    .collect()
            } else {
                cuts.chunks(2).map(|pair| (pair[0], pair[1])).collect()
            };
            let mut owned = Vec::new();
            for (i, (a, b)) in pairs.into_iter().enumerate() {
                let (span, zero) = spelling[i % spelling.len()];
                write_interval(a, b, span, zero, &mut owned);
            }
            owned
        })
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        0..ZONES.len(),
        any::<u16>(),
        prop_oneof![6 => arb_weekly().prop_map(Some), 1 => Just(None)],
        proptest::collection::vec((-8_i64..8, 0_i64..3), 0..4),
    )
        .prop_map(|(zone, choice, weekly, holidays)| {
            let (name, transitions) = ZONES[zone];
            let choice = usize::from(choice);
            let focus = if !transitions.is_empty() && choice % 4 != 0 {
                utc(transitions[choice % transitions.len()])
            } else {
                utc("2026-01-01T00:00:00Z") + minutes(choice as i64 * 487)
            };
            let focus_date = focus.date_naive();
            let holidays = holidays
                .into_iter()
                .map(|(from, extra)| {
                    let first = focus_date + Duration::days(from);
                    (first, first + Duration::days(extra))
                })
                .collect();
            Case { zone: name, weekly, holidays, focus }
        })
}

/// An instant within four days of the focus, on a whole minute.
fn near(case: &Case, offset_minutes: i64) -> DateTime<Utc> {
    case.focus + minutes(offset_minutes)
}

const AROUND: std::ops::Range<i64> = -4 * DAY_MINUTES..4 * DAY_MINUTES;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (a) Adding then measuring a business duration round-trips, to the
    /// second, for short and long durations.
    #[test]
    fn add_then_elapsed_round_trips(
        case in arb_case(),
        start in AROUND,
        start_second in 0_i64..60,
        business in prop_oneof![0_i64..3 * 86_400, 0_i64..120 * 86_400],
    ) {
        let cal = case.calendar();
        let start = near(&case, start) + Duration::seconds(start_second);
        let done = cal.add(start, Duration::seconds(business));
        prop_assert_eq!(cal.elapsed(start, done), Duration::seconds(business));
    }

    /// (b) Elapsed time is monotone in the end instant, and (c) additive over
    /// adjacent intervals.
    #[test]
    fn elapsed_is_monotone_and_additive(
        case in arb_case(),
        mut points in proptest::collection::vec(-6 * 86_400_i64..6 * 86_400, 3),
    ) {
        let cal = case.calendar();
        points.sort_unstable();
        let [a, b, c] = [points[0], points[1], points[2]]
            .map(|offset| case.focus + Duration::seconds(offset));
        prop_assert!(cal.elapsed(a, b) <= cal.elapsed(a, c));
        prop_assert_eq!(cal.elapsed(a, c), cal.elapsed(a, b) + cal.elapsed(b, c));
        prop_assert_eq!(cal.elapsed(c, a), Duration::zero());
    }

    /// (d) Everything agrees with the minute-by-minute reference over a few
    /// days around the focus (often a DST change), holidays included.
    #[test]
    fn agrees_with_the_minute_by_minute_reference(
        case in arb_case(),
        from in AROUND,
        span in 0_i64..4 * DAY_MINUTES,
        pick in any::<u32>(),
    ) {
        let cal = case.calendar();
        let reference = case.reference();
        let from = near(&case, from);
        let to = from + minutes(span);
        let open = reference.minutes(from, span);
        let open_count = open.iter().filter(|&&o| o).count() as i64;

        prop_assert_eq!(cal.elapsed(from, to), minutes(open_count));
        for (i, &is_open) in open.iter().enumerate() {
            let at = from + minutes(i as i64);
            prop_assert_eq!(cal.is_open(at), is_open, "is_open at {}", at);
        }
        let expected: Vec<_> = runs(&open)
            .into_iter()
            .map(|(s, e)| (from + minutes(s), from + minutes(e)))
            .collect();
        prop_assert_eq!(cal.open_intervals(from, to).collect::<Vec<_>>(), expected);

        // add: the k-th open minute ends at the answer.
        if open_count > 0 {
            let k = i64::from(pick) % open_count + 1;
            let index = open
                .iter()
                .enumerate()
                .filter(|(_, o)| **o)
                .nth((k - 1) as usize)
                .map(|(i, _)| i as i64)
                .unwrap();
            prop_assert_eq!(cal.add(from, minutes(k)), from + minutes(index + 1));
        }
        // add: the open time up to the end of each run ends exactly there,
        // not at the next opening (also when a holiday follows).
        let mut through = 0;
        for (start, end) in runs(&open) {
            through += end - start;
            prop_assert_eq!(cal.add(from, minutes(through)), from + minutes(end));
        }
        // next_open / next_close, when the answer lies within the window.
        match open.iter().position(|&o| o) {
            Some(i) => prop_assert_eq!(cal.next_open(from), from + minutes(i as i64)),
            None => prop_assert!(cal.next_open(from) >= to),
        }
        match open.iter().position(|&o| !o) {
            Some(i) => prop_assert_eq!(cal.next_close(from), Some(from + minutes(i as i64))),
            None => prop_assert!(cal.next_close(from).is_none_or(|close| close >= to)),
        }
    }

    /// (e) `add` is monotone in the duration, and (f) lands on an open
    /// instant or exactly where an opening ends, never later than needed.
    #[test]
    fn add_is_monotone_and_lands_at_the_earliest_instant(
        case in arb_case(),
        start in AROUND,
        start_second in 0_i64..60,
        mut durations in proptest::collection::vec(1_i64..5 * 86_400, 2),
    ) {
        let cal = case.calendar();
        let start = near(&case, start) + Duration::seconds(start_second);
        durations.sort_unstable();
        let (short, long) = (durations[0], durations[1]);
        let short_done = cal.add(start, Duration::seconds(short));
        let long_done = cal.add(start, Duration::seconds(long));
        prop_assert!(start < short_done && short_done <= long_done);
        let second = Duration::seconds(1);
        for (business, done) in [(short, short_done), (long, long_done)] {
            // The last second counted was open, and one second earlier the
            // duration had not yet elapsed.
            prop_assert!(cal.is_open(done - second));
            prop_assert_eq!(cal.elapsed(start, done - second), Duration::seconds(business - 1));
            prop_assert!(cal.is_open(done) || cal.next_close(done - second) == Some(done));
        }
        prop_assert_eq!(cal.add(start, Duration::zero()), start);
    }

    /// `next_open` and `next_close` are consistent with `is_open` and
    /// `elapsed`, and consecutive intervals from `open_intervals` never
    /// touch.
    #[test]
    fn openings_and_closings_are_consistent(
        case in arb_case(),
        at in -30 * 86_400_i64..30 * 86_400,
        span in 0_i64..21 * 86_400,
    ) {
        let cal = case.calendar();
        let at = case.focus + Duration::seconds(at);
        let open = cal.next_open(at);
        prop_assert!(open >= at && cal.is_open(open));
        prop_assert_eq!(cal.elapsed(at, open), Duration::zero());
        if let Some(close) = cal.next_close(at) {
            prop_assert!(close >= at && !cal.is_open(close));
            prop_assert_eq!(cal.elapsed(at, close), close - at);
        }
        let to = at + Duration::seconds(span);
        let intervals: Vec<_> = cal.open_intervals(at, to).collect();
        let total = intervals
            .iter()
            .fold(Duration::zero(), |sum, (start, end)| sum + (*end - *start));
        prop_assert_eq!(total, cal.elapsed(at, to));
        for window in intervals.windows(2) {
            prop_assert!(window[0].1 < window[1].0, "{:?}", window);
        }
    }

    /// Paused time never counts: the result matches the reference that skips
    /// paused minutes, never exceeds the unpaused time, and more pauses
    /// never count more.
    #[test]
    fn paused_time_never_counts(
        case in arb_case(),
        from in AROUND,
        span in 0_i64..3 * DAY_MINUTES,
        pauses in proptest::collection::vec((-600_i64..5000, -600_i64..2000), 0..5),
    ) {
        let cal = case.calendar();
        let reference = case.reference();
        let from = near(&case, from);
        let to = from + minutes(span);
        // (start, length) in minutes relative to `from`; negative lengths
        // give reversed intervals, which pause nothing.
        let paused: Vec<_> = pauses
            .iter()
            .map(|&(start, length)| (from + minutes(start), from + minutes(start + length)))
            .collect();
        let counted = reference
            .minutes(from, span)
            .iter()
            .enumerate()
            .filter(|&(i, &open)| {
                let at = from + minutes(i as i64);
                open && !paused.iter().any(|&(start, end)| start <= at && at < end)
            })
            .count() as i64;
        let excluding = cal.elapsed_excluding(from, to, &paused);
        prop_assert_eq!(excluding, minutes(counted));
        prop_assert!(excluding <= cal.elapsed(from, to));
        if let Some((_, fewer)) = paused.split_last() {
            prop_assert!(excluding <= cal.elapsed_excluding(from, to, fewer));
        }
    }
}
