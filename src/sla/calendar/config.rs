//! The calendar definition as written in the configuration, its validation,
//! and its compilation into a [`Calendar`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Datelike, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::local::{DAY, HolidayRun, LocalSchedule, OwnedInterval};
use super::offsets::UtcOffsets;
use super::{Calendar, Scheduled};

/// The keyword for a calendar open around the clock: `hours = "24x7"`.
pub const ALWAYS_OPEN: &str = "24x7";

/// A business calendar as written in the configuration (one per plan tier).
///
/// ```toml
/// timezone = "Europe/Paris"
/// hours = { mon = ["09:00-12:30", "13:30-18:00"], tue = ["09:00-18:00"], fri = ["22:00-06:00"] }
/// holidays = ["2026-12-25", "2026-12-24..2026-12-26"]
/// ```
///
/// - `timezone`: an IANA name; the hours and holidays are local wall-clock
///   times and dates there. Required unless the calendar is 24x7 without
///   holidays.
/// - `hours`: `"24x7"`, or a table from weekday (`mon` … `sun`) to a list of
///   `"HH:MM-HH:MM"` intervals. A missing day is closed. An end of `24:00`
///   closes at midnight; an end before the start runs past midnight into the
///   next day (`"22:00-06:00"`), and that part belongs to the day it started
///   on (for holidays). Intervals may touch but must not overlap, also not
///   across midnight.
/// - `always = true`: the same as `hours = "24x7"`.
/// - `holidays`: local dates `"YYYY-MM-DD"` or inclusive ranges
///   `"YYYY-MM-DD..YYYY-MM-DD"`; each is a whole local day closed. With
///   `24x7` they turn the calendar into "every day 00:00-24:00 except the
///   holidays".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub always: bool,
    #[serde(default)]
    pub hours: Option<HoursConfig>,
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// `hours`: `"24x7"` or a weekly table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoursConfig {
    /// `"24x7"`.
    AlwaysOpen,
    /// `{ mon = ["09:00-18:00"], … }`.
    Weekly(WeeklyHours),
}

/// The opening intervals of each weekday; a missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
}

impl WeeklyHours {
    /// The days in order, Monday first.
    pub fn days(&self) -> [(Weekday, &[String]); 7] {
        [
            (Weekday::Mon, &self.mon),
            (Weekday::Tue, &self.tue),
            (Weekday::Wed, &self.wed),
            (Weekday::Thu, &self.thu),
            (Weekday::Fri, &self.fri),
            (Weekday::Sat, &self.sat),
            (Weekday::Sun, &self.sun),
        ]
    }
}

impl Serialize for HoursConfig {
    /// The same shape as read: `"24x7"` or the weekly table, so a stored
    /// policy snapshot reads back into the same calendar.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            HoursConfig::AlwaysOpen => serializer.serialize_str(ALWAYS_OPEN),
            HoursConfig::Weekly(weekly) => weekly.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for HoursConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HoursVisitor;

        impl<'de> Visitor<'de> for HoursVisitor {
            type Value = HoursConfig;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "\"24x7\" or a table of weekdays (mon, tue, wed, thu, fri, sat, sun) \
                     to lists of \"HH:MM-HH:MM\" intervals",
                )
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<HoursConfig, E> {
                if value == ALWAYS_OPEN {
                    Ok(HoursConfig::AlwaysOpen)
                } else {
                    Err(E::invalid_value(Unexpected::Str(value), &self))
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<HoursConfig, A::Error> {
                WeeklyHours::deserialize(de::value::MapAccessDeserializer::new(map)).map(HoursConfig::Weekly)
            }
        }

        deserializer.deserialize_any(HoursVisitor)
    }
}

/// What is wrong with a calendar definition. The message starts with the
/// key inside the calendar table (`hours.mon: …`), so the caller only
/// prefixes the calendar's own key: `sla.managed.calendar: hours.mon: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("timezone: unknown timezone {name:?}; expected an IANA name such as \"Europe/Paris\"")]
    UnknownTimezone { name: String },
    #[error("timezone: missing; it is required for {needed_for}")]
    MissingTimezone { needed_for: &'static str },
    #[error("hours: missing; set a weekly table, \"24x7\", or `always = true`")]
    MissingHours,
    #[error("always: `always = true` conflicts with the weekly `hours` table; keep one of them")]
    ConflictingHours,
    #[error("hours.{day}[{index}]: malformed interval {text:?}: {reason}", day = day_key(.day))]
    MalformedInterval { day: Weekday, index: usize, text: String, reason: String },
    #[error(
        "hours.{day}[{index}]: interval {text:?} is empty; write \"00:00-24:00\" for a whole day",
        day = day_key(.day)
    )]
    EmptyInterval { day: Weekday, index: usize, text: String },
    #[error("hours.{day}: intervals {first} and {second} overlap", day = day_key(.day))]
    Overlap { day: Weekday, first: String, second: String },
    #[error(
        "hours.{day}: interval {interval} runs past midnight and overlaps hours.{next}: interval {other}",
        day = day_key(.day),
        next = day_key(.next_day)
    )]
    OverlapAcrossMidnight { day: Weekday, interval: String, next_day: Weekday, other: String },
    #[error("holidays[{index}]: {text:?} is not a date or a date range: {reason}")]
    InvalidHoliday { index: usize, text: String, reason: String },
    #[error("holidays[{index}]: range {text:?} ends before it starts")]
    ReversedHolidayRange { index: usize, text: String },
    #[error("hours: no open time in the week; list at least one interval, or use \"24x7\"")]
    NoOpenTime,
}

/// The configuration key of a weekday.
fn day_key(day: &Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

impl CalendarConfig {
    /// A calendar open around the clock, without holidays.
    pub fn always_open() -> Self {
        Self { always: true, ..Self::default() }
    }

    /// Validates the definition and compiles it. The first problem found is
    /// returned, in this order: timezone, hours, intervals (syntax, then
    /// overlaps), holidays, missing timezone.
    ///
    /// Compiling scans the timezone's offsets over centuries (milliseconds),
    /// and every ticket's stored snapshot carries its calendar, so compiled
    /// calendars are kept per definition: a ticket page or an evaluator pass
    /// over 100,000 tickets compiles each distinct calendar once. (A
    /// [`Calendar`] is an `Arc` inside, cheap to clone.)
    pub fn compile(&self) -> Result<Calendar, CalendarError> {
        type Cache = Mutex<HashMap<String, Calendar>>;
        /// Distinct definitions kept; more (many config edits over years of
        /// history) empty the cache rather than grow it without bound.
        const MAX_CACHED: usize = 256;
        static COMPILED: OnceLock<Cache> = OnceLock::new();
        let Ok(key) = serde_json::to_string(self) else {
            return self.compile_uncached();
        };
        let cache = COMPILED.get_or_init(Default::default);
        if let Some(calendar) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(calendar);
        }
        let calendar = self.compile_uncached()?;
        if let Ok(mut c) = cache.lock() {
            if c.len() >= MAX_CACHED {
                c.clear();
            }
            c.insert(key, calendar.clone());
        }
        Ok(calendar)
    }

    fn compile_uncached(&self) -> Result<Calendar, CalendarError> {
        let timezone = match &self.timezone {
            Some(name) => Some(name.parse::<Tz>().map_err(|_| CalendarError::UnknownTimezone { name: name.clone() })?),
            None => None,
        };
        let weekly = match (&self.hours, self.always) {
            (Some(HoursConfig::Weekly(_)), true) => return Err(CalendarError::ConflictingHours),
            (Some(HoursConfig::Weekly(weekly)), false) => Some(weekly),
            (Some(HoursConfig::AlwaysOpen), _) | (None, true) => None,
            (None, false) => return Err(CalendarError::MissingHours),
        };
        let intervals = match weekly {
            Some(weekly) => Some(weekly_intervals(weekly)?),
            None => None,
        };
        let holidays = holiday_runs(&self.holidays)?;
        if intervals.is_none() && holidays.is_empty() {
            return Ok(Calendar::always_open_in(timezone));
        }
        let Some(tz) = timezone else {
            return Err(CalendarError::MissingTimezone {
                needed_for: if intervals.is_some() {
                    "weekly hours (they are local wall-clock times)"
                } else {
                    "holidays (they are local dates)"
                },
            });
        };
        let intervals =
            intervals.unwrap_or_else(|| (0..7).map(|weekday| OwnedInterval { weekday, start: 0, end: DAY }).collect());
        let local = LocalSchedule::new(&intervals, &holidays).ok_or(CalendarError::NoOpenTime)?;
        Ok(Calendar::scheduled(Arc::new(Scheduled { tz, offsets: UtcOffsets::new(tz), local })))
    }
}

/// One parsed interval, with what is needed to name it in an error.
#[derive(Debug, Clone, Copy)]
struct Parsed {
    day: Weekday,
    /// Minutes after the day's midnight.
    start: i64,
    /// Minutes after the day's midnight, > `start`; > 1440 past midnight.
    end: i64,
}

impl Parsed {
    /// `HH:MM-HH:MM`, normalised.
    fn label(&self) -> String {
        let end = if self.end > 1440 { self.end - 1440 } else { self.end };
        format!("{}-{}", clock(self.start), clock(end))
    }
}

fn clock(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Parses every day's intervals and checks that none overlap, also across
/// midnight and from Sunday into Monday.
fn weekly_intervals(weekly: &WeeklyHours) -> Result<Vec<OwnedInterval>, CalendarError> {
    let mut parsed = Vec::new();
    for (day, texts) in weekly.days() {
        for (index, text) in texts.iter().enumerate() {
            let (start, end) = parse_interval(text).map_err(|reason| CalendarError::MalformedInterval {
                day,
                index,
                text: text.clone(),
                reason,
            })?;
            let end = match end {
                end if end == start => {
                    return Err(CalendarError::EmptyInterval { day, index, text: text.clone() });
                }
                end if end > start => end,
                // Ends before it starts: runs into the next day.
                end => end + 1440,
            };
            parsed.push(Parsed { day, start, end });
        }
    }
    if parsed.is_empty() {
        return Err(CalendarError::NoOpenTime);
    }
    check_overlaps(&parsed)?;
    Ok(parsed
        .iter()
        .map(|interval| OwnedInterval {
            weekday: interval.day.num_days_from_monday() as usize,
            start: interval.start * 60,
            end: interval.end * 60,
        })
        .collect())
}

/// Lays the intervals on the weekly circle (in minutes from Monday 00:00) and
/// reports the first overlap.
fn check_overlaps(parsed: &[Parsed]) -> Result<(), CalendarError> {
    const WEEK_MINUTES: i64 = 7 * 1440;
    // (start, end, index into `parsed`), split at the end of the week.
    let mut pieces = Vec::with_capacity(parsed.len() + 1);
    for (index, interval) in parsed.iter().enumerate() {
        let day_start = i64::from(interval.day.num_days_from_monday()) * 1440;
        let (start, end) = (day_start + interval.start, day_start + interval.end);
        if end <= WEEK_MINUTES {
            pieces.push((start, end, index));
        } else {
            pieces.push((start, WEEK_MINUTES, index));
            pieces.push((0, end - WEEK_MINUTES, index));
        }
    }
    pieces.sort_unstable();
    // The piece reaching furthest so far; any overlap shows against it.
    let mut reach: Option<(i64, usize)> = None;
    for &(start, end, index) in &pieces {
        if let Some((reach_end, other)) = reach
            && start < reach_end
        {
            return Err(overlap_error(&parsed[other], &parsed[index]));
        }
        if reach.is_none_or(|(reach_end, _)| end > reach_end) {
            reach = Some((end, index));
        }
    }
    Ok(())
}

fn overlap_error(a: &Parsed, b: &Parsed) -> CalendarError {
    if a.day == b.day {
        let (first, second) = if (a.start, a.end) <= (b.start, b.end) { (a, b) } else { (b, a) };
        return CalendarError::Overlap { day: a.day, first: first.label(), second: second.label() };
    }
    // Intervals of different days meet only when the earlier day's interval
    // runs past midnight into the later day.
    let (spanning, other) = if a.end > 1440 && a.day.succ() == b.day { (a, b) } else { (b, a) };
    CalendarError::OverlapAcrossMidnight {
        day: spanning.day,
        interval: spanning.label(),
        next_day: other.day,
        other: other.label(),
    }
}

/// Parses `HH:MM-HH:MM` into minutes after midnight. The start is in
/// `00:00..=23:59`, the end in `00:00..=24:00`.
fn parse_interval(text: &str) -> Result<(i64, i64), String> {
    let Some((start, end)) = text.split_once('-') else {
        return Err("expected \"HH:MM-HH:MM\"".to_owned());
    };
    let start = parse_time(start.trim())?;
    let end = parse_time(end.trim())?;
    if start == 1440 {
        return Err("24:00 can only end an interval".to_owned());
    }
    Ok((start, end))
}

/// Parses `H:MM` or `HH:MM` (00:00 to 24:00) into minutes.
fn parse_time(text: &str) -> Result<i64, String> {
    let malformed = || format!("{text:?} is not a time \"HH:MM\"");
    let (hours, minutes) = text.split_once(':').ok_or_else(malformed)?;
    let digits = |s: &str, max_len: usize| !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours, 2) || !digits(minutes, 2) || minutes.len() != 2 {
        return Err(malformed());
    }
    let hours: i64 = hours.parse().map_err(|_| malformed())?;
    let minutes: i64 = minutes.parse().map_err(|_| malformed())?;
    if minutes > 59 || hours > 24 || (hours == 24 && minutes != 0) {
        return Err(format!("{text:?} is not a time of day (00:00 to 24:00)"));
    }
    Ok(hours * 60 + minutes)
}

/// Parses the holidays into sorted, merged runs of days.
fn holiday_runs(holidays: &[String]) -> Result<Vec<HolidayRun>, CalendarError> {
    let mut runs = Vec::with_capacity(holidays.len());
    for (index, text) in holidays.iter().enumerate() {
        let invalid = |reason: String| CalendarError::InvalidHoliday { index, text: text.clone(), reason };
        let (first, last) = match text.split_once("..") {
            Some((first, last)) => {
                (parse_date(first.trim()).map_err(invalid)?, parse_date(last.trim()).map_err(invalid)?)
            }
            None => {
                let day = parse_date(text.trim()).map_err(invalid)?;
                (day, day)
            }
        };
        if last < first {
            return Err(CalendarError::ReversedHolidayRange { index, text: text.clone() });
        }
        runs.push(HolidayRun { first: day_number(first), last: day_number(last) });
    }
    runs.sort_unstable_by_key(|run| run.first);
    let mut merged: Vec<HolidayRun> = Vec::with_capacity(runs.len());
    for run in runs {
        match merged.last_mut() {
            Some(previous) if run.first <= previous.last + 1 => {
                previous.last = previous.last.max(run.last);
            }
            _ => merged.push(run),
        }
    }
    Ok(merged)
}

/// Parses exactly `YYYY-MM-DD`.
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return Err(format!("{text:?} is not \"YYYY-MM-DD\" (ranges are \"YYYY-MM-DD..YYYY-MM-DD\")"));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is no such date"))
}

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// Days since 1970-01-01.
pub(super) fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE
}
