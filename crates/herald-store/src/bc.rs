//! Business Central webhook bookkeeping (SPEC §5), in four internal tables:
//!
//! - `herald_bc_subscription`: the subscriptions (`POST /api/v2.0/subscriptions`).
//! - `herald_bc_change`: one row per write to a subscribed BC table, inserted
//!   in the write's own transaction (the outbox), so a change committed is a
//!   change notified, restarts included.
//! - `herald_bc_notification`: what each subscription is still to be told,
//!   after the delay window coalesced the changes.
//! - `herald_bc_target`: delivery state per notification URL (next attempt,
//!   failures so far, the lease of the node sending to it).
//!
//! Rows are read through [`Conn::fetch_columns`] with synthetic columns, so
//! the SQL is written once for both backends.

use herald_core::schema::{Column, ColumnType};
use uuid::Uuid;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::record::Record;
use crate::sql::{OutputColumn, Param, Sql};
use crate::{Backend, Store, Tx};

/// The DDL of the tables above, run by `migrate.rs`.
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS herald_bc_subscription (
        subscriptionid TEXT PRIMARY KEY,
        notificationurl TEXT NOT NULL,
        resource TEXT NOT NULL,
        tablename TEXT NOT NULL,
        companyid TEXT NOT NULL,
        apiversion TEXT NOT NULL,
        userid TEXT NOT NULL,
        clientstate TEXT,
        expires BIGINT NOT NULL,
        createdon BIGINT NOT NULL,
        modifiedon BIGINT NOT NULL,
        version BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ix_herald_bc_subscription_stream ON herald_bc_subscription (tablename, companyid)",
    "CREATE INDEX IF NOT EXISTS ix_herald_bc_subscription_url ON herald_bc_subscription (notificationurl)",
    "CREATE TABLE IF NOT EXISTS herald_bc_change (
        changeid TEXT PRIMARY KEY,
        tablename TEXT NOT NULL,
        companyid TEXT NOT NULL,
        recordid TEXT NOT NULL,
        changetype TEXT NOT NULL,
        at BIGINT NOT NULL,
        version BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ix_herald_bc_change_stream ON herald_bc_change (tablename, companyid, at)",
    "CREATE TABLE IF NOT EXISTS herald_bc_notification (
        notificationid TEXT PRIMARY KEY,
        subscriptionid TEXT NOT NULL,
        resource TEXT NOT NULL,
        changetype TEXT NOT NULL,
        lastmodified BIGINT NOT NULL,
        createdon BIGINT NOT NULL,
        seq BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ix_herald_bc_notification_sub ON herald_bc_notification (subscriptionid, createdon, seq)",
    "CREATE TABLE IF NOT EXISTS herald_bc_target (
        url TEXT PRIMARY KEY,
        next_attempt BIGINT NOT NULL,
        first_failure BIGINT,
        attempts BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT
    )",
];

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

/// One captured write to a BC table.
#[derive(Debug, Clone, PartialEq)]
pub struct BcChange {
    pub table: String,
    pub company_id: Uuid,
    pub record_id: Uuid,
    /// `created`, `updated` or `deleted`.
    pub change_type: String,
    pub at_ms: i64,
    /// The record's versionnumber after the write: orders one record's
    /// changes within a millisecond.
    pub version: i64,
}

/// A notification waiting to be sent to its subscription's URL.
#[derive(Debug, Clone, PartialEq)]
pub struct BcNotification {
    pub id: String,
    pub subscription_id: String,
    /// The record (or, for `collection`, the filtered collection) it is about.
    pub resource: String,
    pub change_type: String,
    pub last_modified_ms: i64,
    pub created_ms: i64,
    /// Order within the window that produced it.
    pub seq: i64,
}

/// A notification URL a node now holds for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct BcTarget {
    pub url: String,
    /// Failed attempts since the last success.
    pub attempts: i64,
    /// When the first of those failures happened.
    pub first_failure_ms: Option<i64>,
}

fn text(s: impl ToString) -> Param {
    Param::Text(Some(s.to_string()))
}

fn int(i: i64) -> Param {
    Param::Int(Some(i))
}

fn out(specs: &[(&str, bool)]) -> Vec<OutputColumn> {
    specs
        .iter()
        .map(|(name, is_int)| OutputColumn {
            key: name.to_string(),
            column: Column::new(
                name,
                if *is_int {
                    ColumnType::Integer
                } else {
                    ColumnType::String {
                        max_length: usize::MAX,
                    }
                },
            ),
        })
        .collect()
}

fn s(r: &Record, k: &str) -> String {
    r.string(k).unwrap_or_default().to_string()
}

fn opt_s(r: &Record, k: &str) -> Option<String> {
    r.string(k).map(str::to_string)
}

fn i(r: &Record, k: &str) -> i64 {
    r.int(k).unwrap_or(0)
}

fn guid(r: &Record, k: &str) -> Uuid {
    r.string(k)
        .and_then(|s| Uuid::parse_str(s).ok())
        .unwrap_or_default()
}

const SUB_COLUMNS: &str = "s.subscriptionid, s.notificationurl, s.resource, s.tablename, s.companyid, s.apiversion, s.userid, s.clientstate, s.expires, s.createdon, s.modifiedon, s.version";

fn sub_columns() -> Vec<OutputColumn> {
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

fn sub_from(r: &Record) -> BcSubscription {
    BcSubscription {
        id: s(r, "subscriptionid"),
        notification_url: s(r, "notificationurl"),
        resource: s(r, "resource"),
        table: s(r, "tablename"),
        company_id: guid(r, "companyid"),
        api_version: s(r, "apiversion"),
        user_id: guid(r, "userid"),
        client_state: opt_s(r, "clientstate"),
        expires_ms: i(r, "expires"),
        created_ms: i(r, "createdon"),
        modified_ms: i(r, "modifiedon"),
        version: i(r, "version"),
    }
}

/// `($1, $2, …)` over `ids`, bound.
fn in_list(sql: &mut Sql, ids: &[String]) {
    sql.push("(");
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            sql.push(", ");
        }
        sql.bind(text(id));
    }
    sql.push(")");
}

impl Conn<'_> {
    async fn bc_delete_subscriptions(&mut self, ids: &[String]) -> Result<u64, StoreError> {
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
    ) -> Result<Vec<BcSubscription>, StoreError> {
        Ok(self
            .fetch_columns(sql, &sub_columns())
            .await?
            .iter()
            .map(sub_from)
            .collect())
    }
}

/// Inside a write's transaction (capture) and the notifier's window step.
impl Tx {
    /// Whether any subscription watches `table` of `company`.
    pub async fn bc_stream_subscribed(
        &mut self,
        table: &str,
        company: Uuid,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) FROM herald_bc_subscription WHERE tablename = ")
            .bind(text(table))
            .push(" AND companyid = ")
            .bind(text(company));
        Ok(self.conn().await?.fetch_i64(&sql).await?.unwrap_or(0) > 0)
    }

    pub async fn bc_add_change(&mut self, c: &BcChange) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bc_change (changeid, tablename, companyid, recordid, changetype, at, version) VALUES (")
            .bind(text(Uuid::new_v4()))
            .push(", ")
            .bind(text(&c.table))
            .push(", ")
            .bind(text(c.company_id))
            .push(", ")
            .bind(text(c.record_id))
            .push(", ")
            .bind(text(&c.change_type))
            .push(", ")
            .bind(int(c.at_ms))
            .push(", ")
            .bind(int(c.version))
            .push(")");
        self.conn().await?.execute(&sql).await.map(|_| ())
    }

    /// Remove and return the changes of one stream made at or before `upto_ms`.
    pub async fn bc_take_changes(
        &mut self,
        table: &str,
        company: Uuid,
        upto_ms: i64,
    ) -> Result<Vec<BcChange>, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_bc_change WHERE tablename = ")
            .bind(text(table))
            .push(" AND companyid = ")
            .bind(text(company))
            .push(" AND at <= ")
            .bind(int(upto_ms))
            .push(" RETURNING recordid, changetype, at, version");
        let cols = out(&[
            ("recordid", false),
            ("changetype", false),
            ("at", true),
            ("version", true),
        ]);
        let rows = self.conn().await?.fetch_columns(&sql, &cols).await?;
        Ok(rows
            .iter()
            .map(|r| BcChange {
                table: table.to_string(),
                company_id: company,
                record_id: guid(r, "recordid"),
                change_type: s(r, "changetype"),
                at_ms: i(r, "at"),
                version: i(r, "version"),
            })
            .collect())
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
            .bind(text(table))
            .push(" AND s.companyid = ")
            .bind(text(company))
            .push(" ORDER BY s.createdon, s.subscriptionid");
        self.conn().await?.bc_subscriptions_where(&sql).await
    }

    pub async fn bc_add_notifications(
        &mut self,
        items: &[BcNotification],
    ) -> Result<(), StoreError> {
        for chunk in items.chunks(200) {
            let mut sql = Sql::default();
            sql.push("INSERT INTO herald_bc_notification (notificationid, subscriptionid, resource, changetype, lastmodified, createdon, seq) VALUES ");
            for (n, it) in chunk.iter().enumerate() {
                if n > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(text(&it.id))
                    .push(", ")
                    .bind(text(&it.subscription_id))
                    .push(", ")
                    .bind(text(&it.resource))
                    .push(", ")
                    .bind(text(&it.change_type))
                    .push(", ")
                    .bind(int(it.last_modified_ms))
                    .push(", ")
                    .bind(int(it.created_ms))
                    .push(", ")
                    .bind(int(it.seq))
                    .push(")");
            }
            self.conn().await?.execute(&sql).await?;
        }
        Ok(())
    }
}

impl Store {
    async fn bc_read(
        &self,
        sql: &Sql,
        columns: &[OutputColumn],
    ) -> Result<Vec<Record>, StoreError> {
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                let mut c = reader.acquire().await?;
                Conn::Sqlite(&mut c).fetch_columns(sql, columns).await
            }
            Backend::Postgres(p) => {
                let mut c = p.acquire().await?;
                Conn::Pg(&mut c).fetch_columns(sql, columns).await
            }
        }
    }

    /// Store a new subscription unless `max` unexpired ones (at
    /// `sub.created_ms`) already exist; false when full.
    pub async fn bc_insert_subscription(
        &self,
        sub: &BcSubscription,
        max: usize,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        if self.dialect() == crate::Dialect::Postgres {
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
            .bind(int(sub.created_ms));
        let count = tx.conn().await?.fetch_i64(&live).await?.unwrap_or(0);
        if count >= max as i64 {
            return Ok(false);
        }
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bc_subscription (subscriptionid, notificationurl, resource, tablename, companyid, apiversion, userid, clientstate, expires, createdon, modifiedon, version) VALUES (")
            .bind(text(&sub.id))
            .push(", ")
            .bind(text(&sub.notification_url))
            .push(", ")
            .bind(text(&sub.resource))
            .push(", ")
            .bind(text(&sub.table))
            .push(", ")
            .bind(text(sub.company_id))
            .push(", ")
            .bind(text(&sub.api_version))
            .push(", ")
            .bind(text(sub.user_id))
            .push(", ")
            .bind(Param::Text(sub.client_state.clone()))
            .push(", ")
            .bind(int(sub.expires_ms))
            .push(", ")
            .bind(int(sub.created_ms))
            .push(", ")
            .bind(int(sub.modified_ms))
            .push(", ")
            .bind(int(sub.version))
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
            sql.push(" AND s.subscriptionid = ").bind(text(id));
        }
        if let Some(now_ms) = live_at {
            sql.push(" AND s.expires > ").bind(int(now_ms));
        }
        sql.push(" ORDER BY s.createdon, s.subscriptionid");
        Ok(self
            .bc_read(&sql, &sub_columns())
            .await?
            .iter()
            .map(sub_from)
            .collect())
    }

    /// How many subscriptions are not expired at `now_ms`.
    pub async fn bc_count_live_subscriptions(&self, now_ms: i64) -> Result<i64, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) AS n FROM herald_bc_subscription WHERE expires > ")
            .bind(int(now_ms));
        Ok(self
            .bc_read(&sql, &out(&[("n", true)]))
            .await?
            .first()
            .map(|r| i(r, "n"))
            .unwrap_or(0))
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
            .bind(text(notification_url))
            .push(", clientstate = ")
            .bind(Param::Text(client_state.map(str::to_string)))
            .push(", expires = ")
            .bind(int(expires_ms))
            .push(", modifiedon = ")
            .bind(int(now_ms))
            .push(", version = version + 1 WHERE subscriptionid = ")
            .bind(text(id))
            .push(" AND version = ")
            .bind(int(expected_version))
            .push(" AND expires > ")
            .bind(int(now_ms));
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
            .bind(int(now_ms));
        let ids: Vec<String> = self
            .bc_read(&sql, &out(&[("subscriptionid", false)]))
            .await?
            .iter()
            .map(|r| s(r, "subscriptionid"))
            .collect();
        self.bc_delete_subscriptions(&ids).await?;
        Ok(ids)
    }

    /// Streams (table, company) whose oldest pending change is at or before `due_ms`.
    pub async fn bc_due_streams(&self, due_ms: i64) -> Result<Vec<(String, Uuid)>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT tablename, companyid FROM herald_bc_change GROUP BY tablename, companyid HAVING MIN(at) <= ")
            .bind(int(due_ms))
            .push(" ORDER BY MIN(at)");
        let rows = self
            .bc_read(&sql, &out(&[("tablename", false), ("companyid", false)]))
            .await?;
        Ok(rows
            .iter()
            .map(|r| (s(r, "tablename"), guid(r, "companyid")))
            .collect())
    }

    /// How many changes wait for their window (for metrics and tests).
    pub async fn bc_pending_changes(&self) -> Result<i64, StoreError> {
        let sql = Sql {
            text: "SELECT COUNT(*) AS n FROM herald_bc_change".into(),
            params: vec![],
        };
        Ok(self
            .bc_read(&sql, &out(&[("n", true)]))
            .await?
            .first()
            .map(|r| i(r, "n"))
            .unwrap_or(0))
    }

    /// How many notifications wait for delivery (for metrics and tests).
    pub async fn bc_pending_notifications(&self) -> Result<i64, StoreError> {
        let sql = Sql {
            text: "SELECT COUNT(*) AS n FROM herald_bc_notification".into(),
            params: vec![],
        };
        Ok(self
            .bc_read(&sql, &out(&[("n", true)]))
            .await?
            .first()
            .map(|r| i(r, "n"))
            .unwrap_or(0))
    }

    /// Give every URL with pending notifications a delivery-state row
    /// (ready at `now_ms`); URLs that have one keep it. Only reads when
    /// there is nothing to do (no write lock taken on SQLite).
    pub async fn bc_ensure_targets(&self, now_ms: i64) -> Result<u64, StoreError> {
        let probe = Sql {
            text: "SELECT COUNT(*) AS n FROM herald_bc_notification n JOIN herald_bc_subscription s ON s.subscriptionid = n.subscriptionid WHERE NOT EXISTS (SELECT 1 FROM herald_bc_target t WHERE t.url = s.notificationurl)".into(),
            params: vec![],
        };
        if self
            .bc_read(&probe, &out(&[("n", true)]))
            .await?
            .first()
            .map(|r| i(r, "n"))
            .unwrap_or(0)
            == 0
        {
            return Ok(0);
        }
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bc_target (url, next_attempt, first_failure, attempts, lease_owner, lease_until) SELECT DISTINCT s.notificationurl, ")
            .bind(int(now_ms))
            .push(", CAST(NULL AS BIGINT), 0, CAST(NULL AS TEXT), CAST(NULL AS BIGINT) FROM herald_bc_notification n JOIN herald_bc_subscription s ON s.subscriptionid = n.subscriptionid WHERE NOT EXISTS (SELECT 1 FROM herald_bc_target t WHERE t.url = s.notificationurl) ON CONFLICT (url) DO NOTHING");
        let mut tx = self.begin().await?;
        let n = tx.conn().await?.execute(&sql).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Claim up to `limit` URLs due at `now_ms` for `owner` until `now + lease`.
    pub async fn bc_claim_targets(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<BcTarget>, StoreError> {
        let mut probe = Sql::default();
        probe
            .push("SELECT COUNT(*) AS n FROM herald_bc_target WHERE next_attempt <= ")
            .bind(int(now_ms))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(int(now_ms))
            .push(")");
        if self
            .bc_read(&probe, &out(&[("n", true)]))
            .await?
            .first()
            .map(|r| i(r, "n"))
            .unwrap_or(0)
            == 0
        {
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        sql.push("UPDATE herald_bc_target SET lease_owner = ")
            .bind(text(owner))
            .push(", lease_until = ")
            .bind(int(now_ms + lease_ms))
            .push(" WHERE url IN (SELECT url FROM herald_bc_target WHERE next_attempt <= ")
            .bind(int(now_ms))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(int(now_ms))
            .push(") ORDER BY next_attempt LIMIT ")
            .bind(int(limit));
        if matches!(self.backend, Backend::Postgres(_)) {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        sql.push(") RETURNING url, attempts, first_failure");
        let mut tx = self.begin().await?;
        let rows = tx
            .conn()
            .await?
            .fetch_columns(
                &sql,
                &out(&[("url", false), ("attempts", true), ("first_failure", true)]),
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| BcTarget {
                url: s(r, "url"),
                attempts: i(r, "attempts"),
                first_failure_ms: r.int("first_failure"),
            })
            .collect())
    }

    /// The pending notifications for `url` of subscriptions not expired at
    /// `now_ms`, oldest first, each with its subscription.
    pub async fn bc_batch(
        &self,
        url: &str,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<(BcNotification, BcSubscription)>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT n.notificationid, n.resource AS nresource, n.changetype, n.lastmodified, n.createdon AS ncreatedon, n.seq, ")
            .push(SUB_COLUMNS)
            .push(" FROM herald_bc_notification n JOIN herald_bc_subscription s ON s.subscriptionid = n.subscriptionid WHERE s.notificationurl = ")
            .bind(text(url))
            .push(" AND s.expires > ")
            .bind(int(now_ms))
            .push(" ORDER BY n.createdon, n.seq, n.notificationid LIMIT ")
            .bind(int(limit));
        let mut cols = out(&[
            ("notificationid", false),
            ("nresource", false),
            ("changetype", false),
            ("lastmodified", true),
            ("ncreatedon", true),
            ("seq", true),
        ]);
        cols.extend(sub_columns());
        let rows = self.bc_read(&sql, &cols).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let sub = sub_from(r);
                let n = BcNotification {
                    id: s(r, "notificationid"),
                    subscription_id: sub.id.clone(),
                    resource: s(r, "nresource"),
                    change_type: s(r, "changetype"),
                    last_modified_ms: i(r, "lastmodified"),
                    created_ms: i(r, "ncreatedon"),
                    seq: i(r, "seq"),
                };
                (n, sub)
            })
            .collect())
    }

    /// A batch was delivered: forget its notifications, reset the URL's
    /// failures and release it (ready again at `now_ms` for what is left).
    pub async fn bc_delivered(
        &self,
        url: &str,
        owner: &str,
        sent: &[String],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for chunk in sent.chunks(500) {
            let mut sql = Sql::default();
            sql.push("DELETE FROM herald_bc_notification WHERE notificationid IN ");
            in_list(&mut sql, chunk);
            tx.conn().await?.execute(&sql).await?;
        }
        let mut sql = Sql::default();
        sql.push("UPDATE herald_bc_target SET attempts = 0, first_failure = NULL, next_attempt = ")
            .bind(int(now_ms))
            .push(", lease_owner = NULL, lease_until = NULL WHERE url = ")
            .bind(text(url))
            .push(" AND lease_owner = ")
            .bind(text(owner));
        tx.conn().await?.execute(&sql).await?;
        tx.commit().await
    }

    /// A retryable failure: try again at `next_ms`.
    pub async fn bc_retry_later(
        &self,
        url: &str,
        owner: &str,
        attempts: i64,
        first_failure_ms: i64,
        next_ms: i64,
    ) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("UPDATE herald_bc_target SET attempts = ")
            .bind(int(attempts))
            .push(", first_failure = ")
            .bind(int(first_failure_ms))
            .push(", next_attempt = ")
            .bind(int(next_ms))
            .push(", lease_owner = NULL, lease_until = NULL WHERE url = ")
            .bind(text(url))
            .push(" AND lease_owner = ")
            .bind(text(owner));
        let mut tx = self.begin().await?;
        tx.conn().await?.execute(&sql).await?;
        tx.commit().await
    }

    /// Forget a URL that has nothing left to send (kept if something arrived meanwhile).
    pub async fn bc_drop_target(&self, url: &str, owner: &str) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_bc_target WHERE url = ")
            .bind(text(url))
            .push(" AND lease_owner = ")
            .bind(text(owner))
            .push(" AND NOT EXISTS (SELECT 1 FROM herald_bc_notification n JOIN herald_bc_subscription s ON s.subscriptionid = n.subscriptionid WHERE s.notificationurl = ")
            .bind(text(url))
            .push(")");
        let mut tx = self.begin().await?;
        tx.conn().await?.execute(&sql).await?;
        tx.commit().await
    }

    /// Give up on a URL: delete the given subscriptions (with everything
    /// they still had pending) and the URL's delivery state.
    pub async fn bc_give_up(&self, url: &str, subscriptions: &[String]) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = tx
            .conn()
            .await?
            .bc_delete_subscriptions(subscriptions)
            .await?;
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_bc_target WHERE url = ")
            .bind(text(url));
        tx.conn().await?.execute(&sql).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Delivery state of one URL: (failed attempts, first failure, next attempt).
    pub async fn bc_target(
        &self,
        url: &str,
    ) -> Result<Option<(i64, Option<i64>, i64)>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT attempts, first_failure, next_attempt FROM herald_bc_target WHERE url = ")
            .bind(text(url));
        let rows = self
            .bc_read(
                &sql,
                &out(&[
                    ("attempts", true),
                    ("first_failure", true),
                    ("next_attempt", true),
                ]),
            )
            .await?;
        Ok(rows.first().map(|r| {
            (
                i(r, "attempts"),
                r.int("first_failure"),
                i(r, "next_attempt"),
            )
        }))
    }
}
