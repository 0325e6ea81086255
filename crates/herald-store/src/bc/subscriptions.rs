//! Subscriptions (`herald_bc_subscription`): created under a cap, read
//! (live ones only, for the API), renewed only at the version the client
//! saw, and deleted with whatever they were still to be sent when they
//! expire or their URL is given up on.

use uuid::Uuid;

use super::{guid, i, in_list, opt_s, out, s};
use crate::conn::Conn;
use crate::error::StoreError;
use crate::record::Record;
use crate::secrets::{self, Keyring};
use crate::sql::{OutputColumn, Param, Sql};
use crate::{Dialect, Store, Tx};

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct BcSubscription {
    pub id: String,
    pub notification_url: String,
    /// The resource as the subscriber wrote it.
    pub resource: String,
    /// The table behind the resource (`bc_customer`).
    pub table: String,
    pub company_id: Uuid,
    /// API version of the resource (`v1.0` or `v2.0`).
    pub api_version: String,
    pub user_id: Uuid,
    pub client_state: Option<String>,
    pub expires_ms: i64,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Bumped on every change; the `@odata.etag`.
    pub version: i64,
}

pub(super) const SUB_COLUMNS: &str = "s.subscriptionid, s.notificationurl, s.resource, s.tablename, s.companyid, s.apiversion, s.userid, s.clientstate, s.expires, s.createdon, s.modifiedon, s.version";

pub(super) fn sub_columns() -> Vec<OutputColumn> {
    out(&[
        ("subscriptionid", false),
        ("notificationurl", false),
        ("resource", false),
        ("tablename", false),
        ("companyid", false),
        ("apiversion", false),
        ("userid", false),
        ("clientstate", false),
        ("expires", true),
        ("createdon", true),
        ("modifiedon", true),
        ("version", true),
    ])
}

/// A subscription from its row, its `clientState` opened with `keys`.
pub(super) fn sub_from(r: &Record, keys: Option<&Keyring>) -> Result<BcSubscription, StoreError> {
    let client_state = opt_s(r, "clientstate")
        .map(|stored| {
            secrets::open(keys, secrets::BC_CLIENT_STATE, &stored).map_err(|source| {
                StoreError::Secret {
                    at: format!(
                        "{} of subscription {}",
                        secrets::BC_CLIENT_STATE,
                        s(r, "subscriptionid")
                    ),
                    source,
                }
            })
        })
        .transpose()?;
    Ok(BcSubscription {
        id: s(r, "subscriptionid"),
        notification_url: s(r, "notificationurl"),
        resource: s(r, "resource"),
        table: s(r, "tablename"),
        company_id: guid(r, "companyid"),
        api_version: s(r, "apiversion"),
        user_id: guid(r, "userid"),
        client_state,
        expires_ms: i(r, "expires"),
        created_ms: i(r, "createdon"),
        modified_ms: i(r, "modifiedon"),
        version: i(r, "version"),
    })
}

impl Conn<'_> {
    pub(super) async fn bc_delete_subscriptions(
        &mut self,
        ids: &[String],
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        for chunk in ids.chunks(500) {
            let mut sql = Sql::default();
            sql.push("DELETE FROM herald_bc_notification WHERE subscriptionid IN ");
            in_list(&mut sql, chunk);
            self.execute(&sql).await?;
            let mut sql = Sql::default();
            sql.push("DELETE FROM herald_bc_subscription WHERE subscriptionid IN ");
            in_list(&mut sql, chunk);
            n += self.execute(&sql).await?;
        }
        Ok(n)
    }

    async fn bc_subscriptions_where(
        &mut self,
        sql: &Sql,
        keys: Option<&Keyring>,
    ) -> Result<Vec<BcSubscription>, StoreError> {
        self.fetch_columns(sql, &sub_columns())
            .await?
            .iter()
            .map(|r| sub_from(r, keys))
            .collect()
    }
}

impl Tx {
    /// Whether any subscription watches `table` of `company`.
    pub async fn bc_stream_subscribed(
        &mut self,
        table: &str,
        company: Uuid,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) FROM herald_bc_subscription WHERE tablename = ")
            .bind(Param::text(table))
            .push(" AND companyid = ")
            .bind(Param::text(company));
        Ok(self.conn().await?.fetch_i64(&sql).await?.unwrap_or(0) > 0)
    }

    /// The subscriptions watching one stream.
    pub async fn bc_stream_subscriptions(
        &mut self,
        table: &str,
        company: Uuid,
    ) -> Result<Vec<BcSubscription>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT ")
            .push(SUB_COLUMNS)
            .push(" FROM herald_bc_subscription s WHERE s.tablename = ")
            .bind(Param::text(table))
            .push(" AND s.companyid = ")
            .bind(Param::text(company))
            .push(" ORDER BY s.createdon, s.subscriptionid");
        let keys = self.keyring.clone();
        self.conn()
            .await?
            .bc_subscriptions_where(&sql, keys.as_deref())
            .await
    }
}

impl Store {
    /// Store a new subscription unless `max` unexpired ones (at
    /// `sub.created_ms`) already exist; false when full.
    pub async fn bc_insert_subscription(
        &self,
        sub: &BcSubscription,
        max: usize,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        if self.dialect() == Dialect::Postgres {
            // Nodes creating subscriptions at once must not overshoot the cap.
            tx.conn()
                .await?
                .execute_raw("SELECT pg_advisory_xact_lock(7368101)")
                .await?;
        }
        // Subscriptions already expired at the new one's creation do not
        // count, even if the notifier has not removed them yet.
        let mut live = Sql::default();
        live.push("SELECT COUNT(*) FROM herald_bc_subscription WHERE expires > ")
            .bind(Param::int(sub.created_ms));
        let count = tx.conn().await?.fetch_i64(&live).await?.unwrap_or(0);
        if count >= max as i64 {
            return Ok(false);
        }
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bc_subscription (subscriptionid, notificationurl, resource, tablename, companyid, apiversion, userid, clientstate, expires, createdon, modifiedon, version) VALUES (")
            .bind_list([
                Param::text(&sub.id),
                Param::text(&sub.notification_url),
                Param::text(&sub.resource),
                Param::text(&sub.table),
                Param::text(sub.company_id),
                Param::text(&sub.api_version),
                Param::text(sub.user_id),
                Param::Text(
                    sub.client_state
                        .as_deref()
                        .map(|c| secrets::seal(self.keyring.as_deref(), secrets::BC_CLIENT_STATE, c)),
                ),
                Param::int(sub.expires_ms),
                Param::int(sub.created_ms),
                Param::int(sub.modified_ms),
                Param::int(sub.version),
            ])
            .push(")");
        match tx.conn().await?.execute(&sql).await {
            Ok(_) => {}
            Err(StoreError::Database(e)) => return Err(StoreError::from_write(e, &sub.id)),
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn bc_subscription(&self, id: &str) -> Result<Option<BcSubscription>, StoreError> {
        Ok(self
            .read_subscriptions(Some(id), None)
            .await?
            .into_iter()
            .next())
    }

    /// The subscription `id` unless it expired at or before `now_ms`
    /// (expired ones are gone for the API before the notifier removes them).
    pub async fn bc_live_subscription(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<BcSubscription>, StoreError> {
        Ok(self
            .read_subscriptions(Some(id), Some(now_ms))
            .await?
            .into_iter()
            .next())
    }

    /// The subscriptions not expired at `now_ms`, oldest first.
    pub async fn bc_live_subscriptions(
        &self,
        now_ms: i64,
    ) -> Result<Vec<BcSubscription>, StoreError> {
        self.read_subscriptions(None, Some(now_ms)).await
    }

    /// Subscriptions, oldest first: only `id` when given, only those not
    /// expired at `live_at` when given.
    async fn read_subscriptions(
        &self,
        id: Option<&str>,
        live_at: Option<i64>,
    ) -> Result<Vec<BcSubscription>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT ")
            .push(SUB_COLUMNS)
            .push(" FROM herald_bc_subscription s WHERE 1 = 1");
        if let Some(id) = id {
            sql.push(" AND s.subscriptionid = ").bind(Param::text(id));
        }
        if let Some(now_ms) = live_at {
            sql.push(" AND s.expires > ").bind(Param::int(now_ms));
        }
        sql.push(" ORDER BY s.createdon, s.subscriptionid");
        self.bc_read(&sql, &sub_columns())
            .await?
            .iter()
            .map(|r| sub_from(r, self.keyring.as_deref()))
            .collect()
    }

    /// How many subscriptions are not expired at `now_ms`.
    pub async fn bc_count_live_subscriptions(&self, now_ms: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) AS n FROM herald_bc_subscription WHERE expires > ")
            .bind(Param::int(now_ms));
        self.bc_count(&sql).await
    }

    /// Every subscription, expired or not, oldest first.
    pub async fn bc_subscriptions(&self) -> Result<Vec<BcSubscription>, StoreError> {
        self.read_subscriptions(None, None).await
    }

    /// Renew (PATCH): only if the subscription still has `expected_version`
    /// and has not expired by `now_ms`. Returns the renewed subscription, or
    /// None when it is gone, expired or changed.
    pub async fn bc_renew_subscription(
        &self,
        id: &str,
        expected_version: i64,
        notification_url: &str,
        client_state: Option<&str>,
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<Option<BcSubscription>, StoreError> {
        let mut sql = Sql::default();
        sql.push("UPDATE herald_bc_subscription SET notificationurl = ")
            .bind(Param::text(notification_url))
            .push(", clientstate = ")
            .bind(Param::Text(client_state.map(|c| {
                secrets::seal(self.keyring.as_deref(), secrets::BC_CLIENT_STATE, c)
            })))
            .push(", expires = ")
            .bind(Param::int(expires_ms))
            .push(", modifiedon = ")
            .bind(Param::int(now_ms))
            .push(", version = version + 1 WHERE subscriptionid = ")
            .bind(Param::text(id))
            .push(" AND version = ")
            .bind(Param::int(expected_version))
            .push(" AND expires > ")
            .bind(Param::int(now_ms));
        let mut tx = self.begin().await?;
        let n = tx.conn().await?.execute(&sql).await?;
        tx.commit().await?;
        if n == 0 {
            return Ok(None);
        }
        self.bc_subscription(id).await
    }

    /// Delete subscriptions and whatever they were still to be sent.
    pub async fn bc_delete_subscriptions(&self, ids: &[String]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let n = tx.conn().await?.bc_delete_subscriptions(ids).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Remove subscriptions that expired at or before `now_ms`; returns their ids.
    pub async fn bc_expire(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT subscriptionid FROM herald_bc_subscription WHERE expires <= ")
            .bind(Param::int(now_ms));
        let ids: Vec<String> = self
            .bc_read(&sql, &out(&[("subscriptionid", false)]))
            .await?
            .iter()
            .map(|r| s(r, "subscriptionid"))
            .collect();
        self.bc_delete_subscriptions(&ids).await?;
        Ok(ids)
    }
}
