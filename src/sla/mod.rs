//! Service-level agreements by plan tier (issue 5).
//!
//! - [`calendar`]: business calendars — the per-tier calendar definition read
//!   from the configuration, its validation, and pure, fast business-time
//!   arithmetic (add a business duration to an instant, measure the business
//!   time between two instants) that is correct across DST changes, holidays,
//!   midnight-spanning hours and 24x7. No database, no I/O.
pub mod calendar;
