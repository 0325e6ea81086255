//! Changes and notifications: every write to a subscribed BC table leaves
//! a change row (`herald_bc_change`) in its own transaction; the notifier's
//! window takes a stream's changes and turns them into the notifications
//! each subscription is still to be told (`herald_bc_notification`).

use uuid::Uuid;

use super::{guid, i, out, s};
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::{Store, Tx};

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

/// Inside a write's transaction (capture) and the notifier's window step.
impl Tx {
    pub async fn bc_add_change(&mut self, c: &BcChange) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bc_change (changeid, tablename, companyid, recordid, changetype, at, version) VALUES (")
            .bind_list([
                Param::text(Uuid::new_v4()),
                Param::text(&c.table),
                Param::text(c.company_id),
                Param::text(c.record_id),
                Param::text(&c.change_type),
                Param::int(c.at_ms),
                Param::int(c.version),
            ])
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
            .bind(Param::text(table))
            .push(" AND companyid = ")
            .bind(Param::text(company))
            .push(" AND at <= ")
            .bind(Param::int(upto_ms))
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
                    .bind_list([
                        Param::text(&it.id),
                        Param::text(&it.subscription_id),
                        Param::text(&it.resource),
                        Param::text(&it.change_type),
                        Param::int(it.last_modified_ms),
                        Param::int(it.created_ms),
                        Param::int(it.seq),
                    ])
                    .push(")");
            }
            self.conn().await?.execute(&sql).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Streams (table, company) whose oldest pending change is at or before `due_ms`.
    pub async fn bc_due_streams(&self, due_ms: i64) -> Result<Vec<(String, Uuid)>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT tablename, companyid FROM herald_bc_change GROUP BY tablename, companyid HAVING MIN(at) <= ")
            .bind(Param::int(due_ms))
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
        self.bc_count(&sql).await
    }

    /// How many notifications wait for delivery (for metrics and tests).
    pub async fn bc_pending_notifications(&self) -> Result<i64, StoreError> {
        let sql = Sql {
            text: "SELECT COUNT(*) AS n FROM herald_bc_notification".into(),
            params: vec![],
        };
        self.bc_count(&sql).await
    }
}
