//! The one application error type: a kind, a message that is safe to show,
//! and the full cause for the log. `web::errors` maps kinds to HTTP.

use std::fmt;

/// What went wrong, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist (or may not be seen).
    NotFound,
    /// No valid credentials.
    Unauthorized,
    /// Valid credentials, but not allowed.
    Forbidden,
    /// The change contradicts the current state (duplicate, closed ticket…).
    Conflict,
    /// The input is wrong; the message says how.
    Invalid,
    /// The input is too large.
    TooLarge,
    /// The body is not of a type the endpoint reads (not JSON).
    UnsupportedMediaType,
    /// The path exists, but not with this method.
    MethodNotAllowed,
    /// Too many requests.
    RateLimited,
    /// A dependency (database, SMTP, search) is down; retry later.
    Unavailable,
    /// A bug or an unexpected failure; details only in the log.
    Internal,
}

/// An error with a kind, a safe message and an optional cause.
pub struct AppError {
    pub kind: ErrorKind,
    message: String,
    cause: Option<anyhow::Error>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), cause: None }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }
    pub fn unavailable(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Unavailable, message).with_cause(cause)
    }
    /// An unexpected failure; the cause goes to the log only.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Internal, "internal error").with_cause(cause)
    }
    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }
    /// The message that may be shown to users.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The underlying cause, for logs.
    pub fn cause(&self) -> Option<&anyhow::Error> {
        self.cause.as_ref()
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, " (cause: {cause:#})")?;
        }
        Ok(())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match &e {
            E::NotFound => AppError::not_found("not found"),
            E::DatabaseError(K::UniqueViolation, _) => AppError::conflict("already exists").with_cause(e),
            E::DatabaseError(K::ForeignKeyViolation, _) => {
                AppError::invalid("refers to something that does not exist").with_cause(e)
            }
            E::DatabaseError(K::CheckViolation | K::NotNullViolation, _) => {
                AppError::invalid("a value is not allowed").with_cause(e)
            }
            E::DatabaseError(K::SerializationFailure | K::ClosedConnection, _) => {
                AppError::unavailable("the database is busy; try again", e)
            }
            _ => AppError::internal(e),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::unavailable("the database is unavailable", e)
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_hides_nothing_but_message_is_safe() {
        let e = AppError::internal(anyhow::anyhow!("secret detail"));
        assert_eq!(e.message(), "internal error");
        assert!(format!("{e:?}").contains("secret detail"));
    }

    #[test]
    fn diesel_not_found_maps() {
        assert_eq!(AppError::from(diesel::result::Error::NotFound).kind, ErrorKind::NotFound);
    }
}
