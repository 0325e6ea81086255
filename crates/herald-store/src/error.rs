//! Errors at the store's edge.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a record with id {0} already exists")]
    Duplicate(String),
    #[error("{0}")]
    Invalid(String),
    #[error("unsupported database URL '{0}': use sqlite://path or postgres://…")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Map a unique-constraint violation to `Duplicate`.
    pub(crate) fn from_write(err: sqlx::Error, id: &str) -> StoreError {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Duplicate(id.to_string());
            }
        }
        StoreError::Database(err)
    }
}
