//! Claiming: a node takes ready jobs, oldest `ready_at` first, within how
//! many it may take now and how many each endpoint may hold on it
//! ([`ClaimLimits`]), and leases them; the claim also reads what their
//! deliveries need of the asyncoperation rows, in the same transaction.

use std::collections::HashMap;

use sqlx::Row;
use uuid::Uuid;

use super::rows::JobRow;
use super::{push_in, Sorts};
use crate::conn::{conn_rows, Conn};
use crate::error::StoreError;
use crate::read::{self, uuid};
use crate::sql::{Param, Sql};
use crate::{Dialect, Store};

/// How many jobs one claim may take, and how a node shares what it holds
/// among endpoints (fairness).
///
/// `limit` is how many more jobs the node takes now. `in_flight` is what
/// each endpoint holds on this node (running, and claimed but waiting).
/// Each endpoint has a cap ([`EndpointCap`]: `per_endpoint` unless `caps`
/// says otherwise): an endpoint holding more than its `refill_at` is left
/// out of the claim, any other may be filled up to its cap. So one slow or
/// hanging endpoint holds at most its share, the jobs of every other
/// endpoint are still claimed, and an endpoint whose deliveries flow can
/// be given a deeper cap and refilled in batches. Within those caps jobs
/// are claimed oldest `ready_at` first.
#[derive(Debug, Clone)]
pub struct ClaimLimits {
    pub limit: i64,
    /// The cap of an endpoint not in `caps` (refilled as soon as it is
    /// below).
    pub per_endpoint: i64,
    pub caps: HashMap<Uuid, EndpointCap>,
    pub in_flight: HashMap<Uuid, i64>,
    /// Claim only jobs of these endpoints (the claimer knows no others
    /// have ready jobs); None: any endpoint.
    pub only: Option<Vec<Uuid>>,
}

/// How many jobs one endpoint may hold on a node, and at what level it is
/// refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointCap {
    pub cap: i64,
    pub refill_at: i64,
}

impl ClaimLimits {
    /// At most `limit` jobs, no endpoint above `per_endpoint`.
    pub fn new(limit: i64, per_endpoint: i64, in_flight: HashMap<Uuid, i64>) -> ClaimLimits {
        ClaimLimits {
            limit,
            per_endpoint,
            caps: HashMap::new(),
            in_flight,
            only: None,
        }
    }

    /// No per-endpoint cap (every slot may go to one endpoint).
    pub fn unlimited(limit: i64) -> ClaimLimits {
        ClaimLimits::new(limit, i64::MAX, HashMap::new())
    }

    fn cap_of(&self, endpoint: &Uuid) -> EndpointCap {
        self.caps.get(endpoint).copied().unwrap_or(EndpointCap {
            cap: self.per_endpoint,
            refill_at: self.per_endpoint.saturating_sub(1),
        })
    }

    fn held(&self, endpoint: &Uuid) -> i64 {
        self.in_flight.get(endpoint).copied().unwrap_or(0)
    }

    /// Endpoints left out of this claim: they hold more than `refill_at`.
    pub fn saturated(&self) -> Vec<Uuid> {
        let mut v: Vec<Uuid> = self
            .in_flight
            .keys()
            .filter(|e| self.held(e) > self.cap_of(e).refill_at)
            .copied()
            .collect();
        v.sort();
        v
    }

    /// From candidates in `ready_at` order, the ones to claim: at most
    /// `limit`, and per endpoint at most what its cap has left.
    pub fn pick(&self, candidates: &[(Uuid, Uuid)]) -> Vec<Uuid> {
        let mut taken: HashMap<Uuid, i64> = HashMap::new();
        let mut out = Vec::new();
        for (job, endpoint) in candidates {
            if out.len() as i64 >= self.limit {
                break;
            }
            let held = self.held(endpoint);
            let cap = self.cap_of(endpoint);
            if held > cap.refill_at {
                continue;
            }
            let t = taken.entry(*endpoint).or_insert(0);
            if held + *t < cap.cap {
                *t += 1;
                out.push(*job);
            }
        }
        out
    }
}

/// A job a worker now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub asyncoperation_id: Uuid,
    pub endpoint_id: Uuid,
    pub autodelete: bool,
    /// Claims so far, this one included (1 on the first run).
    pub claims: i64,
    /// What the delivery needs of its asyncoperation row, read by the claim
    /// (None: the row was deleted while the job waited).
    pub row: Option<JobRow>,
}

/// What one claim took.
#[derive(Debug, Default)]
pub struct Claim {
    /// The jobs now leased to the claimer, oldest `ready_at` first.
    pub jobs: Vec<ClaimedJob>,
    /// No more jobs were ready beyond these (within the endpoints the
    /// claim did not leave out).
    pub exhausted: bool,
}

impl Store {
    /// Claim ready jobs for `owner` until `now + lease`, within `limits`
    /// (see [`ClaimLimits`]). Jobs whose lease expired (their node died) are
    /// claimable again.
    ///
    /// One transaction: read the oldest ready candidates (skipping
    /// endpoints that already hold their share, and on PostgreSQL locking
    /// them `FOR UPDATE SKIP LOCKED` so concurrent nodes never pick the same
    /// row), choose within the per-endpoint caps, and lease the chosen ones.
    /// Unchosen candidates are released at commit.
    pub async fn claim_jobs(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limits: &ClaimLimits,
    ) -> Result<Claim, StoreError> {
        if limits.limit <= 0 {
            return Ok(Claim::default());
        }
        let dialect = self.dialect();
        let pg = dialect == Dialect::Postgres;
        let mut sql = Sql::default();
        sql.push("SELECT asyncoperationid, endpointid FROM herald_job WHERE ready_at <= ")
            .bind(Param::int(now_ms))
            .push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::int(now_ms))
            .push(")");
        if let Some(only) = &limits.only {
            if only.is_empty() {
                return Ok(Claim {
                    jobs: Vec::new(),
                    exhausted: true,
                });
            }
            sql.push(" AND ");
            push_in(&mut sql, dialect, "endpointid", false, only.iter().copied());
        }
        let saturated = limits.saturated();
        if !saturated.is_empty() {
            sql.push(" AND ");
            push_in(
                &mut sql,
                dialect,
                "endpointid",
                true,
                saturated.iter().copied(),
            );
        }
        sql.push(" ORDER BY ready_at, asyncoperationid LIMIT ")
            .bind(Param::int(limits.limit));
        if pg {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        let mut tx = self.begin().await?;
        tx.prefer_custom_plans(Sorts::Off).await?;
        let candidates = tx.conn().await?.candidate_rows(&sql).await?;
        let chosen = limits.pick(&candidates);
        // Fewer candidates than asked for, and every one of them taken: an
        // endpoint's cap that left some behind means it has more ready,
        // and a claimer that took "exhausted" for it waited a whole poll
        // interval to claim them (the last ~500 jobs of every drain).
        let exhausted =
            (candidates.len() as i64) < limits.limit && chosen.len() == candidates.len();
        if chosen.is_empty() {
            tx.commit().await?;
            return Ok(Claim {
                jobs: Vec::new(),
                exhausted,
            });
        }
        let mut sql = Sql::default();
        sql.push("UPDATE herald_job SET lease_owner = ")
            .bind(Param::text(owner))
            .push(", lease_until = ")
            .bind(Param::int(now_ms + lease_ms))
            .push(", attempts = attempts + 1 WHERE ");
        push_in(
            &mut sql,
            dialect,
            "asyncoperationid",
            false,
            chosen.iter().copied(),
        );
        // Re-checked so that a row leased meanwhile is never taken twice.
        sql.push(" AND (lease_until IS NULL OR lease_until < ")
            .bind(Param::int(now_ms))
            .push(") RETURNING asyncoperationid, endpointid, autodelete, attempts");
        let mut rows = tx.conn().await?.claim_rows(&sql).await?;
        // The claim does not rewrite the asyncoperation rows: a job is
        // marked In Progress only when its delivery takes a while
        // ([`Tx::mark_in_progress`]), and its outcome writes startedon
        // with the rest. A delivery that answers at once thus costs one
        // rewrite of the row, not two.
        tx.commit().await?;
        if !rows.is_empty() {
            // What their deliveries need (the ~5 KB contexts), in one read
            // for the batch, after the commit and on the read pool: on
            // SQLite the single writer connection does not spend its time
            // reading them, on PostgreSQL the claimed rows are not kept
            // locked meanwhile. The payload is never rewritten, and a row
            // deleted or stopped since the claim is seen as such.
            let ids: Vec<Uuid> = rows.iter().map(|r| r.asyncoperation_id).collect();
            let read = match dialect {
                // In a transaction of its own, for `prefer_custom_plans`.
                Dialect::Postgres => {
                    async {
                        let mut tx = self.begin().await?;
                        tx.prefer_custom_plans(Sorts::Allowed).await?;
                        let rows = tx.conn().await?.job_rows(&ids).await?;
                        tx.commit().await?;
                        Ok(rows)
                    }
                    .await
                }
                Dialect::Sqlite => read::on_reader!(self, |c| c.job_rows(&ids).await),
            };
            let mut found = match read {
                Ok(found) => found,
                Err(e) => {
                    // Give them back rather than leave them leased.
                    let released = async {
                        let mut tx = self.begin().await?;
                        tx.release_jobs(owner, &ids).await?;
                        tx.commit().await
                    }
                    .await;
                    if let Err(r) = released {
                        tracing::warn!(error = %r, jobs = ids.len(), "giving back claimed System Jobs failed; they run again when their lease expires");
                    }
                    return Err(e);
                }
            };
            for r in &mut rows {
                r.row = found.remove(&r.asyncoperation_id);
            }
        }
        // RETURNING has no order: keep the ready_at order of the candidates.
        rows.sort_by_key(|r| chosen.iter().position(|c| *c == r.asyncoperation_id));
        Ok(Claim {
            jobs: rows,
            exhausted,
        })
    }
}

impl Conn<'_> {
    /// `(job, endpoint)` pairs of the claim's candidate rows.
    async fn candidate_rows(&mut self, sql: &Sql) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        Ok(conn_rows!(self, sql, |r| (
            uuid(r.try_get(0)?)?,
            uuid(r.try_get(1)?)?
        )))
    }

    /// The jobs a claim's `UPDATE … RETURNING` leased.
    async fn claim_rows(&mut self, sql: &Sql) -> Result<Vec<ClaimedJob>, StoreError> {
        Ok(conn_rows!(self, sql, |r| ClaimedJob {
            asyncoperation_id: uuid(r.try_get(0)?)?,
            endpoint_id: uuid(r.try_get(1)?)?,
            autodelete: r.try_get(2)?,
            claims: r.try_get::<i64, _>(3)?,
            row: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_keeps_ready_order_within_each_endpoints_share() {
        let (a, b, c) = (
            Uuid::from_u128(0xa),
            Uuid::from_u128(0xb),
            Uuid::from_u128(0xc),
        );
        let jobs: Vec<(Uuid, Uuid)> = [a, a, a, b, a, c, b]
            .iter()
            .enumerate()
            .map(|(i, e)| (Uuid::from_u128(i as u128 + 1), *e))
            .collect();
        let id = |i: u128| Uuid::from_u128(i);
        // Share 2, `a` already holds one slot: one more of `a`, then b, c, b.
        let limits = ClaimLimits::new(10, 2, HashMap::from([(a, 1)]));
        assert_eq!(limits.pick(&jobs), vec![id(1), id(4), id(6), id(7)]);
        assert_eq!(limits.saturated(), Vec::<Uuid>::new());
        // The limit (free slots) cuts the list.
        let limits = ClaimLimits::new(2, 2, HashMap::new());
        assert_eq!(limits.pick(&jobs), vec![id(1), id(2)]);
        // A saturated endpoint is skipped altogether.
        let limits = ClaimLimits::new(10, 2, HashMap::from([(a, 2), (b, 1)]));
        assert_eq!(limits.saturated(), vec![a]);
        assert_eq!(limits.pick(&jobs), vec![id(4), id(6)]);
        assert_eq!(
            ClaimLimits::unlimited(3).pick(&jobs),
            vec![id(1), id(2), id(3)]
        );
        // Refill hysteresis: cap 4, refilled only at 1 or less. `a` holds
        // 2 (left out), `b` holds 1 (filled up to 4: both of its jobs), `c`
        // has the default cap 2.
        let deep = EndpointCap {
            cap: 4,
            refill_at: 1,
        };
        let mut limits = ClaimLimits::new(10, 2, HashMap::from([(a, 2), (b, 1)]));
        limits.caps = HashMap::from([(a, deep), (b, deep)]);
        assert_eq!(limits.saturated(), vec![a]);
        assert_eq!(limits.pick(&jobs), vec![id(4), id(6), id(7)]);
    }
}
