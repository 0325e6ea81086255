//! Schema synchronisation ("migrations"): creates herald's own tables and one
//! SQL table per schema table, adds columns that a newer config declares,
//! and creates the indexes queries rely on. Idempotent; runs at every start.

use herald_core::schema::Storage;
use herald_core::{Schema, Table};

use crate::sql::ident;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

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

/// herald's own bookkeeping tables (not visible through the Web API).
pub fn internal_tables() -> Vec<&'static str> {
    let mut out = vec![
        "CREATE TABLE IF NOT EXISTS herald_apikey (
            keyhash TEXT PRIMARY KEY,
            systemuserid TEXT NOT NULL,
            name TEXT NOT NULL,
            createdon BIGINT NOT NULL
        )",
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
        "CREATE INDEX IF NOT EXISTS ix_herald_job_ready ON herald_job (ready_at)",
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
        "CREATE TABLE IF NOT EXISTS herald_setting (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )",
    ];
    out.extend(crate::bc::internal_tables());
    out.extend(crate::bins::internal_tables());
    out
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

/// Indexes: every lookup (expand, relationship navigation, joins), plus the
/// ones the System Jobs and registration queries use.
pub fn indexes(dialect: Dialect, table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for c in &table.columns {
        if c.is_lookup() && c.name != "createdby" && c.name != "modifiedby" {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                ident(&format!("ix_{}_{}", table.logical_name, c.name)),
                ident(&table.logical_name),
                ident(&c.name)
            ));
        }
    }
    match table.logical_name.as_str() {
        "serviceendpoint" => out.push(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_serviceendpoint_name ON \"serviceendpoint\" (\"name\")"
                .to_string(),
        ),
        "asyncoperation" => {
            out.push("CREATE INDEX IF NOT EXISTS ix_asyncoperation_status ON \"asyncoperation\" (\"statuscode\", \"completedon\")".to_string());
            // The console's System Jobs list: newest first (`createdon DESC
            // NULLS LAST`, keyset-paged), optionally filtered on status, step
            // or table. PostgreSQL can walk an index backwards for that order
            // only if it sorts NULLs first; SQLite's ascending order already does.
            let createdon = match dialect {
                Dialect::Sqlite => "\"createdon\"",
                Dialect::Postgres => "\"createdon\" NULLS FIRST",
            };
            for (name, prefix) in [
                ("ix_asyncoperation_createdon", ""),
                ("ix_asyncoperation_status_createdon", "\"statuscode\", "),
                ("ix_asyncoperation_step_createdon", "\"owningextensionid\", "),
                ("ix_asyncoperation_table_createdon", "\"primaryentitytype\", "),
            ] {
                out.push(format!("CREATE INDEX IF NOT EXISTS {name} ON \"asyncoperation\" ({prefix}{createdon})"));
            }
        }
        _ => {}
    }
    out
}

pub fn all_tables(schema: &Schema) -> impl Iterator<Item = &Table> {
    schema.tables()
}
