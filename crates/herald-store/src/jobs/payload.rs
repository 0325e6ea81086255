//! A System Job's context payload: the serialized RemoteExecutionContext
//! (`asyncoperation.data`, ~5 KB), written once with the job into its own
//! table, `herald_job_payload`, and never rewritten.
//!
//! Everything that happens to a job later — a claim, In Progress, its
//! outcome, a cancel or retry — changes the asyncoperation row; kept out
//! of that row, the context is not copied by each of those writes (SQLite
//! rewrites a whole row and its overflow pages on any update, PostgreSQL
//! writes a new version of the row with its inline value). The row keeps
//! its `data` column, NULL for jobs written since; rows written before
//! keep theirs there.
//!
//! Reads see asyncoperation exactly as before, `data` included: the query
//! builder reads the view [`READ_VIEW`] in place of the table
//! ([`crate::sql::source`]), the row joined with its payload. Both stores
//! drop that join when a query does not select `data` (it is on the
//! payload's primary key).

use herald_core::{Table, Value};

use crate::sql::{ident, Param};
use crate::{StoreError, Tx};

/// The asyncoperation table as the Web API reads it (row and payload).
pub(crate) const READ_VIEW: &str = "herald_asyncoperation_read";

/// The table of the context payloads.
pub(crate) const DDL: &str = "CREATE TABLE IF NOT EXISTS herald_job_payload (
        asyncoperationid TEXT PRIMARY KEY,
        data TEXT NOT NULL
    )";

/// The statements that (re)create [`READ_VIEW`] over the asyncoperation
/// table's current columns (run at every start, after the table is up to
/// date).
pub(crate) fn view_ddl(table: &Table) -> [String; 2] {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let name = ident(&c.name);
            if c.name == "data" {
                format!("COALESCE(p.data, a.{name}) AS {name}")
            } else {
                format!("a.{name}")
            }
        })
        .collect();
    [
        format!("DROP VIEW IF EXISTS {READ_VIEW}"),
        format!(
            "CREATE VIEW {READ_VIEW} AS SELECT {} FROM {} a LEFT JOIN herald_job_payload p ON p.asyncoperationid = a.{}",
            columns.join(", "),
            ident(&table.logical_name),
            ident(&table.primary_id)
        ),
    ]
}

impl Tx {
    /// Insert a new System Job's asyncoperation row (`table`), its `data`
    /// going to the payload table instead of the row.
    pub async fn insert_system_job(
        &mut self,
        table: &Table,
        mut row: Vec<(String, Value)>,
    ) -> Result<(), StoreError> {
        let data = match row.iter().position(|(c, _)| c == "data") {
            Some(i) => row.swap_remove(i).1,
            None => Value::Null,
        };
        let id = row
            .iter()
            .find(|(c, _)| c == &table.primary_id)
            .and_then(|(_, v)| v.as_guid())
            .ok_or_else(|| StoreError::Invalid("a System Job without its id".into()))?;
        self.insert(table, &row).await?;
        if let Value::String(data) = data {
            self.batch(|sql| {
                sql.push("INSERT INTO herald_job_payload (asyncoperationid, data) VALUES (")
                    .bind(Param::text(id))
                    .push(", ")
                    .bind(Param::Text(Some(data)))
                    .push(")");
            })
            .await?;
        }
        Ok(())
    }
}
