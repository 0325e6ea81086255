//! Tables, columns and keys made through the metadata API: their stored
//! definitions (`herald_table_definition`, one JSON document per table
//! the API touched), the schema version every node compares with its own
//! (`herald_setting` `schema`), the DDL of each change (run in the
//! change's transaction: both stores take DDL transactionally), and
//! [`LiveSchema`], the schema a running store serves, replaced as a whole
//! when it changes.
//!
//! A change runs as: [`Tx::lock_definitions`] (PostgreSQL: an advisory
//! lock, so two nodes changing the schema at once take turns, and the
//! second sees the first's table), the checks and the new schema (in
//! herald-core), [`Tx::apply_schema_change`] (DDL), then
//! [`Tx::save_definitions`] (the documents and the next version), commit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use herald_core::schema::{Definitions, SchemaChange, TableDefinition};
use herald_core::{Schema, Table};

use crate::conn::Conn;
use crate::dialect::Dialect;
use crate::error::StoreError;
use crate::sql::{ident, Param, Sql};
use crate::{ddl, Store, Tx};

pub(crate) const DDL: &[&str] = &["CREATE TABLE IF NOT EXISTS herald_table_definition (
        logical_name TEXT PRIMARY KEY,
        definition TEXT NOT NULL
    )"];

/// The `herald_setting` that counts schema changes.
const VERSION_SETTING: &str = "schema";

/// Serialises schema changes across the nodes of a PostgreSQL deployment.
const SCHEMA_LOCK: i64 = 7_368_003;

/// The schema a store serves and the stored version it was built from.
pub struct LiveSchema {
    current: RwLock<(i64, Arc<Schema>)>,
    /// Schema changes this node is making (begun, not yet served).
    changing: AtomicUsize,
}

/// A schema change in progress on this node ([`LiveSchema::change_started`]),
/// until dropped.
pub struct Changing<'a>(&'a AtomicUsize);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LiveSchema {
    pub fn new(schema: Arc<Schema>) -> LiveSchema {
        LiveSchema {
            current: RwLock::new((0, schema)),
            changing: AtomicUsize::new(0),
        }
    }

    /// Note a schema change this node begins; it ends when the guard is
    /// dropped (after the new schema is served, or the change failed).
    pub fn change_started(&self) -> Changing<'_> {
        self.changing.fetch_add(1, Ordering::SeqCst);
        Changing(&self.changing)
    }

    /// Whether this node is making a schema change now: on SQLite a write
    /// that shares its transaction with one sees its DDL before the new
    /// schema is served.
    pub fn is_changing(&self) -> bool {
        self.changing.load(Ordering::SeqCst) > 0
    }

    pub fn get(&self) -> Arc<Schema> {
        self.read().1.clone()
    }

    pub fn version(&self) -> i64 {
        self.read().0
    }

    /// The version and the schema built from it, read together.
    pub fn current(&self) -> (i64, Arc<Schema>) {
        let guard = self.read();
        (guard.0, guard.1.clone())
    }

    /// Serve `schema`, built from stored version `version`, unless a
    /// newer one is served already (two refreshes racing).
    pub fn set(&self, version: i64, schema: Arc<Schema>) -> bool {
        let mut guard = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if version < guard.0 {
            return false;
        }
        *guard = (version, schema);
        true
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (i64, Arc<Schema>)> {
        match self.current.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Store {
    /// The stored schema version (0 before the first change).
    pub async fn stored_schema_version(&self) -> Result<i64, StoreError> {
        crate::read::on_reader!(self, |c| c.schema_version().await)
    }

    /// The stored version and every stored definition.
    pub async fn definitions(&self) -> Result<(i64, Definitions), StoreError> {
        crate::read::on_reader!(self, |c| {
            let version = c.schema_version().await?;
            Ok((version, c.definitions().await?))
        })
    }
}

impl Tx {
    /// Take the schema lock (PostgreSQL; SQLite's single writer already
    /// serialises) and read the version and definitions as they are now.
    pub async fn lock_definitions(&mut self) -> Result<(i64, Definitions), StoreError> {
        if self.dialect() == Dialect::Postgres {
            self.conn()
                .await?
                .execute_raw(&format!("SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"))
                .await?;
        }
        let mut c = self.conn().await?;
        let version = c.schema_version().await?;
        Ok((version, c.definitions().await?))
    }

    /// Store `after` (documents that changed or went since `before`) and
    /// `version` as the schema version.
    pub async fn save_definitions(
        &mut self,
        before: &Definitions,
        after: &Definitions,
        version: i64,
    ) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        for name in before.tables.keys() {
            if !after.tables.contains_key(name) {
                let mut sql = Sql::default();
                sql.push("DELETE FROM herald_table_definition WHERE logical_name = ")
                    .bind(Param::Text(Some(name.clone())));
                c.execute(&sql).await?;
            }
        }
        for (name, def) in &after.tables {
            if before.tables.get(name) == Some(def) {
                continue;
            }
            let json =
                serde_json::to_string(def).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let mut sql = Sql::default();
            sql.push("INSERT INTO herald_table_definition (logical_name, definition) VALUES (")
                .bind(Param::Text(Some(name.clone())))
                .push(", ")
                .bind(Param::Text(Some(json)))
                .push(
                    ") ON CONFLICT (logical_name) DO UPDATE SET definition = excluded.definition",
                );
            c.execute(&sql).await?;
        }
        c.put_setting(VERSION_SETTING, &version.to_string()).await?;
        // Written past the transaction's copy of the settings.
        self.forget_settings();
        Ok(())
    }

    /// The DDL of `change`: `old` is the schema before it, `new` after.
    pub async fn apply_schema_change(
        &mut self,
        old: &Schema,
        new: &Schema,
        change: &SchemaChange,
    ) -> Result<(), StoreError> {
        let dialect = self.dialect();
        let table_of = |schema: &Schema, name: &str| -> Result<Table, StoreError> {
            schema
                .table(name)
                .cloned()
                .ok_or_else(|| StoreError::Invalid(format!("no table '{name}'")))
        };
        let mut statements = Vec::new();
        match change {
            SchemaChange::CreateTable { logical_name, .. } => {
                let t = table_of(new, logical_name)?;
                statements.push(ddl::create_table(dialect, &t));
                statements.extend(ddl::indexes(dialect, &t));
            }
            SchemaChange::CreateManyToMany(m) => {
                let t = table_of(new, &m.intersect)?;
                statements.push(ddl::create_table(dialect, &t));
                statements.extend(ddl::indexes(dialect, &t));
                // `$expand` and navigation find a row's links by either side.
                for column in [&m.entity1_attribute, &m.entity2_attribute] {
                    statements.push(format!(
                        "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                        ident(&format!("ix_{}_{column}", m.intersect)),
                        ident(&m.intersect),
                        ident(column)
                    ));
                }
            }
            SchemaChange::DeleteTable(name) | SchemaChange::DeleteManyToMany(name) => {
                statements.push(format!("DROP TABLE IF EXISTS {}", ident(name)));
            }
            SchemaChange::AddColumn { table, column } => {
                let t = table_of(new, table)?;
                statements.extend(ddl::add_column(dialect, &t, &column.logical_name));
                statements.extend(ddl::indexes(dialect, &t));
            }
            SchemaChange::DeleteColumn { table, column } => {
                let t = table_of(old, table)?;
                if t.column(column).is_some_and(|c| c.is_lookup()) {
                    statements.push(format!(
                        "DROP INDEX IF EXISTS {}",
                        ident(&ddl::lookup_index_name(&t, column))
                    ));
                }
                statements.push(format!(
                    "ALTER TABLE {} DROP COLUMN {}",
                    ident(table),
                    ident(column)
                ));
            }
            SchemaChange::AddKey { table, key } => {
                let t = table_of(new, table)?;
                statements.push(ddl::key_index(&t, key));
            }
            SchemaChange::DeleteKey { table, key } => {
                statements.push(format!(
                    "DROP INDEX IF EXISTS {}",
                    ident(&ddl::key_index_name(table, key))
                ));
            }
            SchemaChange::UpdateColumn { .. } | SchemaChange::UpdateTable { .. } => {}
        }
        for stmt in statements {
            let result = self.conn().await?.execute_raw(&stmt).await;
            match (result, change) {
                (Ok(_), _) => {}
                (
                    Err(StoreError::Database(sqlx::Error::Database(db))),
                    SchemaChange::AddKey { key, .. },
                ) if db.is_unique_violation() || db.message().contains("UNIQUE") => {
                    return Err(StoreError::Invalid(format!(
                        "The alternate key '{}' cannot be created: some rows already have the same values in {}",
                        key.schema_name,
                        key.columns.join(", ")
                    )));
                }
                (Err(e), _) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Conn<'_> {
    async fn schema_version(&mut self) -> Result<i64, StoreError> {
        Ok(self
            .setting(VERSION_SETTING)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    async fn definitions(&mut self) -> Result<Definitions, StoreError> {
        let sql = Sql {
            text: "SELECT definition FROM herald_table_definition ORDER BY logical_name".into(),
            params: vec![],
        };
        let mut list = Vec::new();
        for text in self.fetch_strings(&sql).await? {
            let def: TableDefinition = serde_json::from_str(&text).map_err(|e| {
                StoreError::Invalid(format!("a stored table definition does not parse: {e}"))
            })?;
            list.push(def);
        }
        Ok(Definitions::from_list(list))
    }
}
