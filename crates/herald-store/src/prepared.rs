//! The SQLite writer's rounds as cached prepared statements.
//!
//! A round of handed-over writes (`group`) used to be one multi-statement
//! text run by sqlx. sqlx caches a prepared statement per *text*, and a
//! round's text is the concatenation of whatever writes it holds (creates,
//! outcome batches of any size, in any order), so it was almost never seen
//! twice: SQLite compiled every statement of nearly every round again
//! (~6 000 compilations a second under 16 writing clients, 5–6 % of the
//! process's CPU), and sqlx copied every bound value, the 5 KB execution
//! context included, into its arguments.
//!
//! Here the round runs statement by statement on the writer connection's
//! own handle, borrowed from sqlx for the round ([`SqliteConnection::
//! lock_handle`]: one hand-off, as the text was), through `rusqlite`'s
//! statement cache keyed by each statement's text: a create's four
//! inserts, a COMMIT, the outcome batches of the usual sizes are compiled
//! once. Values are bound by reference.
//!
//! Only the first, optimistic run of a round goes this way. If anything
//! fails, the caller undoes the round and runs its writes again one by one
//! through sqlx as before, so a write's error is exactly what it was.
//!
//! The handle stays sqlx's: it opens and closes it, and nothing here runs
//! unless its lock is held. The cached statements are finalized when the
//! [`Prepared`] is dropped, which the writer's slot does before its sqlx
//! connection (field order), since SQLite refuses to close a handle with
//! live statements.

use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlx::SqliteConnection;

use crate::sql::{Param, Sql};

/// Statements kept compiled: a create's inserts per table shape, the
/// outcome batches, the transaction statements; a longer tail of shapes
/// (many distinct batch sizes) is compiled again when it comes back.
const CACHED: usize = 256;

/// Statements binding more parameters than this are not cached: a merged
/// multi-row insert of a bulk write, whose size varies and whose
/// compilation is shared by its many rows anyway.
const CACHED_PARAMS: usize = 512;

/// The writer connection's statement cache (none until the first round).
/// In a mutex only to be `Sync` like the rest of the writer's slot (a
/// `rusqlite::Connection` is not); only the slot's holder ever locks it.
#[derive(Default)]
pub(crate) struct Prepared {
    db: std::sync::Mutex<Option<rusqlite::Connection>>,
}

/// A statement of a round that failed, and why.
#[derive(Debug)]
pub(crate) struct Failed(pub(crate) String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Prepared {
    /// Run `stmts` (anonymous placeholders) in order on `conn`, each as a
    /// cached prepared statement; stops at the first that fails.
    pub(crate) async fn run(
        &mut self,
        conn: &mut SqliteConnection,
        stmts: &[&Sql],
    ) -> Result<(), Failed> {
        let mut locked = conn
            .lock_handle()
            .await
            .map_err(|e| Failed(e.to_string()))?;
        let raw = locked.as_raw_handle().as_ptr();
        let mut kept = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let db = match &mut *kept {
            Some(db) => db,
            empty => {
                // SAFETY: `raw` is sqlx's open handle for as long as the
                // writer's connection lives, which outlives `self` (see the
                // module's docs); it is used only while `locked` holds
                // sqlx's lock on it, so no other thread touches it then.
                // `from_handle` does not take ownership: sqlx closes it.
                let db = unsafe { rusqlite::Connection::from_handle(raw) }
                    .map_err(|e| Failed(e.to_string()))?;
                db.set_prepared_statement_cache_capacity(CACHED);
                empty.insert(db)
            }
        };
        for sql in stmts {
            run_one(db, sql).map_err(|e| Failed(e.to_string()))?;
        }
        drop(locked);
        Ok(())
    }
}

fn run_one(db: &rusqlite::Connection, sql: &Sql) -> rusqlite::Result<()> {
    let mut uncached;
    let mut cached;
    let stmt: &mut rusqlite::Statement<'_> = if sql.params.len() <= CACHED_PARAMS {
        cached = db.prepare_cached(&sql.text)?;
        &mut cached
    } else {
        uncached = db.prepare(&sql.text)?;
        &mut uncached
    };
    for (i, p) in sql.params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, Bound(p))?;
    }
    // Step to the end whatever the statement is (a write returns no rows,
    // but a statement that does must not fail for it).
    let mut rows = stmt.raw_query();
    while rows.next()?.is_some() {}
    Ok(())
}

/// A parameter bound by reference.
struct Bound<'a>(&'a Param);

impl rusqlite::ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Param::Text(Some(s)) => ValueRef::Text(s.as_bytes()),
            Param::Int(Some(i)) => ValueRef::Integer(*i),
            Param::Real(Some(r)) => ValueRef::Real(*r),
            // As sqlx binds a bool on SQLite: an integer.
            Param::Bool(Some(b)) => ValueRef::Integer(i64::from(*b)),
            Param::Text(None) | Param::Int(None) | Param::Real(None) | Param::Bool(None) => {
                ValueRef::Null
            }
        }))
    }
}
