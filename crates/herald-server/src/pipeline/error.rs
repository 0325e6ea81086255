//! Why a write was refused or failed, in the pipeline's own terms. The
//! pipeline knows nothing of HTTP: the Web API (`api/error.rs`) and the
//! Business Central API (`bc/errors.rs`) each map these variants to their
//! status codes and error bodies, and callers match on variants, never on
//! status codes.

use herald_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The request names something the server does not have (an unknown
    /// table).
    #[error("{0}")]
    Unknown(String),
    /// A value breaks a rule of the table or of the registration tables.
    #[error("{0}")]
    Invalid(String),
    /// The body names a column that does not exist, sets one the server
    /// maintains, leaves out a required one, or points a lookup nowhere.
    #[error("{0}")]
    InvalidPayload(String),
    /// The row to update or delete does not exist.
    #[error("{table} With Id = {id} Does Not Exist")]
    NotFound { table: String, id: String },
    /// A row with the same key (or unique name) already exists.
    #[error("{0}")]
    Duplicate(String),
    /// `If-Match` named another version of the row.
    #[error("{0}")]
    Precondition(String),
    /// The write happens too deep inside one correlation (a webhook that
    /// writes back, whose write calls it again, …).
    #[error("This write was refused to prevent an infinite loop: depth {depth} exceeds the maximum of {max} within one correlation")]
    LoopDetected { depth: i64, max: i64 },
    /// A synchronous step's webhook could not be called or did not answer
    /// 2xx; the write was rolled back.
    #[error(
        "Endpoint unavailable: the webhook '{name}' ({url}) {why}. The operation was rolled back."
    )]
    EndpointUnavailable {
        name: String,
        url: String,
        why: String,
    },
    /// The table is maintained by herald alone, or the row is protected.
    #[error("{0}")]
    Forbidden(String),
    /// The caller's security roles lack a privilege the write needs.
    #[error("{0}")]
    MissingPrivilege(herald_core::security::Missing),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug: something herald itself set up is missing.
    #[error("{0}")]
    Internal(String),
}

impl PipelineError {
    pub fn invalid(message: impl Into<String>) -> PipelineError {
        PipelineError::Invalid(message.into())
    }

    pub fn payload(message: impl Into<String>) -> PipelineError {
        PipelineError::InvalidPayload(message.into())
    }

    pub fn internal(message: impl Into<String>) -> PipelineError {
        PipelineError::Internal(message.into())
    }

    pub fn not_found(table: &str, id: impl std::fmt::Display) -> PipelineError {
        PipelineError::NotFound {
            table: table.to_string(),
            id: id.to_string(),
        }
    }

    /// A write refused because the row's current state differs from what
    /// the caller assumed: a stale `If-Match`, `If-None-Match: *` on an
    /// existing row, or a duplicate key (Business Central answers all of
    /// them as "the entity changed").
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            PipelineError::Precondition(_)
                | PipelineError::Duplicate(_)
                | PipelineError::Store(StoreError::Duplicate(_))
        )
    }
}

pub type PipelineResult<T> = Result<T, PipelineError>;
