//! The opening schedule in LOCAL wall-clock seconds: a repeating weekly
//! template minus the holidays, with no timezone involved.
//!
//! Local seconds count wall-clock time from 1970-01-01 00:00 local as if
//! every day had 86,400 seconds; the calendar maps each constant-offset
//! piece of the UTC time line onto them by adding the offset (see
//! `offsets.rs`). On local seconds everything is exact integer arithmetic:
//!
//! - `F(x)`, the template's open seconds before `x`, is
//!   `weeks * open_per_week + prefix within the week`, so spans of any
//!   length cost one binary search over the week's intervals;
//! - a run of consecutive holidays closes one window of local seconds (the
//!   intervals owned by those days); the windows are disjoint and carry
//!   prefix sums of the template time they close, so holidays cost a binary
//!   search too.

/// Seconds in a (wall-clock) day.
pub(super) const DAY: i64 = 86_400;
/// Seconds in a week.
pub(super) const WEEK: i64 = 7 * DAY;
/// Local second 0 (1970-01-01) was a Thursday; adding three days makes week
/// position 0 a Monday 00:00.
const MONDAY_SHIFT: i64 = 3 * DAY;

/// The weekday of a day number (days since 1970-01-01), Monday = 0.
pub(super) fn weekday_of_day(day: i64) -> usize {
    // `rem_euclid(7)` is in 0..7, so the cast is lossless.
    (day + 3).rem_euclid(7) as usize
}

/// One opening interval of the weekly template, owned by the weekday it
/// starts on: `[start, end)` in seconds after that day's midnight, with
/// `end <= 2 * DAY`; `end > DAY` for an interval that runs past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OwnedInterval {
    pub weekday: usize,
    pub start: i64,
    pub end: i64,
}

/// A run of holidays: days `first..=last` (days since 1970-01-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HolidayRun {
    pub first: i64,
    pub last: i64,
}

#[derive(Debug, Clone)]
pub(super) struct LocalSchedule {
    /// Open intervals of the week, `[start, end)` in seconds after Monday
    /// 00:00 within `0..=WEEK`: sorted, disjoint, touching ones merged,
    /// never empty.
    week: Vec<(i64, i64)>,
    /// `prefix[i]`: open seconds in `week[..i]`; `week.len() + 1` entries.
    prefix: Vec<i64>,
    /// Open seconds per week (> 0).
    per_week: i64,
    /// Windows of local seconds closed by holiday runs: sorted, disjoint.
    closed: Vec<(i64, i64)>,
    /// `closed_prefix[i]`: template seconds inside `closed[..i]`.
    closed_prefix: Vec<i64>,
    /// `opened_before[i]`: `F(closed[i].0) - closed_prefix[i]`, the
    /// effective open time (holidays deducted) before window `i` starts, up
    /// to a constant; non-decreasing, for `add` to binary-search.
    opened_before: Vec<i64>,
}

impl LocalSchedule {
    /// Builds the schedule. `intervals` must not overlap (validated by the
    /// configuration) and must contain some open time; `holidays` must be
    /// sorted, disjoint and non-adjacent (merged). Returns `None` when there
    /// is no open time.
    pub(super) fn new(intervals: &[OwnedInterval], holidays: &[HolidayRun]) -> Option<Self> {
        let mut folded = Vec::with_capacity(intervals.len() + 1);
        // spill[d]: how far past the midnight that starts weekday `d` the
        // interval owned by the previous weekday runs (0 if none does).
        let mut spill = [0_i64; 7];
        for interval in intervals {
            let day_start = interval.weekday as i64 * DAY;
            let (start, end) = (day_start + interval.start, day_start + interval.end);
            if end <= WEEK {
                folded.push((start, end));
            } else {
                folded.push((start, WEEK));
                folded.push((0, end - WEEK));
            }
            if interval.end > DAY {
                spill[(interval.weekday + 1) % 7] = interval.end - DAY;
            }
        }
        folded.sort_unstable();
        let mut week: Vec<(i64, i64)> = Vec::with_capacity(folded.len());
        for (start, end) in folded {
            if start >= end {
                continue;
            }
            match week.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => week.push((start, end)),
            }
        }
        if week.is_empty() {
            return None;
        }
        let mut prefix = Vec::with_capacity(week.len() + 1);
        let mut running = 0;
        prefix.push(0);
        for &(start, end) in &week {
            running += end - start;
            prefix.push(running);
        }
        let mut schedule = Self {
            week,
            prefix,
            per_week: running,
            closed: Vec::with_capacity(holidays.len()),
            closed_prefix: Vec::with_capacity(holidays.len() + 1),
            opened_before: Vec::with_capacity(holidays.len()),
        };
        // A run of holiday days closes what those days own: from the first
        // day's midnight (after the previous day's interval spilling into it)
        // to the midnight after the last day plus the last day's own spill.
        schedule.closed_prefix.push(0);
        let mut closed_total = 0;
        for run in holidays {
            let start = run.first * DAY + spill[weekday_of_day(run.first)];
            let end = (run.last + 1) * DAY + spill[weekday_of_day(run.last + 1)];
            schedule.opened_before.push(schedule.cumulative(start) - closed_total);
            closed_total += schedule.cumulative(end) - schedule.cumulative(start);
            schedule.closed.push((start, end));
            schedule.closed_prefix.push(closed_total);
        }
        Some(schedule)
    }

    /// `F(x)`: template seconds (holidays ignored) in `[origin, x)`, for a
    /// fixed origin; only differences of it are meaningful.
    fn cumulative(&self, x: i64) -> i64 {
        let shifted = x + MONDAY_SHIFT;
        shifted.div_euclid(WEEK) * self.per_week + self.within_week(shifted.rem_euclid(WEEK))
    }

    /// Template seconds in `[0, position)` of the week.
    fn within_week(&self, position: i64) -> i64 {
        let count = self.week.partition_point(|&(start, _)| start < position);
        if count == 0 {
            return 0;
        }
        let (start, end) = self.week[count - 1];
        self.prefix[count - 1] + position.min(end) - start
    }

    /// The smallest `x` with `F(x) == value`.
    fn position_of(&self, value: i64) -> i64 {
        let weeks = (value - 1).div_euclid(self.per_week);
        let rest = value - weeks * self.per_week; // in 1..=per_week
        // The interval `i` with prefix[i] < rest <= prefix[i + 1]; prefix[0]
        // is 0 < rest, so the partition point is at least 1.
        let index = self.prefix.partition_point(|&p| p < rest) - 1;
        weeks * WEEK + self.week[index].0 + (rest - self.prefix[index]) - MONDAY_SHIFT
    }

    /// Index of the first holiday window ending after `x`.
    fn first_window_ending_after(&self, x: i64) -> usize {
        self.closed.partition_point(|&(_, end)| end <= x)
    }

    /// Whether the local second `x` is open.
    pub(super) fn is_open(&self, x: i64) -> bool {
        let position = (x + MONDAY_SHIFT).rem_euclid(WEEK);
        let index = self.week.partition_point(|&(_, end)| end <= position);
        let in_template = self.week.get(index).is_some_and(|&(start, _)| start <= position);
        in_template && !self.in_window(x)
    }

    fn in_window(&self, x: i64) -> bool {
        self.closed.get(self.first_window_ending_after(x)).is_some_and(|&(start, _)| start <= x)
    }

    /// Open seconds in `[a, b)`; 0 when `b <= a`.
    pub(super) fn open_between(&self, a: i64, b: i64) -> i64 {
        if b <= a {
            return 0;
        }
        let mut open = self.cumulative(b) - self.cumulative(a);
        let first = self.first_window_ending_after(a);
        let past = self.closed.partition_point(|&(start, _)| start < b);
        if first < past {
            // Subtract windows first..past whole, then give back the parts of
            // the first and last of them that lie outside [a, b).
            open -= self.closed_prefix[past] - self.closed_prefix[first];
            let first_start = self.closed[first].0;
            if first_start < a {
                open += self.cumulative(a) - self.cumulative(first_start);
            }
            let last_end = self.closed[past - 1].1;
            if last_end > b {
                open += self.cumulative(last_end) - self.cumulative(b);
            }
        }
        open
    }

    /// The smallest `x > a` with `open_between(a, x) == business`, for
    /// `business > 0`.
    pub(super) fn add(&self, a: i64, business: i64) -> i64 {
        let mut from = a;
        let mut next = self.first_window_ending_after(from);
        if let Some(&(start, end)) = self.closed.get(next)
            && start <= from
        {
            from = end;
            next += 1;
        }
        // With windows[..k] behind `x` and `x` outside every window, the
        // effective open time is M(x) = F(x) - closed_prefix[k]. Find the
        // first window k >= next whose start is at or past the target; the
        // answer lies in the open stretch just before it.
        let target = self.cumulative(from) - self.closed_prefix[next] + business;
        let before = next + self.opened_before[next..].partition_point(|&opened| opened < target);
        self.position_of(target + self.closed_prefix[before])
    }

    /// The first open local second at or after `x`.
    pub(super) fn next_open(&self, x: i64) -> i64 {
        let mut from = x;
        loop {
            let candidate = self.next_template_open(from);
            match self.closed.get(self.first_window_ending_after(candidate)) {
                Some(&(start, end)) if start <= candidate => from = end,
                _ => return candidate,
            }
        }
    }

    /// The first second at or after `x` inside the template.
    fn next_template_open(&self, x: i64) -> i64 {
        let shifted = x + MONDAY_SHIFT;
        let week_start = shifted - shifted.rem_euclid(WEEK);
        let position = shifted - week_start;
        let index = self.week.partition_point(|&(_, end)| end <= position);
        let open = match self.week.get(index) {
            Some(&(start, _)) => week_start + start.max(position),
            None => week_start + WEEK + self.week[0].0,
        };
        open - MONDAY_SHIFT
    }

    /// The first closed local second at or after `x` (`x` itself when it is
    /// closed); `None` when the schedule never closes again.
    pub(super) fn next_close(&self, x: i64) -> Option<i64> {
        if !self.is_open(x) {
            return Some(x);
        }
        let window = self.closed.get(self.first_window_ending_after(x)).map(|&(start, _)| start);
        match (self.template_run_end(x), window) {
            (Some(run_end), Some(window)) => Some(run_end.min(window)),
            (run_end, None) => run_end,
            (None, window) => window,
        }
    }

    /// The end of the template run containing `x` (which is in the
    /// template); `None` for a template open around the clock.
    fn template_run_end(&self, x: i64) -> Option<i64> {
        if self.per_week == WEEK {
            return None;
        }
        let shifted = x + MONDAY_SHIFT;
        let week_start = shifted - shifted.rem_euclid(WEEK);
        let position = shifted - week_start;
        let index = self.week.partition_point(|&(_, end)| end <= position);
        let end = self.week.get(index).map_or(position, |&(_, end)| end);
        let mut run_end = week_start + end;
        // A run reaching Sunday 24:00 continues into Monday 00:00.
        if end == WEEK && self.week[0].0 == 0 {
            run_end += self.week[0].1;
        }
        Some(run_end - MONDAY_SHIFT)
    }
}
