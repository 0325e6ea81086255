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
//! - `herald_bc_number_series`: the last number drawn per company and
//!   entity (BC's No. Series for creates without `number`).
//!
//! Rows are read through `Conn::fetch_columns` with synthetic columns, so
//! the SQL is written once for both backends.
//!
//! One file per table's concern:
//! - `subscriptions`: creating, reading, renewing and expiring subscriptions;
//! - `changes`: captured writes and the notifications their window makes;
//! - `delivery`: the per-URL delivery state (claims, batches, retries);
//! - `numbers`: number series counters.

mod changes;
mod delivery;
mod numbers;
mod subscriptions;

pub use changes::{BcChange, BcNotification};
pub use delivery::BcTarget;
pub use subscriptions::BcSubscription;

use herald_core::schema::{Column, ColumnType};
use uuid::Uuid;

use crate::error::StoreError;
use crate::read::on_reader;
use crate::record::Record;
use crate::sql::{OutputColumn, Param, Sql};
use crate::Store;

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
    "CREATE TABLE IF NOT EXISTS herald_bc_number_series (
        companyid TEXT NOT NULL,
        entity TEXT NOT NULL,
        last BIGINT NOT NULL,
        PRIMARY KEY (companyid, entity)
    )",
];

/// Output columns for a statement's result: text columns, or integer ones
/// where the flag says so.
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

/// `($1, $2, …)` over `ids`, bound.
fn in_list(sql: &mut Sql, ids: &[String]) {
    sql.push("(")
        .bind_list(ids.iter().map(Param::text))
        .push(")");
}

impl Store {
    /// Read rows on the read pool, decoded by `columns`.
    async fn bc_read(
        &self,
        sql: &Sql,
        columns: &[OutputColumn],
    ) -> Result<Vec<Record>, StoreError> {
        on_reader!(self, |c| c.fetch_columns(sql, columns).await)
    }

    /// The `n` column of a one-row `SELECT COUNT(*) AS n …`.
    async fn bc_count(&self, sql: &Sql) -> Result<i64, StoreError> {
        Ok(self
            .bc_read(sql, &out(&[("n", true)]))
            .await?
            .first()
            .map(|r| i(r, "n"))
            .unwrap_or(0))
    }
}
