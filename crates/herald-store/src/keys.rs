//! API keys: each key (kept only as its SHA-256 hash) acts as one
//! systemuser. The admin key is created at first start; more are added with
//! `herald key add` (`POST /api/herald/keys`) and removed with `herald key
//! remove` (`DELETE /api/herald/keys/<id|name>`).
//!
//! Nothing caches a key: every request (and every console page) looks its
//! hash up in the store, so a removed key is refused at once, by every node
//! of a PostgreSQL deployment.

use sqlx::Row;
use uuid::Uuid;

use crate::bins::{rows, uuid};
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::{Backend, Store};

/// Hex digits of the hash that make a key's id.
pub const ID_LEN: usize = 12;

/// One registered key, without the key itself (herald never keeps it).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// The key's SHA-256 hash (hex), what the store keeps.
    pub keyhash: String,
    pub name: String,
    pub user: Uuid,
    pub created_ms: i64,
}

impl ApiKey {
    /// The id the key is listed and removed by: the first [`ID_LEN`] hex
    /// digits of its hash (which tell nothing about the key itself).
    pub fn id(&self) -> &str {
        self.keyhash.get(..ID_LEN).unwrap_or(&self.keyhash)
    }
}

impl Store {
    /// Every API key, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let sql = Sql {
            text:
                "SELECT keyhash, name, systemuserid, createdon FROM herald_apikey ORDER BY createdon, name, keyhash"
                    .into(),
            params: vec![],
        };
        Ok(rows!(self, &sql, |r| ApiKey {
            keyhash: r.try_get(0)?,
            name: r.try_get(1)?,
            user: uuid(r.try_get(2)?)?,
            created_ms: r.try_get(3)?,
        }))
    }

    /// Remove the key with this hash; whether there was one. The key is
    /// refused from the next request on.
    pub async fn remove_api_key(&self, keyhash: &str) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_apikey WHERE keyhash = ")
            .bind(Param::Text(Some(keyhash.to_string())));
        let mut tx = self.begin().await?;
        let n = tx.conn().await?.execute(&sql).await?;
        tx.commit().await?;
        Ok(n > 0)
    }
}
