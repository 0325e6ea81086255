//! Tables made at run time through the metadata API: loading their
//! definitions at start, making one change ([`change`]), and keeping every
//! node's schema current ([`refresh`], [`spawn_refresher`]).
//!
//! The schema a node serves is its base (built-in and `[[tables]]`
//! tables, [`AppState::base_schema`]) with the stored definitions applied,
//! held by the store ([`herald_store::LiveSchema`]) and replaced as a
//! whole. A change takes the schema lock, re-reads the definitions as
//! stored (not this node's copy, which may be behind), checks the change
//! against them, runs its DDL, stores the definitions and the next schema
//! version and, for a new table, its `sdkmessagefilter` rows and its
//! privileges (granted to the built-in roles as at start); for a deleted
//! table, its `sdkmessagefilter` rows, its privileges and every role's
//! grant of them go — all in one transaction — and then serves the new
//! schema at once.
//!
//! Other nodes (PostgreSQL) notice the new version (a one-row read of
//! `herald_setting`):
//! - before every metadata request (`EntityDefinitions`, `$metadata`,
//!   the service document), so what the metadata API says is current;
//! - when a data request fails with 400 or 404 (an entity set, column or
//!   key this node does not know yet): if the version moved, the node
//!   reloads and answers the request again, so a table created on one
//!   node can be used on the next request to any other;
//! - every `[jobs] poll_interval` (1 s by default) in the background.
//!
//! On SQLite one process owns the file, so the schema it serves is the
//! stored one and none of these reads happen, but for one: a request that
//! fails while a change commits under it is answered again with the new
//! schema ([`moved_since`], on both stores).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_core::fixed_ids::{message_filter_id, privilege_id, MESSAGES};
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::schema::{ChangeError, SchemaChange};
use herald_core::security::{privilege_name, Privilege};
use herald_core::{Query, Schema, SchemaError, Value};
use herald_store::{Dialect, Store, StoreError, Tx};
use thiserror::Error;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::state::{AppState, SharedState};

/// Why a schema change was not made.
#[derive(Debug, Error)]
pub enum TableChangeError {
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SchemaError> for TableChangeError {
    fn from(e: SchemaError) -> Self {
        TableChangeError::Change(e.into())
    }
}

/// At start: serve the base schema with the stored definitions applied,
/// and make sure the store has their tables, columns and indexes.
pub async fn load(store: &Store, base: &Schema) -> Result<(), StoreError> {
    let (version, defs) = store.definitions().await?;
    if defs.tables.is_empty() {
        store.live_schema().set(version, Arc::new(base.clone()));
        return Ok(());
    }
    let schema = defs.schema(base).map_err(|e| {
        StoreError::Invalid(format!(
            "the tables created through the metadata API no longer fit the configuration: {e}"
        ))
    })?;
    store.live_schema().set(version, Arc::new(schema));
    store.migrate().await
}

/// Reload the schema if another node changed it; whether it did.
pub async fn refresh(state: &AppState) -> Result<bool, StoreError> {
    let store = &state.store;
    if store.dialect() == Dialect::Sqlite {
        return Ok(false);
    }
    if store.stored_schema_version().await? == store.live_schema().version() {
        return Ok(false);
    }
    let (version, defs) = store.definitions().await?;
    let schema = defs
        .schema(&state.base_schema)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(store.live_schema().set(version, Arc::new(schema)))
}

/// Whether the stored schema moved since version `since` (what a request
/// was answered with), on either store; if it did and this node serves an
/// older one, serve the stored one. A request that failed against a
/// schema that changed under it (a column dropped between reading the
/// schema and running the statement: `no such column`) is answered again
/// with the new schema, so it sees the old schema or the new one, never
/// the change half made.
pub async fn moved_since(state: &AppState, since: i64) -> Result<bool, StoreError> {
    let store = &state.store;
    let stored = store.stored_schema_version().await?;
    if stored == since {
        return Ok(false);
    }
    if stored > store.live_schema().version() {
        let (version, defs) = store.definitions().await?;
        let schema = defs
            .schema(&state.base_schema)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        store.live_schema().set(version, Arc::new(schema));
    }
    Ok(true)
}

/// Keep this node's schema current in the background (PostgreSQL only).
pub fn spawn_refresher(state: SharedState) -> Option<JoinHandle<()>> {
    state.store.pg_pool()?;
    let every = state.config.jobs.poll_interval;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = refresh(&state).await {
                tracing::warn!(error = %e, "cannot check the schema version");
            }
        }
    }))
}

/// Make schema changes, in order and all or none (see the module doc);
/// the schema after them.
pub async fn change(
    state: &AppState,
    changes: &[SchemaChange],
    now: DateTime<Utc>,
    user: Uuid,
) -> Result<Arc<Schema>, TableChangeError> {
    let _changing = state.store.live_schema().change_started();
    let mut tx = state.store.begin().await?;
    let (version, before) = tx.lock_definitions().await?;
    let mut current = before.schema(&state.base_schema)?;
    let mut after = before.clone();
    for change in changes {
        let schema = after.apply(&state.base_schema, &current, change)?;
        match change {
            SchemaChange::DeleteTable(name) => {
                refuse_if_steps(&mut tx, &current, name).await?;
                delete_filters(&mut tx, &current, name).await?;
                delete_privileges(&mut tx, &current, name).await?;
                state.security.changed(&mut tx).await?;
            }
            SchemaChange::DeleteColumn { table, column } => {
                refuse_if_filtered(&mut tx, &current, table, column).await?;
            }
            SchemaChange::DeleteManyToMany(intersect) => {
                delete_privileges(&mut tx, &current, intersect).await?;
                state.security.changed(&mut tx).await?;
            }
            _ => {}
        }
        tx.apply_schema_change(&current, &schema, change).await?;
        if let SchemaChange::CreateTable { logical_name, .. } = change {
            if let Some(table) = schema.table(logical_name) {
                crate::bootstrap::ensure_message_filters(&mut tx, &schema, table, now, user)
                    .await?;
            }
        }
        current = schema;
    }
    if changes.iter().any(|c| {
        matches!(
            c,
            SchemaChange::CreateTable { .. } | SchemaChange::CreateManyToMany(_)
        )
    }) {
        // A new table's privileges, granted to the built-in roles as at
        // start (and the roles' caches invalidated on every node).
        let now = Value::DateTime(now);
        crate::bootstrap::security_rows(&mut tx, &current, &now, state.org.admin_user_id).await?;
    }
    tx.save_definitions(&before, &after, version + 1).await?;
    tx.commit().await?;
    let schema = Arc::new(current);
    state.store.live_schema().set(version + 1, schema.clone());
    Ok(schema)
}

fn eq(column: &str, value: Value) -> Condition {
    Condition::Compare {
        column: ColumnRef::new(column),
        op: CompareOp::Eq,
        value,
    }
}

/// A table with steps registered on it cannot go.
async fn refuse_if_steps(
    tx: &mut Tx,
    schema: &Schema,
    table: &str,
) -> Result<(), TableChangeError> {
    if schema.table("sdkmessageprocessingstep").is_none() {
        return Ok(());
    }
    let mut q = Query::all("sdkmessageprocessingstep");
    q.select = vec!["name".into()];
    q.filter = Some(Condition::In {
        column: ColumnRef::new("sdkmessagefilterid"),
        values: MESSAGES
            .iter()
            .map(|m| Value::Guid(message_filter_id(m, table)))
            .collect(),
        negated: false,
    });
    let steps = tx.fetch(&q, Some(1), 0).await?;
    if let Some(step) = steps.first() {
        let name = step
            .get("name")
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        return Err(ChangeError::InUse(format!(
            "The table '{table}' cannot be deleted: the step '{name}' (sdkmessageprocessingstep) is registered on it; delete its steps first"
        ))
        .into());
    }
    Ok(())
}

/// A column a step filters on (`filteringattributes`) stays while the
/// step does.
async fn refuse_if_filtered(
    tx: &mut Tx,
    schema: &Schema,
    table: &str,
    column: &str,
) -> Result<(), TableChangeError> {
    if schema.table("sdkmessageprocessingstep").is_none() {
        return Ok(());
    }
    let mut q = Query::all("sdkmessageprocessingstep");
    q.select = vec!["name".into(), "filteringattributes".into()];
    q.filter = Some(Condition::And(vec![
        eq(
            "sdkmessagefilterid",
            Value::Guid(message_filter_id("Update", table)),
        ),
        Condition::Null {
            column: ColumnRef::new("filteringattributes"),
            negated: true,
        },
    ]));
    for step in tx.fetch(&q, None, 0).await? {
        let text = |name: &str| match step.get(name) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        if text("filteringattributes")
            .split(',')
            .any(|a| a.trim().eq_ignore_ascii_case(column))
        {
            return Err(ChangeError::InUse(format!(
                "The attribute '{column}' cannot be deleted: the step '{}' filters on it (filteringattributes)",
                text("name")
            ))
            .into());
        }
    }
    Ok(())
}

/// A deleted table's privileges (`prvCreate<table>`, …) go with it, and
/// every role's grant of them (`roleprivileges`, built-in roles or not).
async fn delete_privileges(tx: &mut Tx, schema: &Schema, table: &str) -> Result<(), StoreError> {
    let (Some(privileges), Some(links)) =
        (schema.table("privilege"), schema.table("roleprivileges"))
    else {
        return Ok(());
    };
    let ids: Vec<Uuid> = Privilege::ALL
        .iter()
        .map(|p| privilege_id(&privilege_name(table, *p)))
        .collect();
    let mut q = Query::all("roleprivileges");
    q.select = vec![links.primary_id.clone()];
    q.filter = Some(Condition::In {
        column: ColumnRef::new("privilegeid"),
        values: ids.iter().map(|id| Value::Guid(*id)).collect(),
        negated: false,
    });
    for link in tx.fetch(&q, None, 0).await? {
        if let Some(id) = link.guid(&links.primary_id) {
            tx.delete(links, id).await?;
        }
    }
    for id in ids {
        tx.delete(privileges, id).await?;
    }
    Ok(())
}

async fn delete_filters(tx: &mut Tx, schema: &Schema, table: &str) -> Result<(), StoreError> {
    let Some(filters) = schema.table("sdkmessagefilter") else {
        return Ok(());
    };
    for m in MESSAGES {
        tx.delete(filters, message_filter_id(m, table)).await?;
    }
    Ok(())
}
