//! Leases on server-run System Jobs (a Bulk Delete) kept in the queue
//! table, so that the nodes sharing a store agree on which one runs each:
//! the same lease discipline as webhook jobs (a node holds a job until
//! `lease_until`, renews it while it runs, and an expired lease — a dead
//! node's — may be claimed by any node), without the job ever being taken
//! by the delivery workers. Such an entry has no endpoint ([`HELD_ENDPOINT`])
//! and is never due ([`HELD_READY_AT`]), so `claim_jobs` and the queue
//! depth pass it over.

use uuid::Uuid;

use super::queue::{Lease, NewJob};
use crate::error::StoreError;
use crate::read::{rows, uuid};
use crate::sql::{Param, Sql};
use crate::{Store, Tx};

/// The endpoint of a held job's queue entry: none.
pub const HELD_ENDPOINT: Uuid = Uuid::nil();

/// The `ready_at` of a held job's queue entry: never due for the workers.
pub const HELD_READY_AT: i64 = i64::MAX;

impl Tx {
    /// Put a server-run job in the queue table, leased to `lease.owner`
    /// from the start (in the transaction that writes the job).
    pub async fn hold_job(&mut self, id: Uuid, lease: &Lease) -> Result<(), StoreError> {
        self.enqueue_job(&NewJob {
            asyncoperation_id: id,
            endpoint_id: HELD_ENDPOINT,
            ready_at_ms: HELD_READY_AT,
            autodelete: false,
            lease: Some(lease.clone()),
        })
        .await
    }

    /// Take the lease of a held job for `owner` until `until_ms`, if nobody
    /// holds it at `now_ms` (never held, released, or expired). An entry
    /// missing (a job written before herald kept one) is added first. True
    /// when this call took it: of concurrent callers exactly one does.
    pub async fn claim_held_job(
        &mut self,
        id: Uuid,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_job (asyncoperationid, endpointid, ready_at, lease_owner, lease_until, autodelete, attempts) VALUES (")
            .bind(Param::text(id))
            .push(", ")
            .bind(Param::text(HELD_ENDPOINT))
            .push(", ")
            .bind(Param::int(HELD_READY_AT))
            .push(", NULL, NULL, ")
            .bind(Param::Bool(Some(false)))
            .push(", 0) ON CONFLICT (asyncoperationid) DO NOTHING");
        self.conn().await?.execute(&sql).await?;
        let mut sql = Sql::default();
        sql.push("UPDATE herald_job SET lease_owner = ")
            .bind(Param::text(owner))
            .push(", lease_until = ")
            .bind(Param::int(until_ms))
            .push(", attempts = attempts + 1 WHERE asyncoperationid = ")
            .bind(Param::text(id))
            .push(" AND ready_at = ")
            .bind(Param::int(HELD_READY_AT))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::int(now_ms))
            .push(")");
        Ok(self.conn().await?.execute(&sql).await? > 0)
    }
}

impl Store {
    /// Held jobs nobody holds at `now_ms` (released, or their node died).
    pub async fn unheld_jobs(&self, now_ms: i64) -> Result<Vec<Uuid>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT asyncoperationid FROM herald_job WHERE ready_at = ")
            .bind(Param::int(HELD_READY_AT))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::int(now_ms))
            .push(") ORDER BY asyncoperationid");
        Ok(rows!(self, &sql, |r| uuid(sqlx::Row::try_get(&r, 0)?)?))
    }
}
