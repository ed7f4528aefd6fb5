//! Pieces of the OpenAPI document shared by the resources: the schemas of
//! the stored enums (from their `ALL` lists, so they cannot drift), the
//! problem body, and UTC timestamps as RFC 3339.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::db::{Channel, InstanceStatus, InstitutionStatus, MessageKind, Priority, TicketStatus};
use crate::error::{AppError, AppResult};

macro_rules! text_enum_schema {
    ($($t:ident),+ $(,)?) => {$(
        impl utoipa::PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some($t::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }
        impl utoipa::ToSchema for $t {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($t))
            }
        }
    )+};
}

text_enum_schema!(TicketStatus, Priority, Channel, MessageKind, InstitutionStatus, InstanceStatus);

/// An RFC 9457 problem (`application/problem+json`), as every error is answered.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// Stable problem type, e.g. `urn:tusk:problem:invalid-input`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// A stored UTC time as sent: RFC 3339 with `Z`.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Parses an RFC 3339 timestamp from a query parameter into UTC.
pub fn parse_time(name: &str, value: Option<&str>) -> AppResult<Option<NaiveDateTime>> {
    match value.map(str::trim) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(crate::db::truncate_micros(t.naive_utc())))
            .map_err(|_| AppError::invalid(format!("{name} must be an RFC 3339 timestamp, e.g. 2026-01-31T09:00:00Z"))),
    }
}

/// Parses a comma-separated list of enum values (`open,pending`).
pub fn parse_list<T>(name: &str, value: Option<&str>) -> AppResult<Vec<T>>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(part.parse::<T>().map_err(|e| AppError::invalid(format!("{name}: {e}")))?);
    }
    if out.is_empty() {
        return Err(AppError::invalid(format!("{name}: give at least one value, or leave the parameter out")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_times_parse() {
        assert_eq!(
            parse_list::<TicketStatus>("status", Some("open, pending,")).unwrap(),
            vec![TicketStatus::Open, TicketStatus::Pending]
        );
        assert!(parse_list::<TicketStatus>("status", Some("open,shut")).is_err());
        let t = parse_time("from", Some("2026-01-31T10:00:00+01:00")).unwrap().unwrap();
        assert_eq!(t.to_string(), "2026-01-31 09:00:00");
        assert!(parse_time("from", Some("yesterday")).is_err());
        assert_eq!(parse_time("from", None).unwrap(), None);
        assert!(parse_time("from", Some("")).is_err(), "present but empty is refused");
        assert!(parse_list::<TicketStatus>("status", Some(",")).is_err());
    }
}
