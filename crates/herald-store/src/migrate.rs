//! Bringing a store's schema up to date ("migrations") at every start:
//! herald's own tables, each declared by the module that owns it (its
//! `DDL`), then one SQL table per schema table with the columns a newer
//! config adds and the indexes queries rely on ([`crate::ddl`]). Idempotent.

use crate::dialect::Dialect;
use crate::error::StoreError;
use crate::sql::Sql;
use crate::{bc, bins, ddl, definitions, jobs, keys, settings, Store};

/// herald's bookkeeping tables (not visible through the Web API), in the
/// order they are created.
const INTERNAL_TABLES: [&[&str]; 6] = [
    keys::DDL,
    jobs::DDL,
    settings::DDL,
    bc::DDL,
    bins::DDL,
    definitions::DDL,
];

impl Store {
    /// Bring the schema up to date: what [`Store::connect`] does after
    /// connecting. Idempotent.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let dialect = self.dialect();
        let mut tx = self.begin().await?;
        if dialect == Dialect::Postgres {
            // Several nodes may start at once: serialise their migrations.
            tx.conn()
                .await?
                .execute_raw("SELECT pg_advisory_xact_lock(7368001)")
                .await?;
        }
        for stmt in INTERNAL_TABLES.iter().copied().flatten() {
            tx.conn().await?.execute_raw(stmt).await?;
        }
        let schema = self.schema();
        for table in schema.tables() {
            tx.conn()
                .await?
                .execute_raw(&ddl::create_table(dialect, table))
                .await?;
            let existing = tx.conn().await?.column_names(&table.logical_name).await?;
            for c in &table.columns {
                if !existing.iter().any(|e| e == &c.name) {
                    if let Some(stmt) = ddl::add_column(dialect, table, &c.name) {
                        tx.conn().await?.execute_raw(&stmt).await?;
                    }
                }
            }
            for stmt in ddl::indexes(dialect, table) {
                tx.conn().await?.execute_raw(&stmt).await?;
            }
            if table.logical_name == "asyncoperation" {
                for stmt in jobs::payload::view_ddl(table) {
                    tx.conn().await?.execute_raw(&stmt).await?;
                }
            }
        }
        if schema.table("serviceendpoint").is_some() {
            let count = Sql {
                text: ddl::endpoint_name_case_duplicates(dialect),
                params: vec![],
            };
            let duplicates = tx.conn().await?.fetch_i64(&count).await?.unwrap_or(0);
            if duplicates > 0 {
                tracing::warn!(
                    names = duplicates,
                    "some webhook (serviceendpoint) names differ only in case: rename them so that names are unique regardless of case"
                );
            }
            for stmt in ddl::endpoint_name_indexes(dialect, duplicates > 0) {
                tx.conn().await?.execute_raw(&stmt).await?;
            }
        }
        tx.commit().await
    }
}
