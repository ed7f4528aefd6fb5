//! A timezone's UTC offset as a table of constant-offset pieces of the UTC
//! time line.
//!
//! `chrono-tz` answers "what is the offset at this instant" but does not
//! expose its transition table, so the table is rebuilt once per calendar by
//! sampling the offset every day between [`SCAN_FROM`] and [`SCAN_TO`] and
//! bisecting each change to the second. Both assumptions this relies on are
//! checked by tests against every zone `chrono-tz` ships:
//!
//! - the tz database has no offset change before 1840 or after 2099 (the
//!   offset is constant outside the scanned range), and
//! - consecutive offset changes of a zone are more than one day apart (the
//!   closest are a week apart), so a daily sample cannot miss one.
//!
//! With the table, finding the offset in force at an instant is a binary
//! search over a few hundred integers and needs no timezone lookup at all.

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// A second far before any representable `DateTime<Utc>`: the start of the
/// first piece. Adding an offset or a week to it cannot overflow.
pub(super) const FAR_PAST: i64 = -(1 << 60);
/// A second far after any representable `DateTime<Utc>`: the end of the last
/// piece.
pub(super) const FAR_FUTURE: i64 = 1 << 60;

/// 1840-01-01T00:00:00Z, before the first offset change in the tz database.
pub(super) const SCAN_FROM: i64 = -4_102_444_800;
/// 2100-01-01T00:00:00Z, after the last offset change in the tz database.
pub(super) const SCAN_TO: i64 = 4_102_444_800;
/// The sampling step of the scan.
const SCAN_STEP: i64 = 86_400;

/// A stretch `[start, end)` of UTC seconds during which the offset is
/// constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece {
    pub start: i64,
    pub end: i64,
    /// Seconds east of UTC: local wall-clock seconds = UTC seconds + offset.
    pub offset: i64,
}

/// The offset table of one timezone.
#[derive(Debug, Clone)]
pub(super) struct UtcOffsets {
    /// UTC seconds at which the offset changes, ascending.
    changes: Vec<i64>,
    /// `offsets[k]` is in force on `[changes[k - 1], changes[k])`; one more
    /// entry than `changes`.
    offsets: Vec<i64>,
}

/// The offset of `tz` at the UTC second `secs`, in seconds east of UTC.
pub(super) fn offset_at(tz: Tz, secs: i64) -> i64 {
    DateTime::from_timestamp(secs, 0)
        .map_or(0, |at| i64::from(tz.offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()))
}

impl UtcOffsets {
    /// Builds the table of `tz` (about 95,000 offset look-ups).
    pub(super) fn new(tz: Tz) -> Self {
        let mut changes = Vec::new();
        let mut current = offset_at(tz, SCAN_FROM);
        let mut offsets = vec![current];
        let mut at = SCAN_FROM;
        while at < SCAN_TO {
            let next = at + SCAN_STEP;
            let offset = offset_at(tz, next);
            if offset != current {
                // Invariant: the offset is `current` at `low` and `offset` at `high`.
                let (mut low, mut high) = (at, next);
                while high - low > 1 {
                    let middle = low + (high - low) / 2;
                    if offset_at(tz, middle) == current {
                        low = middle;
                    } else {
                        high = middle;
                    }
                }
                changes.push(high);
                offsets.push(offset);
                current = offset;
            }
            at = next;
        }
        Self { changes, offsets }
    }

    /// The piece containing the UTC second `secs`.
    pub(super) fn piece_at(&self, secs: i64) -> Piece {
        let index = self.changes.partition_point(|&change| change <= secs);
        Piece {
            start: if index == 0 { FAR_PAST } else { self.changes[index - 1] },
            end: self.changes.get(index).copied().unwrap_or(FAR_FUTURE),
            offset: self.offsets[index],
        }
    }

    /// The UTC seconds at which the offset changes, ascending.
    #[cfg(test)]
    pub(super) fn changes(&self) -> &[i64] {
        &self.changes
    }
}
