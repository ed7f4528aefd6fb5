//! Business calendars: pure, fast business-time arithmetic.
//!
//! A [`CalendarConfig`] (one per plan tier, read from the configuration) is
//! validated and compiled into a [`Calendar`], which answers questions about
//! instants (`DateTime<Utc>`) and business durations (`chrono::Duration`):
//! [`Calendar::add`], [`Calendar::elapsed`], [`Calendar::elapsed_excluding`],
//! [`Calendar::is_open`], [`Calendar::next_open`], [`Calendar::next_close`]
//! and [`Calendar::open_intervals`].
//!
//! # Rules
//!
//! - **What is open.** An instant is open when its local wall-clock time in
//!   the calendar's timezone falls inside an interval `[start, end)` of the
//!   weekly schedule for its local date, and that date is not a holiday. A
//!   24x7 calendar is open at every instant (except on its holidays, if it
//!   has any).
//! - **Midnight.** An interval whose end is before its start
//!   (`fri = ["22:00-06:00"]`) runs into the next day, and the part after
//!   midnight belongs to the day it started on: a holiday on that Friday
//!   closes Saturday 00:00-06:00 too, and a holiday on the Saturday does not
//!   close it. An end of `24:00` closes at midnight.
//! - **Holidays** close whole local days: everything the day owns (above).
//! - **Daylight saving time.** Because openness is decided by the local
//!   wall-clock reading of each instant, the rule at a transition is:
//!   local times skipped by a spring-forward gap never happen, so they are
//!   never open; local times repeated by a fall-back happen twice, and both
//!   occurrences are open when the wall-clock time is inside an interval.
//!   In Europe/Berlin an interval `01:00-04:00` therefore holds 2 real
//!   hours on 2026-03-29 (02:00 jumps to 03:00) and 4 real hours on
//!   2026-10-25 (03:00 falls back to 02:00); `02:15-02:45` holds nothing on
//!   the spring day and two separate half hours on the autumn day. This is
//!   the rule a clock on the office wall gives, and it makes the answers
//!   agree with a walk over every minute converting each to local time.
//! - **Precision: one second.** Sub-second parts of instants are ignored
//!   (each instant is truncated to its second) and business durations are
//!   truncated to whole seconds, so results are whole seconds. Exceptions
//!   that return their argument untouched: `add` of less than one second
//!   (or a negative duration) returns `start`, and `next_open` /
//!   `next_close` return `at` when it already is open / closed.
//! - **Range.** Results that would fall after `DateTime::<Utc>::MAX_UTC`
//!   saturate to it.
//!
//! # Speed
//!
//! Nothing walks minute by minute or day by day. The weekly schedule is
//! compiled into prefix sums, so the open time before any local instant is
//! `weeks * open_per_week + prefix within the week`; runs of holidays become
//! closed windows with their own prefix sums; and the timezone becomes a
//! table of constant-offset stretches (a few per year). `add` and `elapsed`
//! cost a few binary searches whatever the span, plus one step per DST
//! change crossed.

mod config;
mod local;
mod offsets;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

pub use config::{ALWAYS_OPEN, CalendarConfig, CalendarError, HoursConfig, WeeklyHours};

use local::LocalSchedule;
use offsets::UtcOffsets;

/// A compiled business calendar: cheap to clone (an `Arc`), `Send + Sync`,
/// and every operation is pure. See the [module documentation](self) for
/// the rules.
#[derive(Clone)]
pub struct Calendar {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Open at every instant; the timezone, if configured, is kept for
    /// displaying instants.
    AlwaysOpen(Option<Tz>),
    Scheduled(Arc<Scheduled>),
}

/// A weekly schedule with holidays in a timezone.
struct Scheduled {
    tz: Tz,
    offsets: UtcOffsets,
    local: LocalSchedule,
}

impl fmt::Debug for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::AlwaysOpen(tz) => f
                .debug_struct("Calendar")
                .field("hours", &ALWAYS_OPEN)
                .field("timezone", &tz.map(|tz| tz.name()))
                .finish(),
            Repr::Scheduled(scheduled) => {
                f.debug_struct("Calendar").field("hours", &"weekly").field("timezone", &scheduled.tz.name()).finish()
            }
        }
    }
}

/// The whole seconds of `at` since the epoch (truncated toward the past).
fn secs(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

/// The instant `secs` seconds after the epoch, saturated to the range of
/// `DateTime<Utc>`.
fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(if secs > 0 {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

impl Calendar {
    /// A calendar open around the clock (`24x7`) without holidays.
    pub fn always_open() -> Self {
        Self::always_open_in(None)
    }

    fn always_open_in(tz: Option<Tz>) -> Self {
        Self { repr: Repr::AlwaysOpen(tz) }
    }

    fn scheduled(scheduled: Arc<Scheduled>) -> Self {
        Self { repr: Repr::Scheduled(scheduled) }
    }

    /// Whether every instant is open (24x7 without holidays).
    pub fn is_always_open(&self) -> bool {
        matches!(self.repr, Repr::AlwaysOpen(_))
    }

    /// The configured timezone, for showing instants in local time.
    pub fn timezone(&self) -> Option<Tz> {
        match &self.repr {
            Repr::AlwaysOpen(tz) => *tz,
            Repr::Scheduled(scheduled) => Some(scheduled.tz),
        }
    }

    /// Whether `at` is within business hours.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        match &self.repr {
            Repr::AlwaysOpen(_) => true,
            Repr::Scheduled(scheduled) => scheduled.is_open(secs(at)),
        }
    }

    /// The first open instant at or after `at`: `at` itself when it is
    /// open.
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match &self.repr {
            Repr::AlwaysOpen(_) => at,
            Repr::Scheduled(scheduled) => {
                let at_secs = secs(at);
                let open = scheduled.next_open(at_secs);
                if open == at_secs { at } else { instant(open) }
            }
        }
    }

    /// The first closed instant at or after `at`: `at` itself when it is
    /// closed, else the end of the opening it is in (consecutive intervals,
    /// also across midnight, count as one opening). `None` when the calendar
    /// never closes again (24x7, or open around the clock after its last
    /// holiday).
    pub fn next_close(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.repr {
            Repr::AlwaysOpen(_) => None,
            Repr::Scheduled(scheduled) => {
                let at_secs = secs(at);
                scheduled.next_close(at_secs).map(|close| if close == at_secs { at } else { instant(close) })
            }
        }
    }

    /// The instant at which `business` of open time has elapsed after
    /// `start`: the earliest `t` with `elapsed(start, t) == business`. If
    /// `start` is outside hours, counting begins at the next opening; the
    /// result is an open instant or the exact end of an opening (never a
    /// later reopening). Adding zero (or less than a second, or a negative
    /// duration) returns `start` itself, even outside hours.
    pub fn add(&self, start: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        let business = business.num_seconds();
        if business <= 0 {
            return start;
        }
        let start_secs = secs(start);
        // Business time never runs faster than real time, so a result past
        // the end of the representable range is certain: saturate early and
        // keep the arithmetic below far from overflow.
        let max = secs(DateTime::<Utc>::MAX_UTC);
        if start_secs.checked_add(business).is_none_or(|end| end > max) {
            return DateTime::<Utc>::MAX_UTC;
        }
        match &self.repr {
            Repr::AlwaysOpen(_) => instant(start_secs + business),
            Repr::Scheduled(scheduled) => instant(scheduled.add(start_secs, business)),
        }
    }

    /// The business time in `[from, to)`; zero when `to <= from`.
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        Duration::seconds(self.elapsed_secs(secs(from), secs(to)))
    }

    fn elapsed_secs(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        match &self.repr {
            Repr::AlwaysOpen(_) => to - from,
            Repr::Scheduled(scheduled) => scheduled.elapsed(from, to),
        }
    }

    /// The business time in `[from, to)` that is not inside any of the
    /// `paused` intervals `[pause_start, pause_end)`. Paused intervals may
    /// overlap each other, come in any order and reach outside
    /// `[from, to)`; an interval whose end is not after its start pauses
    /// nothing. Business time inside a pause never counts, and business
    /// time covered by several pauses is subtracted once.
    pub fn elapsed_excluding(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        paused: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Duration {
        let (from, to) = (secs(from), secs(to));
        let mut total = self.elapsed_secs(from, to);
        if total == 0 {
            return Duration::zero();
        }
        let mut pauses: Vec<(i64, i64)> = paused
            .iter()
            .map(|&(start, end)| (secs(start).max(from), secs(end).min(to)))
            .filter(|(start, end)| start < end)
            .collect();
        pauses.sort_unstable();
        let mut covered_until = from;
        for (start, end) in pauses {
            let start = start.max(covered_until);
            if end > start {
                total -= self.elapsed_secs(start, end);
                covered_until = end;
            }
        }
        Duration::seconds(total)
    }

    /// The maximal open intervals `[open, close)` that meet `[from, to)`,
    /// clipped to it, in order. Consecutive intervals of the schedule that
    /// touch (also across midnight) come out as one. The SLA clock uses the
    /// gaps between them to explain "outside hours until Mon 09:00".
    pub fn open_intervals(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> OpenIntervals<'_> {
        OpenIntervals { calendar: self, cursor: from, to }
    }
}

impl Scheduled {
    fn is_open(&self, at: i64) -> bool {
        let piece = self.offsets.piece_at(at);
        self.local.is_open(at + piece.offset)
    }

    fn elapsed(&self, from: i64, to: i64) -> i64 {
        let mut total = 0;
        let mut cursor = from;
        while cursor < to {
            let piece = self.offsets.piece_at(cursor);
            let end = piece.end.min(to);
            total += self.local.open_between(cursor + piece.offset, end + piece.offset);
            cursor = end;
        }
        total
    }

    /// `business > 0`, and `start + business` is within `DateTime<Utc>`'s
    /// range.
    fn add(&self, start: i64, business: i64) -> i64 {
        let mut cursor = start;
        let mut remaining = business;
        loop {
            let piece = self.offsets.piece_at(cursor);
            let local_cursor = cursor + piece.offset;
            let done = self.local.add(local_cursor, remaining) - piece.offset;
            if done <= piece.end {
                return done;
            }
            // Not within this stretch of constant offset: use up what it has
            // and carry on in the next one (the last one never ends).
            remaining -= self.local.open_between(local_cursor, piece.end + piece.offset);
            cursor = piece.end;
        }
    }

    fn next_open(&self, at: i64) -> i64 {
        let mut cursor = at;
        loop {
            let piece = self.offsets.piece_at(cursor);
            let open = self.local.next_open(cursor + piece.offset) - piece.offset;
            if open < piece.end {
                return open;
            }
            cursor = piece.end;
        }
    }

    fn next_close(&self, at: i64) -> Option<i64> {
        let mut cursor = at;
        loop {
            let piece = self.offsets.piece_at(cursor);
            if let Some(close) = self.local.next_close(cursor + piece.offset) {
                let close = close - piece.offset;
                if close < piece.end {
                    return Some(close);
                }
            }
            // Open up to the next change of offset. Even when the local
            // schedule never closes again, a fall-back could carry local time
            // back into a holiday, so look at every later stretch.
            if piece.end >= offsets::FAR_FUTURE {
                return None;
            }
            cursor = piece.end;
        }
    }
}

/// The iterator returned by [`Calendar::open_intervals`].
#[derive(Debug, Clone)]
pub struct OpenIntervals<'a> {
    calendar: &'a Calendar,
    cursor: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Iterator for OpenIntervals<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.cursor >= self.to {
            return None;
        }
        let open = self.calendar.next_open(self.cursor);
        if open >= self.to {
            self.cursor = self.to;
            return None;
        }
        let close = match self.calendar.next_close(open) {
            Some(close) if close < self.to => close,
            _ => self.to,
        };
        self.cursor = close;
        Some((open, close))
    }
}

impl std::iter::FusedIterator for OpenIntervals<'_> {}
