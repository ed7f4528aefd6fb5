//! Email: the inbound pipeline (parse, classify, helpers for threading and
//! linking, message sources for `tusk ingest`). Outbound mail and the
//! mailgate client live next to it as they are written.

pub mod inbound;
