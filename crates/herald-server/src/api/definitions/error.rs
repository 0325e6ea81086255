//! What can go wrong reading table definitions, and how each maps to an
//! OData error (the only place this module meets HTTP).

use axum::http::StatusCode;
use herald_core::QueryError;
use thiserror::Error;

use crate::api::error::{codes, ApiError};

#[derive(Debug, Error)]
pub enum DefinitionError {
    /// No table, column, relationship, key or option set by that name or id.
    #[error("{0}")]
    NotFound(String),
    /// A path or option herald understands but the request gets wrong.
    #[error("{0}")]
    Invalid(String),
    /// A query option or path segment herald's metadata API does not offer.
    #[error("{0}")]
    Unsupported(String),
    /// `$select` or `$filter` that does not parse or bind.
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl From<DefinitionError> for ApiError {
    fn from(e: DefinitionError) -> Self {
        let message = e.to_string();
        match e {
            DefinitionError::NotFound(_) => ApiError::not_found(message),
            DefinitionError::Invalid(_) | DefinitionError::Query(_) => {
                ApiError::bad_request(message)
            }
            DefinitionError::Unsupported(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, codes::UNSUPPORTED, message)
            }
        }
    }
}

pub type DefinitionResult<T> = Result<T, DefinitionError>;

/// A schema change refused or failed, as an OData error: a missing table
/// or column is `404`; a name taken `400` with Dataverse's duplicate code;
/// a built-in table or column, or one something still depends on, `400`
/// with the invalid-argument code.
pub fn change_error(e: crate::tables::TableChangeError) -> ApiError {
    use herald_core::schema::ChangeError;
    match e {
        crate::tables::TableChangeError::Store(e) => e.into(),
        crate::tables::TableChangeError::Change(e) => {
            let message = e.to_string();
            match e {
                ChangeError::NotFound(_) => ApiError::not_found(message),
                ChangeError::Duplicate(_) => {
                    ApiError::new(StatusCode::BAD_REQUEST, codes::DUPLICATE, message)
                }
                ChangeError::NotCustom(_) | ChangeError::InUse(_) | ChangeError::Invalid(_) => {
                    ApiError::invalid(message)
                }
            }
        }
    }
}
