//! Tusk: an open-source customer-support desk for a Mastodon hosting
//! provider. The binary (`src/main.rs`) only parses the command line and
//! calls into this library, so tests exercise exactly the same wiring.

pub mod commands;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod import;
pub mod mail;
pub mod metrics;
pub mod reports;
pub mod search;
pub mod seed;
pub mod sla;
pub mod storage;
pub mod telemetry;
pub mod web;

pub use config::Config;
pub use error::{AppError, AppResult, ErrorKind};
pub use web::{AppState, build_app};
