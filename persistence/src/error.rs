use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What can go wrong below the API. The API decides what a client sees; these messages are
/// for logs and for the operator at start-up.
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// The row asked for does not exist (or is not visible to the caller's scope).
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key rule refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row changed since the writer read it (its [`crate::Expected`] fingerprint no
    /// longer holds): nothing was written.
    #[error("changed since it was read")]
    Stale,
    /// No connection could be had from the pool in time: the database is down or saturated.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database URL is not one we can serve.
    #[error("{0}")]
    InvalidUrl(String),
    /// Connecting failed; the driver's own message is kept for the operator.
    #[error("cannot connect to {target}: {cause}")]
    Connect { target: String, cause: String },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Query(DieselError),
}

impl From<DieselError> for PersistenceError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(
                kind
                @ (DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::ForeignKeyViolation),
                info,
            ) => Self::Conflict(format!("{kind:?}: {}", info.message())),
            other => Self::Query(other),
        }
    }
}

impl From<r2d2::Error> for PersistenceError {
    fn from(err: r2d2::Error) -> Self {
        Self::Unavailable(err.to_string())
    }
}
