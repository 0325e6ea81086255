//! Delivery state per notification URL (`herald_bc_target`): which URLs
//! have something to send, a node's lease on one while it sends, the batch
//! it sends, and what a success, a retryable failure or giving up leaves.

use super::changes::BcNotification;
use super::subscriptions::{sub_columns, sub_from, BcSubscription, SUB_COLUMNS};
use super::{i, in_list, out, s};
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::{Dialect, Store};

/// A notification URL a node now holds for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct BcTarget {
    pub url: String,
    /// Failed attempts since the last success.
    pub attempts: i64,
    /// When the first of those failures happened.
    pub first_failure_ms: Option<i64>,
}

impl Store {
    /// Give every URL with pending notifications a delivery-state row
    /// (ready at `now_ms`); URLs that have one keep it. Only reads when
    /// there is nothing to do (no write lock taken on SQLite).
    pub async fn bc_ensure_targets(&self, now_ms: i64) -> Result<u64, StoreError> {
        let probe = Sql {
            text: "SELECT COUNT(*) AS n FROM herald_bc_notification n JOIN herald_bc_subscription s ON s.subscriptionid = n.subscriptionid WHERE NOT EXISTS (SELECT 1 FROM herald_bc_target t WHERE t.url = s.notificationurl)".into(),
            params: vec![],
        };
        if self.bc_count(&probe).await? == 0 {
            return Ok(0);
        }
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bc_target (url, next_attempt, first_failure, attempts, lease_owner, lease_until) SELECT DISTINCT s.notificationurl, ")
            .bind(Param::int(now_ms))
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
            .bind(Param::int(now_ms))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::int(now_ms))
            .push(")");
        if self.bc_count(&probe).await? == 0 {
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        sql.push("UPDATE herald_bc_target SET lease_owner = ")
            .bind(Param::text(owner))
            .push(", lease_until = ")
            .bind(Param::int(now_ms + lease_ms))
            .push(" WHERE url IN (SELECT url FROM herald_bc_target WHERE next_attempt <= ")
            .bind(Param::int(now_ms))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::int(now_ms))
            .push(") ORDER BY next_attempt LIMIT ")
            .bind(Param::int(limit));
        if self.dialect() == Dialect::Postgres {
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
            .bind(Param::text(url))
            .push(" AND s.expires > ")
            .bind(Param::int(now_ms))
            .push(" ORDER BY n.createdon, n.seq, n.notificationid LIMIT ")
            .bind(Param::int(limit));
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
        rows.iter()
            .map(|r| {
                let sub = sub_from(r, self.keyring.as_deref())?;
                let n = BcNotification {
                    id: s(r, "notificationid"),
                    subscription_id: sub.id.clone(),
                    resource: s(r, "nresource"),
                    change_type: s(r, "changetype"),
                    last_modified_ms: i(r, "lastmodified"),
                    created_ms: i(r, "ncreatedon"),
                    seq: i(r, "seq"),
                };
                Ok((n, sub))
            })
            .collect()
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
            .bind(Param::int(now_ms))
            .push(", lease_owner = NULL, lease_until = NULL WHERE url = ")
            .bind(Param::text(url))
            .push(" AND lease_owner = ")
            .bind(Param::text(owner));
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
            .bind(Param::int(attempts))
            .push(", first_failure = ")
            .bind(Param::int(first_failure_ms))
            .push(", next_attempt = ")
            .bind(Param::int(next_ms))
            .push(", lease_owner = NULL, lease_until = NULL WHERE url = ")
            .bind(Param::text(url))
            .push(" AND lease_owner = ")
            .bind(Param::text(owner));
        let mut tx = self.begin().await?;
        tx.conn().await?.execute(&sql).await?;
        tx.commit().await
    }

    /// Forget a URL that has nothing left to send (kept if something arrived meanwhile).
    pub async fn bc_drop_target(&self, url: &str, owner: &str) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_bc_target WHERE url = ")
            .bind(Param::text(url))
            .push(" AND lease_owner = ")
            .bind(Param::text(owner))
            .push(" AND NOT EXISTS (SELECT 1 FROM herald_bc_notification n JOIN herald_bc_subscription s ON s.subscriptionid = n.subscriptionid WHERE s.notificationurl = ")
            .bind(Param::text(url))
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
            .bind(Param::text(url));
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
            .bind(Param::text(url));
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
