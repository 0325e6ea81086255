//! The System Jobs queue (`herald_job`) and the attempt log
//! (`herald_attempt`). Jobs are enqueued in the write's transaction (the
//! outbox) and claimed with a lease: `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer connection on SQLite.
//!
//! On PostgreSQL every enqueue also issues `NOTIFY herald_jobs` in the same
//! transaction; PostgreSQL delivers it only when (and if) the transaction
//! commits, and folds repeated notifications of one transaction into one.
//! Every node LISTENs on [`JOBS_CHANNEL`] and claims at once, so a job
//! written on one node is picked up by any idle node without waiting for the
//! poll interval (which stays the safety net).
//!
//! One file per step of a job's life in the queue:
//! - `queue`: enqueue, requeue, stop, leases, In Progress, queue depth;
//! - `claim`: a node taking ready jobs within its per-endpoint caps;
//! - `payload`: the context of a job, written once beside its row;
//! - `outcome`: writing what a run did (the row, the attempts), purging;
//! - `held`: leases on server-run jobs (Bulk Delete), kept in the queue
//!   table but never due for the workers;
//! - `rows`: what is read back of the asyncoperation and attempt rows.

mod claim;
mod held;
mod outcome;
pub(crate) mod payload;
mod queue;
mod rows;

pub use claim::{Claim, ClaimLimits, ClaimedJob, EndpointCap};
pub use held::{HELD_ENDPOINT, HELD_READY_AT};
pub use outcome::{JobOutcome, OutcomeRow};
pub use queue::{Lease, NewJob};
pub use rows::{AttemptRow, JobRow};

use uuid::Uuid;

use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::Dialect;

/// The PostgreSQL LISTEN/NOTIFY channel that announces committed jobs.
pub const JOBS_CHANNEL: &str = "herald_jobs";

/// The lease owner of a stopped job's queue entry (see
/// [`Tx::stop_job`](crate::Tx::stop_job)).
pub const STOPPED: &str = "herald:stopped";

/// The queue of jobs still to run and the log of every HTTP attempt.
pub(crate) const DDL: &[&str] = &[
    // The queue of System Jobs still to run (asyncoperation holds the
    // history); a row leaves the queue when its job completes.
    "CREATE TABLE IF NOT EXISTS herald_job (
        asyncoperationid TEXT PRIMARY KEY,
        endpointid TEXT NOT NULL,
        ready_at BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT,
        autodelete BOOLEAN NOT NULL,
        attempts BIGINT NOT NULL
    )",
    // The claim's order (`ready_at`, then the id): read from the index
    // and stopped at the claim's LIMIT. On `ready_at` alone PostgreSQL
    // sorted the whole ready queue for every claim (below `FOR UPDATE`
    // a sort cannot stop at the LIMIT), on disk once it held 100 000
    // jobs; SQLite sorted each run of equal `ready_at`.
    "CREATE INDEX IF NOT EXISTS ix_herald_job_ready_id ON herald_job (ready_at, asyncoperationid)",
    "DROP INDEX IF EXISTS ix_herald_job_ready",
    payload::DDL,
    // Every HTTP attempt of every job.
    "CREATE TABLE IF NOT EXISTS herald_attempt (
        attemptid TEXT PRIMARY KEY,
        asyncoperationid TEXT NOT NULL,
        attempt BIGINT NOT NULL,
        startedon BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        status BIGINT,
        error TEXT,
        response TEXT
    )",
    "CREATE INDEX IF NOT EXISTS ix_herald_attempt_job ON herald_attempt (asyncoperationid, attempt)",
];

/// Jobs per round of statements when many are written at once
/// ([`Tx::complete_jobs`](crate::Tx::complete_jobs),
/// [`Tx::release_jobs`](crate::Tx::release_jobs)): 10 parameters per row
/// updated and 8 per attempt (two per job), well under SQLite's 32 766 and
/// PostgreSQL's 65 535 bound parameters. (On SQLite they are bound as
/// anonymous `?`, see [`Sql::sqlite_text`].)
const CHUNK: usize = 250;

/// Whether a queue transaction's statements may be planned with a sort
/// (see [`Tx::prefer_custom_plans`](crate::Tx)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sorts {
    Allowed,
    /// Read in an index's order instead: the claim, whose endpoint filters
    /// look selective to a planner without statistics on `endpointid` (a
    /// fresh or churning queue), so that it sorted every ready job, all of
    /// them, for each claim (a sort under `FOR UPDATE` cannot stop at the
    /// LIMIT).
    Off,
}

impl crate::Tx {
    /// On PostgreSQL, plan this transaction's statements for their
    /// parameters each time (`plan_cache_mode = force_custom_plan`), and
    /// with `Sorts::Off` never by sorting (`enable_sort = off`), both set
    /// for this transaction only in one statement; nothing on SQLite.
    ///
    /// The queue's batch statements (claims, outcomes, releases, the read
    /// of claimed rows) are prepared once per connection and run thousands
    /// of times while their tables grow from empty. After five runs
    /// PostgreSQL may keep a generic plan made when a table was still
    /// small, and it keeps it until the table is next analyzed: a drain
    /// that started on a fresh database scanned all of `herald_attempt`
    /// for every batch (`= ANY(string_to_array($1, …))` evaluated per row)
    /// and slowed to a few hundred jobs a second. Planned each time, the
    /// id list is a constant, its length known, and the indexes are used;
    /// planning a batch statement costs far less than one of its rows.
    pub(crate) async fn prefer_custom_plans(&mut self, sorts: Sorts) -> Result<(), StoreError> {
        if self.dialect() == Dialect::Postgres {
            let text = match sorts {
                Sorts::Allowed => "SELECT set_config('plan_cache_mode', 'force_custom_plan', true)",
                Sorts::Off => "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('enable_sort', 'off', true)",
            };
            self.conn().await?.execute_raw(text).await?;
        }
        Ok(())
    }
}

/// `column` is one of `ids` (or, `negated`, none of them).
///
/// On PostgreSQL this is `column = ANY(string_to_array($n, ','))` with the
/// ids as ONE text parameter, so that a statement's text is the same
/// whatever the number of ids. sqlx prepares each distinct text once per
/// connection and keeps 100 of them: with `IN ($1, …, $k)` every batch
/// size k was a statement of its own — a Parse/Describe round trip and a
/// plan the first time, and claims and outcomes of varying sizes pushed
/// each other out of the cache. (A uuid's text has no comma.) PostgreSQL
/// uses the column's index for `= ANY(array)` as for an `IN` list.
///
/// On SQLite it stays `column IN ($1, …)`: preparing is an in-process call
/// there, not a round trip.
fn push_in(
    sql: &mut Sql,
    dialect: Dialect,
    column: &str,
    negated: bool,
    ids: impl Iterator<Item = Uuid>,
) {
    match dialect {
        Dialect::Postgres => {
            let joined = ids.map(|id| id.to_string()).collect::<Vec<_>>().join(",");
            if negated {
                sql.push("NOT (");
            }
            sql.push(column)
                .push(" = ANY(string_to_array(")
                .bind(Param::Text(Some(joined)))
                .push(", ','))");
            if negated {
                sql.push(")");
            }
        }
        Dialect::Sqlite => {
            sql.push(column)
                .push(if negated { " NOT IN (" } else { " IN (" })
                .bind_list(ids.map(Param::text))
                .push(")");
        }
    }
}
