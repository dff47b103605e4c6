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
    /// The caller may do this kind of thing but not to this record (首接负责: another
    /// officer's case). The message names why.
    #[error("forbidden: {code}")]
    Forbidden { code: &'static str, message: String },
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
    /// Someone else changed `what` since it was read: the optimistic version check lost.
    /// The message says what changed and what to do, in the page's words.
    pub fn version_conflict(what: &str) -> StoreError {
        StoreError::Conflict {
            code: "version_conflict",
            message: format!("{what}已被他人修改，请刷新后查看最新内容再操作"),
        }
    }

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

/// The end of an optimistic write (`UPDATE … WHERE id = $n AND version = $m`): the one row
/// changed, or `version_conflict` naming `what` when another request changed it first —
/// and the caller's transaction, rolled back by the error, writes nothing.
pub fn optimistic(rows_changed: u64, what: &str) -> Result<(), StoreError> {
    if rows_changed == 0 {
        Err(StoreError::version_conflict(what))
    } else {
        Ok(())
    }
}
