//! Typed ids and text-backed enums that map to portable SQL types on every
//! backend (`BigInt` and `Text`), through two small macros.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{BigInt, Text};

/// Error for a text value that names no variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}` (expected one of: {expected})")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow, serde::Serialize, serde::Deserialize,
        )]
        #[diesel(sql_type = BigInt)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<DB> ToSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB> FromSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                i64::from_sql(bytes).map($name)
            }
        }
    )+};
}

typed_id! {
    /// An institution (customer organisation).
    InstitutionId;
    /// A hosted Mastodon instance.
    InstanceId;
    /// A customer person.
    ContactId;
    /// A staff member.
    AgentId;
    /// A ticket's internal id (not its public number).
    TicketId;
    /// A thread entry.
    MessageId;
    /// A stored attachment.
    AttachmentId;
    /// An audit event.
    EventId;
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident ($label:literal) { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow, serde::Serialize, serde::Deserialize,
        )]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and displayed text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant {
                        kind: $label,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse::<$name>().map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            }
        }
    };
}

text_enum! {
    /// Where a ticket stands. `pending` waits on the customer.
    TicketStatus ("ticket status") {
        New => "new",
        Open => "open",
        Pending => "pending",
        OnHold => "on_hold",
        Solved => "solved",
        Closed => "closed",
    }
}

impl TicketStatus {
    /// Solved and closed tickets need no more work.
    pub fn is_done(self) -> bool {
        matches!(self, TicketStatus::Solved | TicketStatus::Closed)
    }
}

text_enum! {
    /// How urgent a ticket is.
    Priority ("priority") {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
}

text_enum! {
    /// How a ticket reached Tusk.
    Channel ("channel") {
        Email => "email",
        Web => "web",
        Api => "api",
    }
}

text_enum! {
    /// The kind of a thread entry.
    MessageKind ("message kind") {
        Inbound => "inbound",
        Reply => "reply",
        Note => "note",
    }
}

text_enum! {
    /// What a staff member may do; each role includes the ones before it.
    Role ("role") {
        Agent => "agent",
        Manager => "manager",
        Admin => "admin",
    }
}

text_enum! {
    /// Whether an institution is a current customer.
    InstitutionStatus ("institution status") {
        Active => "active",
        Inactive => "inactive",
    }
}

text_enum! {
    /// Life cycle of a hosted instance.
    InstanceStatus ("instance status") {
        Provisioning => "provisioning",
        Active => "active",
        Suspended => "suspended",
        Decommissioned => "decommissioned",
    }
}

text_enum! {
    /// Who made a change recorded as an event.
    ActorKind ("actor kind") {
        System => "system",
        Agent => "agent",
        Contact => "contact",
        Api => "api",
    }
}

text_enum! {
    /// Delivery state of an outgoing email.
    MailState ("mail state") {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
    }
}

text_enum! {
    /// What the search indexer must do with an entity.
    SearchOp ("search operation") {
        Upsert => "upsert",
        Delete => "delete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_text() {
        for s in TicketStatus::ALL {
            assert_eq!(s.as_str().parse::<TicketStatus>().unwrap(), *s);
        }
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>().unwrap(), *r);
        }
        let e = "urgentest".parse::<Priority>().unwrap_err();
        assert_eq!(e.to_string(), "unknown priority `urgentest` (expected one of: low, normal, high, urgent)");
    }

    #[test]
    fn serde_uses_stored_text() {
        assert_eq!(serde_json::to_string(&TicketStatus::OnHold).unwrap(), "\"on_hold\"");
        assert_eq!(serde_json::from_str::<Priority>("\"high\"").unwrap(), Priority::High);
        assert_eq!(serde_json::to_string(&TicketId(7)).unwrap(), "7");
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin > Role::Manager && Role::Manager > Role::Agent);
    }
}
