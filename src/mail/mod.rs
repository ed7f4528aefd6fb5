//! Email: the pure inbound part (`inbound`: parse, classify, helpers for
//! threading and linking, message sources), the intake pipeline that stores
//! and decides (`intake`, `ingest`), the `tusk mailgate` client, and the
//! outbound templates and composition (`outbound`).

pub mod inbound;
pub mod ingest;
pub mod intake;
pub mod mailgate;
pub mod outbound;
