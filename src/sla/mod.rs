//! Service-level agreements by plan tier (issue 5).
//!
//! - [`calendar`]: business calendars — the per-tier calendar definition read
//!   from the configuration, its validation, and pure, fast business-time
//!   arithmetic (add a business duration to an instant, measure the business
//!   time between two instants) that is correct across DST changes, holidays,
//!   midnight-spanning hours and 24x7. No database, no I/O.
//! - [`policy`]: per tier and priority targets, thresholds and pause
//!   statuses from `[sla.<tier>]`, validated at start-up, and the snapshot
//!   stored with each ticket.
//! - [`clock`]: the pure per-ticket clock: facts in, append-only segments,
//!   due instants, achieved durations and an explanation out.
//! - [`store`]: the clock in the database (`ticket_sla`, `sla_segments`).
//! - [`evaluator`]: warnings and breaches, exactly once (`sla_notices`).
//! - [`recompute`]: `tusk sla recompute`, replaying tickets against a policy.
pub mod calendar;
pub mod clock;
pub mod evaluator;
pub mod explain;
pub mod policy;
pub mod recompute;
pub mod store;
