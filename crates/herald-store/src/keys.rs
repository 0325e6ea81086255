//! API keys: each key (kept only as its SHA-256 hash) acts as one
//! systemuser. The admin key is created at first start; more are added with
//! `herald key add` (`POST /api/herald/keys`).

use sqlx::Row;
use uuid::Uuid;

use crate::error::StoreError;
use crate::sql::Sql;
use crate::{Backend, Store};

/// One registered key, without the key itself (herald never keeps it).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub name: String,
    pub user: Uuid,
    pub created_ms: i64,
}

fn key_of(name: String, user: String, created_ms: i64) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        name,
        user: Uuid::parse_str(&user).map_err(|e| StoreError::Invalid(e.to_string()))?,
        created_ms,
    })
}

impl Store {
    /// Every API key, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let sql = Sql {
            text:
                "SELECT name, systemuserid, createdon FROM herald_apikey ORDER BY createdon, name"
                    .into(),
            params: vec![],
        };
        let mut out = Vec::new();
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                for r in crate::conn::bound_query(&sql).fetch_all(reader).await? {
                    out.push(key_of(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)?);
                }
            }
            Backend::Postgres(p) => {
                for r in crate::conn::bound_query(&sql).fetch_all(p).await? {
                    out.push(key_of(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)?);
                }
            }
        }
        Ok(out)
    }
}
