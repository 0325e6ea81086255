//! API keys: `Authorization: Bearer <key>`. Keys are stored as SHA-256
//! hashes, each mapped to the systemuser it acts as; a key whose user is
//! disabled (`isdisabled`) is refused like an invalid one, with a message
//! that says why. A caller carries its user's privileges (its security
//! roles, cached per user by `crate::security::GrantCache`).

use std::sync::Arc;

use axum::http::HeaderMap;
use herald_core::security::Grants;
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::error::ApiError;
use crate::security::Reader;
use crate::state::AppState;

/// Who is calling: the systemuser behind the key, with its privileges.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub grants: Arc<Grants>,
}

impl Caller {
    /// The store's reads as this caller may make them.
    pub fn reader<'a>(&'a self, state: &'a AppState) -> Reader<'a> {
        Reader::new(&state.store, state.schema(), &self.grants)
    }

    /// Refuse anyone but a System Administrator (user, role and key
    /// management), with Dataverse's missing-privilege error.
    pub fn require_system_administrator(&self, privilege: &str) -> Result<(), ApiError> {
        if self.grants.is_system_administrator() {
            return Ok(());
        }
        Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            crate::api::error::codes::FORBIDDEN,
            format!(
                "Principal user (Id={}, type=8, roleCount={}, privilegeCount={}, accessMode=0), is missing {privilege} privilege (Id={}): only a System Administrator (as the admin key is) may do this",
                self.user_id,
                self.grants.roles.len(),
                self.grants.privilege_count(),
                herald_core::fixed_ids::privilege_id(privilege),
            ),
        ))
    }
}

pub fn hash_key(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    hex
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
        Some(k) => Ok(Caller {
            user_id: k.user_id,
            grants: state
                .security
                .for_request(&state.store, k.user_id, &k.security_version)
                .await?,
        }),
        None => Err(ApiError::unauthorized("The API key is not valid")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_is_stored_as_its_sha256_in_lowercase_hex() {
        assert_eq!(
            super::hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
