//! The storage error: not found, conflicts the caller can explain, or the database failing.

use onewindow_domain::validation::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// Someone else changed the row first (optimistic version check) or a unique key clashed.
    #[error("conflict: {code}")]
    Conflict { code: &'static str, message: String },
    /// Input that is well-formed but breaks a rule only the data can check (a parent that
    /// cannot hold this child, a duplicate username).
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The shared commit of a write batch failed (SQLite group commit): nothing of this
    /// request was acknowledged or kept.
    #[error("commit failed: {0}")]
    CommitFailed(String),
}

impl StoreError {
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> StoreError {
        let mut e = FieldErrors::new();
        e.add(field, code, message);
        StoreError::Invalid(e)
    }

    /// True when the database refused a duplicate key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(d))
            if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
    }
}
