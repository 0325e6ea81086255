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

use crate::conn::{conn_rows, Conn};
use crate::error::StoreError;
use crate::read::{on_reader, rows, uuid};
use crate::sql::{Param, Sql};
use crate::{Store, Tx};

/// The keys table: each key's hash and the systemuser it acts as.
pub(crate) const DDL: &[&str] = &["CREATE TABLE IF NOT EXISTS herald_apikey (
        keyhash TEXT PRIMARY KEY,
        systemuserid TEXT NOT NULL,
        name TEXT NOT NULL,
        createdon BIGINT NOT NULL
    )"];

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

/// The user a key acts as, whether that user is disabled
/// (`systemuser.isdisabled`) and the current version of the security roles
/// (see [`crate::security`]), read with the key in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUser {
    pub user_id: Uuid,
    pub disabled: bool,
    pub security_version: String,
}

impl Store {
    /// The systemuser behind an API key hash, if any.
    pub async fn api_key_user(&self, keyhash: &str) -> Result<Option<Uuid>, StoreError> {
        Ok(self.api_key_caller(keyhash).await?.map(|k| k.user_id))
    }

    /// The user behind a key and whether it is disabled; `None` for an
    /// unknown key.
    ///
    /// On SQLite from memory while nothing it reads has changed since
    /// (see [`crate::credentials`]).
    pub async fn api_key_caller(&self, keyhash: &str) -> Result<Option<KeyUser>, StoreError> {
        if !matches!(self.backend, crate::Backend::Sqlite { .. }) {
            return on_reader!(self, |c| c.api_key_caller(keyhash).await);
        }
        if let Some(known) = self.credentials.cached(keyhash) {
            return Ok(Some(known));
        }
        let epoch = self.credentials.epoch();
        let found = on_reader!(self, |c| c.api_key_caller(keyhash).await)?;
        if let Some(user) = &found {
            self.credentials.keep(keyhash, epoch, user);
        }
        Ok(found)
    }

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
        let mut tx = self.begin().await?;
        let removed = tx.remove_api_key(keyhash).await?;
        tx.commit().await?;
        Ok(removed)
    }
}

impl Tx {
    /// Remove the key with this hash inside the transaction; whether there
    /// was one.
    pub async fn remove_api_key(&mut self, keyhash: &str) -> Result<bool, StoreError> {
        self.credentials_changed();
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_apikey WHERE keyhash = ")
            .bind(Param::Text(Some(keyhash.to_string())));
        Ok(self.conn().await?.execute(&sql).await? > 0)
    }

    /// Every user some API key acts as.
    pub async fn api_key_users(&mut self) -> Result<Vec<Uuid>, StoreError> {
        let sql = Sql {
            text: "SELECT DISTINCT systemuserid FROM herald_apikey ORDER BY systemuserid".into(),
            params: vec![],
        };
        let mut conn = self.conn().await?;
        Ok(conn_rows!(&mut conn, &sql, |r| uuid(r.try_get(0)?)?))
    }

    pub async fn put_api_key(
        &mut self,
        keyhash: &str,
        user: Uuid,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.credentials_changed();
        self.conn()
            .await?
            .put_api_key(keyhash, user, name, now_ms)
            .await
    }
}

impl Conn<'_> {
    pub async fn api_key_caller(&mut self, keyhash: &str) -> Result<Option<KeyUser>, StoreError> {
        let mut sql = Sql::default();
        sql.push(
            "SELECT k.systemuserid, u.isdisabled, \
             (SELECT s.value FROM herald_setting s WHERE s.name = ",
        )
        .bind(Param::Text(Some(
            crate::security::VERSION_SETTING.to_string(),
        )))
        .push(
            ") FROM herald_apikey k \
             LEFT JOIN \"systemuser\" u ON u.\"systemuserid\" = k.systemuserid WHERE k.keyhash = ",
        )
        .bind(Param::Text(Some(keyhash.to_string())));
        let found = conn_rows!(self, &sql, |r| KeyUser {
            user_id: uuid(r.try_get(0)?)?,
            disabled: r.try_get::<Option<bool>, _>(1)?.unwrap_or(false),
            security_version: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
        });
        Ok(found.into_iter().next())
    }

    pub async fn put_api_key(
        &mut self,
        keyhash: &str,
        user: Uuid,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_apikey (keyhash, systemuserid, name, createdon) VALUES (")
            .bind(Param::Text(Some(keyhash.to_string())))
            .push(", ")
            .bind(Param::Text(Some(user.to_string())))
            .push(", ")
            .bind(Param::Text(Some(name.to_string())))
            .push(", ")
            .bind(Param::Int(Some(now_ms)))
            .push(") ON CONFLICT (keyhash) DO NOTHING");
        self.execute(&sql).await.map(|_| ())
    }
}
