//! One conformance suite, run against both backends: SQLite on a temp file
//! and PostgreSQL on a fresh database (skipped, loudly, without
//! `HERALD_TEST_DATABASE_URL`). Each module lists its behaviours in one
//! `conformance!` call, which makes a test of each on both stores.
//!
//! - `rows`: insert, read, update, delete; duplicate ids; transactions;
//!   migrations; text a store cannot keep;
//! - `queries`: filters, orderings, links;
//! - `fetchxml`: FetchXML parsed by herald-core and run by the store;
//! - `groups`: concurrent writes, each committing or failing alone;
//! - `keys`: API keys;
//! - `claims`: claiming System Jobs, what a claim reports;
//! - `outcomes`: System Job outcomes and the lease that guards them;
//! - `secrets`: secrets sealed at rest, the sweep and rotation;
//! - `case`: case-insensitive text, and the indexes that keeps.

mod case;
mod claims;
mod fetchxml;
mod groups;
mod keys;
mod outcomes;
mod queries;
mod rows;
mod secrets;

use std::sync::Arc;

use herald_core::query::{ColumnRef, CompareOp, Condition, Link, Order};
use herald_core::{Query, Schema, Value};
use herald_store::{testing, Store, StoreError, StoreOptions};
use uuid::Uuid;

/// The asyncoperation row of a System Job `id` (a contact Create step's),
/// for the queue's tests.
fn system_job_row(id: Uuid) -> Vec<(String, Value)> {
    herald_core::new_job::NewSystemJob {
        id,
        name: "step",
        step_id: Uuid::new_v4(),
        table: "contact",
        message: "Create",
        regarding: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        request_id: None,
        depth: 1,
        data: "{}".into(),
        caller: Uuid::new_v4(),
        at: chrono::Utc::now(),
    }
    .into_row()
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = testing::sqlite_store(dir.path()).await;
    (store, dir)
}

async fn postgres(test: &str) -> Option<Store> {
    let url = testing::fresh_postgres_url(test).await?;
    let schema = Arc::new(Schema::build(&[]).unwrap());
    Some(
        Store::connect(&url, schema, StoreOptions::default())
            .await
            .unwrap(),
    )
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $name() { let (s, _d) = crate::sqlite().await; super::$name(s).await; })*
        }
        mod on_postgres {
            $(#[tokio::test] async fn $name() {
                if let Some(s) = crate::postgres(concat!("store::", stringify!($name))).await { super::$name(s).await; }
            })*
        }
    };
}
pub(crate) use conformance;

fn v(s: &str) -> Value {
    Value::String(s.to_string())
}

async fn add_contact(store: &Store, first: &str, last: &str, account: Option<Uuid>) -> Uuid {
    let schema = store.schema().clone();
    let t = schema.table("contact").unwrap();
    let id = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(
        t,
        &[
            ("contactid".into(), Value::Guid(id)),
            ("firstname".into(), v(first)),
            ("lastname".into(), v(last)),
            (
                "parentcustomerid".into(),
                account.map(Value::Guid).unwrap_or(Value::Null),
            ),
            ("versionnumber".into(), Value::Int(1)),
            ("donotemail".into(), Value::Bool(false)),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Insert a row of `table` with the given values (plus its id) and return the id.
async fn insert(store: &Store, table: &str, values: Vec<(&str, Value)>) -> Uuid {
    let schema = store.schema().clone();
    let t = schema.table(table).unwrap();
    let id = Uuid::new_v4();
    let mut row = vec![(t.primary_id.clone(), Value::Guid(id))];
    row.extend(values.into_iter().map(|(k, v)| (k.to_string(), v)));
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &row).await.unwrap();
    tx.commit().await.unwrap();
    id
}
