//! The DDL of the schema's tables: one SQL table per schema table, the
//! columns a newer config adds, and the indexes queries rely on. herald's
//! own bookkeeping tables are not here: each module that owns one declares
//! its `DDL` next to its queries, and `migrate.rs` runs them all.

use herald_core::schema::{AlternateKey, Storage};
use herald_core::Table;

use crate::dialect::Dialect;
use crate::sql::{fold, ident};

pub fn storage_type(dialect: Dialect, storage: Storage) -> &'static str {
    match (dialect, storage) {
        (_, Storage::Text) => "TEXT",
        (Dialect::Sqlite, Storage::Integer) => "INTEGER",
        (Dialect::Postgres, Storage::Integer) => "BIGINT",
        (Dialect::Sqlite, Storage::Real) => "REAL",
        (Dialect::Postgres, Storage::Real) => "DOUBLE PRECISION",
        (_, Storage::Boolean) => "BOOLEAN",
    }
}

pub fn create_table(dialect: Dialect, table: &Table) -> String {
    let mut cols = Vec::new();
    for c in &table.columns {
        let ty = storage_type(dialect, c.ty.storage());
        if c.name == table.primary_id {
            cols.push(format!("{} {} PRIMARY KEY", ident(&c.name), ty));
        } else {
            cols.push(format!("{} {}", ident(&c.name), ty));
        }
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        ident(&table.logical_name),
        cols.join(", ")
    )
}

pub fn add_column(dialect: Dialect, table: &Table, column: &str) -> Option<String> {
    let c = table.column(column)?;
    Some(format!(
        "ALTER TABLE {} ADD COLUMN {} {}",
        ident(&table.logical_name),
        ident(&c.name),
        storage_type(dialect, c.ty.storage())
    ))
}

/// The name of the index on a lookup column.
pub fn lookup_index_name(table: &Table, column: &str) -> String {
    format!("ix_{}_{}", table.logical_name, column)
}

/// The name of the unique index that keeps an alternate key unique.
pub fn key_index_name(table: &str, key: &str) -> String {
    format!("ak_{table}_{key}")
}

/// The unique index of an alternate key.
pub fn key_index(table: &Table, key: &AlternateKey) -> String {
    let columns: Vec<String> = key.columns.iter().map(|c| ident(c)).collect();
    format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})",
        ident(&key_index_name(&table.logical_name, &key.logical_name)),
        ident(&table.logical_name),
        columns.join(", ")
    )
}

/// Indexes: every lookup (expand, relationship navigation, joins), every
/// alternate key (unique), plus the ones the System Jobs and registration
/// queries use.
pub fn indexes(dialect: Dialect, table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for c in &table.columns {
        if c.is_lookup() && c.name != "createdby" && c.name != "modifiedby" {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                ident(&lookup_index_name(table, &c.name)),
                ident(&table.logical_name),
                ident(&c.name)
            ));
        }
    }
    for key in &table.details.keys {
        out.push(key_index(table, key));
    }
    // The audit trail is listed newest first, per record, and purged by age.
    if table.logical_name == "audit" {
        out.push(
            "CREATE INDEX IF NOT EXISTS ix_audit_createdon ON \"audit\" (\"createdon\")"
                .to_string(),
        );
        out.push("CREATE INDEX IF NOT EXISTS ix_audit_objectid ON \"audit\" (\"objectid\", \"createdon\")".to_string());
    }
    // serviceendpoint's name has its own: see `endpoint_name_indexes`.
    if table.logical_name == "asyncoperation" {
        out.push("CREATE INDEX IF NOT EXISTS ix_asyncoperation_status ON \"asyncoperation\" (\"statuscode\", \"completedon\")".to_string());
        // The failed jobs of one step, latest first: the query the
        // webhook docs give (`statuscode eq 31 and _owningextensionid_value
        // eq @stepid`, `$orderby=completedon desc`) as one index range,
        // whatever the planner knows. Without it PostgreSQL, lacking
        // statistics, intersected the step and status indexes over every
        // job of the step: 124 ms for 1 000 failed among 1 000 000.
        out.push("CREATE INDEX IF NOT EXISTS ix_asyncoperation_step_status_completedon ON \"asyncoperation\" (\"owningextensionid\", \"statuscode\", \"completedon\")".to_string());
        // The console's System Jobs list: newest first (`createdon DESC
        // NULLS LAST`, keyset-paged), optionally filtered on status, step
        // or table. PostgreSQL can walk an index backwards for that order
        // only if it sorts NULLs first; SQLite's ascending order already does.
        let createdon = match dialect {
            Dialect::Sqlite => "\"createdon\"",
            Dialect::Postgres => "\"createdon\" NULLS FIRST",
        };
        // The table filter compares case-insensitively, on the folded
        // column (`sql::fold`); the index on the bare column it replaces
        // is dropped.
        let by_table = format!("{}, ", fold(dialect, "\"primaryentitytype\""));
        for (name, prefix) in [
            ("ix_asyncoperation_createdon", ""),
            ("ix_asyncoperation_status_createdon", "\"statuscode\", "),
            (
                "ix_asyncoperation_step_createdon",
                "\"owningextensionid\", ",
            ),
            ("ix_asyncoperation_tablefold_createdon", by_table.as_str()),
        ] {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS {name} ON \"asyncoperation\" ({prefix}{createdon})"
            ));
        }
        out.push("DROP INDEX IF EXISTS ix_asyncoperation_table_createdon".to_string());
    }
    out
}

/// How many folded serviceendpoint names (`sql::fold`) more than one row
/// shares: rows from before names compared case-insensitively.
pub fn endpoint_name_case_duplicates(dialect: Dialect) -> String {
    format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM \"serviceendpoint\" GROUP BY {} HAVING COUNT(*) > 1) d",
        fold(dialect, "\"name\"")
    )
}

/// serviceendpoint names are unique regardless of ASCII case, as the API
/// checks them and as lookups by name compare them: a unique index on the
/// folded name, which also serves those lookups. A database holding names
/// that differ only in case (`case_duplicates`, from before) keeps the
/// unique index on the exact name plus a plain one on the folded name,
/// until they are renamed.
pub fn endpoint_name_indexes(dialect: Dialect, case_duplicates: bool) -> Vec<String> {
    let folded = fold(dialect, "\"name\"");
    if case_duplicates {
        vec![
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_serviceendpoint_name ON \"serviceendpoint\" (\"name\")".to_string(),
            format!("CREATE INDEX IF NOT EXISTS ix_serviceendpoint_name_fold ON \"serviceendpoint\" ({folded})"),
        ]
    } else {
        vec![
            format!("CREATE UNIQUE INDEX IF NOT EXISTS ux_serviceendpoint_name_fold ON \"serviceendpoint\" ({folded})"),
            "DROP INDEX IF EXISTS ux_serviceendpoint_name".to_string(),
            "DROP INDEX IF EXISTS ix_serviceendpoint_name_fold".to_string(),
        ]
    }
}
