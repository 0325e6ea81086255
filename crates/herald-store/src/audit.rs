//! The audit trail's upkeep: rows older than the retention are deleted in
//! bounded batches ([`Store::purge_audit`]). Audit rows themselves are
//! ordinary rows of the `audit` table, inserted by the server inside the
//! transaction of the change they describe.
//!
//! Several nodes may purge at once: each batch deletes only rows still
//! there, so two purges of the same rows delete each of them once and
//! neither fails.

use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::Store;

/// Rows deleted per transaction, so a purge never holds a long one.
const BATCH: i64 = 5_000;

impl Store {
    /// Delete the audit rows created before `before_ms`; how many went.
    pub async fn purge_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut sql = Sql::default();
            sql.push(
                "DELETE FROM \"audit\" WHERE \"auditid\" IN (SELECT \"auditid\" FROM \"audit\" WHERE \"createdon\" < ",
            )
            .bind(Param::int(before_ms))
            .push(" LIMIT ")
            .bind(Param::int(BATCH))
            .push(")");
            let mut tx = self.begin().await?;
            let n = tx.conn().await?.execute(&sql).await?;
            tx.commit().await?;
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
        }
    }
}
