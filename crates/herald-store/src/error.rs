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
    /// The transaction a write shared with others (SQLite group commit)
    /// failed to commit; the write was not committed.
    #[error("the commit failed: {0}")]
    Commit(String),
    /// A SQLite write decided on a copy of the settings (the versions of
    /// the security roles…) that changed before it took the writer
    /// connection (`group`); nothing of it ran. Run it again alone.
    #[error("the settings changed while the write was prepared; run it again")]
    SettingsChanged,
    #[error("unsupported database URL '{0}': use sqlite://path or postgres://…")]
    UnsupportedUrl(String),
    /// A stored secret that the keyring cannot open (`at` names the row
    /// and column), or several (`at` counts them).
    #[error("{at}: {source}")]
    Secret {
        at: String,
        source: crate::secrets::SecretError,
    },
    /// What a sweep of the stored secrets found it cannot open: the first
    /// value (table, row, column and why), and how many more.
    #[error("secret key does not decrypt the stored secrets: {0}")]
    SecretsUndecryptable(String),
}

impl StoreError {
    /// The database's message when PostgreSQL refused a value with a data
    /// exception (SQLSTATE class 22: text it cannot store, a number out of
    /// range, a malformed LIKE pattern…). The input is at fault, not the
    /// server, so the API answers 400; SQLite has no such class.
    pub fn data_exception(&self) -> Option<&str> {
        let StoreError::Database(sqlx::Error::Database(db)) = self else {
            return None;
        };
        db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .filter(|pg| pg.code().starts_with("22"))
            .map(|pg| pg.message())
    }

    /// Map a unique-constraint violation to `Duplicate`.
    /// PostgreSQL gave up waiting for a row lock (`lock_timeout`, 55P03) or
    /// chose this statement as a deadlock's victim (40P01). A grouped write
    /// (`pg_group`) fails so instead of stalling its group; nothing of it
    /// was committed, and it may be run again in a transaction of its own.
    ///
    /// Also true of [`StoreError::SettingsChanged`], which the caller
    /// answers the same way.
    pub fn is_lock_conflict(&self) -> bool {
        match self {
            StoreError::SettingsChanged => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("55P03") | Some("40P01"))
            }
            _ => false,
        }
    }

    pub(crate) fn from_write(err: sqlx::Error, id: &str) -> StoreError {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Duplicate(id.to_string());
            }
        }
        StoreError::Database(err)
    }
}
