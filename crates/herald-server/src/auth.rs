//! API keys: `Authorization: Bearer <key>`. Keys are stored as SHA-256
//! hashes, each mapped to the systemuser it acts as; a key whose user is
//! disabled (`isdisabled`) is refused like an invalid one, with a message
//! that says why.

use axum::http::HeaderMap;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::state::AppState;

/// Who is calling: the systemuser behind the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
}

pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random key: `hk_` and 40 alphanumeric characters.
pub fn generate_key() -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("hk_{body}")
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(token.trim())
    } else {
        None
    }
}

pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let key = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized("Missing API key: send 'Authorization: Bearer <key>' (the admin key is printed at first start and kept in <data-dir>/admin.key)")
    })?;
    match state.store.api_key_caller(&hash_key(key)).await? {
        Some(k) if k.disabled => Err(ApiError::unauthorized(format!(
            "The user {} this API key acts as is disabled (systemuser.isdisabled); an administrator can enable it again",
            k.user_id
        ))),
        Some(k) => Ok(Caller { user_id: k.user_id }),
        None => Err(ApiError::unauthorized("The API key is not valid")),
    }
}
