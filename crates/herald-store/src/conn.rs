//! A borrowed connection of either backend (inside a transaction or from a
//! pool) and the row operations on it. The SQL text is shared; running it
//! is written once for both backends through [`on_conn!`] (and
//! [`conn_rows!`] on top of it), decoding a column through `decode!`.

use herald_core::schema::{ColumnType, Storage};
use herald_core::value::datetime_from_millis;
use herald_core::{Query, Schema, Table, Value};
use sqlx::{PgConnection, Row, SqliteConnection};
use uuid::Uuid;

use crate::error::StoreError;
use crate::record::Record;
use crate::sql::{self, ident, OutputColumn, Param, Sql};

pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

/// `$body` with `$q`, the statement `$sql` with its parameters bound, and
/// `$c`, the connection of `$conn` to run it on: the one place that matches
/// a [`Conn`] to run SQL. On SQLite the statement runs with anonymous
/// placeholders ([`Sql::sqlite_text`]). The body is expanded once per
/// backend (sqlx's query and row types differ between them).
macro_rules! on_conn {
    ($conn:expr, $sql:expr, |$q:ident, $c:ident| $body:expr) => {{
        let sql: &$crate::sql::Sql = $sql;
        match $conn {
            $crate::conn::Conn::Sqlite(conn) => {
                let text = sql.sqlite_text();
                let $q = $crate::conn::bound_query_text(&text, sql);
                let $c = &mut **conn;
                $body
            }
            $crate::conn::Conn::Pg(conn) => {
                let $q = $crate::conn::bound_query(sql);
                let $c = &mut **conn;
                $body
            }
        }
    }};
}
pub(crate) use on_conn;

/// The rows of `$sql` on the connection `$conn`, each built by `$make` from
/// `$r` (see `conn::on_conn!`).
macro_rules! conn_rows {
    ($conn:expr, $sql:expr, |$r:ident| $make:expr) => {
        $crate::conn::on_conn!($conn, $sql, |query, conn| {
            let mut out = Vec::new();
            for $r in query.fetch_all(conn).await? {
                out.push($make);
            }
            out
        })
    };
}
pub(crate) use conn_rows;

/// `sqlx::query` with every parameter bound.
pub(crate) fn bound_query<'q, DB>(
    sql: &'q Sql,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<bool>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    bound_query_text(&sql.text, sql)
}

/// [`bound_query`] with other text for the same parameters (SQLite's
/// anonymous placeholders, [`Sql::sqlite_text`]).
pub(crate) fn bound_query_text<'q, DB>(
    text: &'q str,
    sql: &'q Sql,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<bool>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::query::<DB>(text);
    for p in &sql.params {
        q = match p {
            Param::Text(v) => q.bind(v.clone()),
            Param::Int(v) => q.bind(*v),
            Param::Real(v) => q.bind(*v),
            Param::Bool(v) => q.bind(*v),
        };
    }
    q
}

/// Decode one output column of a row into a `Value`.
macro_rules! decode {
    ($row:expr, $i:expr, $col:expr) => {{
        let col: &OutputColumn = $col;
        let i: usize = $i;
        match col.column.ty.storage() {
            Storage::Text => {
                let v: Option<String> = $row.try_get(i)?;
                match v {
                    None => Value::Null,
                    Some(s) => match col.column.ty {
                        ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => {
                            Uuid::parse_str(&s)
                                .map(Value::Guid)
                                .unwrap_or(Value::String(s))
                        }
                        _ => Value::String(s),
                    },
                }
            }
            Storage::Integer => {
                let v: Option<i64> = $row.try_get(i)?;
                match (v, &col.column.ty) {
                    (None, _) => Value::Null,
                    (Some(ms), ColumnType::DateTime) => datetime_from_millis(ms),
                    (Some(n), _) => Value::Int(n),
                }
            }
            Storage::Real => {
                let v: Option<f64> = $row.try_get(i)?;
                v.map(Value::Decimal).unwrap_or(Value::Null)
            }
            Storage::Boolean => {
                let v: Option<bool> = $row.try_get(i)?;
                v.map(Value::Bool).unwrap_or(Value::Null)
            }
        }
    }};
}

impl Conn<'_> {
    pub fn dialect(&self) -> crate::dialect::Dialect {
        match self {
            Conn::Sqlite(_) => crate::dialect::Dialect::Sqlite,
            Conn::Pg(_) => crate::dialect::Dialect::Postgres,
        }
    }

    pub async fn execute(&mut self, sql: &Sql) -> Result<u64, StoreError> {
        Ok(on_conn!(self, sql, |q, c| q
            .execute(c)
            .await?
            .rows_affected()))
    }

    pub async fn execute_raw(&mut self, text: &str) -> Result<u64, StoreError> {
        let sql = Sql {
            text: text.to_string(),
            params: vec![],
        };
        self.execute(&sql).await
    }

    /// Run a SELECT and decode its rows by the given output columns.
    pub async fn fetch_columns(
        &mut self,
        sql: &Sql,
        columns: &[OutputColumn],
    ) -> Result<Vec<Record>, StoreError> {
        Ok(conn_rows!(self, sql, |row| {
            let mut r = Record::default();
            for (i, col) in columns.iter().enumerate() {
                r.values.push((col.key.clone(), decode!(row, i, col)));
            }
            r
        }))
    }

    pub(crate) async fn fetch_i64(&mut self, sql: &Sql) -> Result<Option<i64>, StoreError> {
        Ok(on_conn!(self, sql, |q, c| q
            .fetch_optional(c)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?))
    }

    pub(crate) async fn fetch_strings(&mut self, sql: &Sql) -> Result<Vec<String>, StoreError> {
        Ok(conn_rows!(self, sql, |r| r.try_get::<String, _>(0)?))
    }

    pub async fn fetch(
        &mut self,
        schema: &Schema,
        query: &Query,
        limit: Option<u64>,
        offset: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let select = sql::select(self.dialect(), schema, query, limit, offset)?;
        self.fetch_columns(&select.sql, &select.columns).await
    }

    pub async fn count(&mut self, schema: &Schema, query: &Query) -> Result<i64, StoreError> {
        let sql = sql::count(self.dialect(), schema, query)?;
        Ok(self.fetch_i64(&sql).await?.unwrap_or(0))
    }

    /// Column names of an SQL table as they exist now.
    pub async fn column_names(&mut self, table: &str) -> Result<Vec<String>, StoreError> {
        let mut sql = Sql::default();
        match self {
            Conn::Sqlite(_) => {
                sql.push("SELECT name FROM pragma_table_info(")
                    .bind(Param::Text(Some(table.to_string())))
                    .push(")");
            }
            Conn::Pg(_) => {
                sql.push("SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ")
                    .bind(Param::Text(Some(table.to_string())));
            }
        }
        self.fetch_strings(&sql).await
    }

    pub async fn insert(
        &mut self,
        _schema: &Schema,
        table: &Table,
        values: &[(String, Value)],
    ) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        let id = insert_sql(&mut sql, table, values)?;
        match self.execute(&sql).await {
            Ok(_) => Ok(()),
            Err(StoreError::Database(e)) => Err(StoreError::from_write(e, &id)),
            Err(e) => Err(e),
        }
    }

    pub async fn update(
        &mut self,
        table: &Table,
        id: Uuid,
        values: &[(String, Value)],
    ) -> Result<u64, StoreError> {
        if values.is_empty() {
            return Ok(0);
        }
        let mut sql = Sql::default();
        sql.push("UPDATE ")
            .push(&ident(&table.logical_name))
            .push(" SET ");
        for (i, (name, v)) in values.iter().enumerate() {
            let col = table.column(name).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "table '{}' has no column '{}'",
                    table.logical_name, name
                ))
            })?;
            if i > 0 {
                sql.push(", ");
            }
            sql.push(&ident(name))
                .push(" = ")
                .bind(Param::encode(col.ty.storage(), v));
        }
        sql.push(" WHERE ")
            .push(&ident(&table.primary_id))
            .push(" = ")
            .bind(Param::Text(Some(id.to_string())));
        match self.execute(&sql).await {
            Ok(n) => Ok(n),
            Err(StoreError::Database(e)) => Err(StoreError::from_write(e, &id.to_string())),
            Err(e) => Err(e),
        }
    }

    pub async fn delete(&mut self, table: &Table, id: Uuid) -> Result<u64, StoreError> {
        let mut sql = Sql::default();
        sql.push("DELETE FROM ")
            .push(&ident(&table.logical_name))
            .push(" WHERE ")
            .push(&ident(&table.primary_id))
            .push(" = ")
            .bind(Param::Text(Some(id.to_string())));
        self.execute(&sql).await
    }
}

/// Append an `INSERT` of one row to `sql` (parameters numbered after those
/// already in it); returns the row's primary id as text, for errors.
pub(crate) fn insert_sql(
    sql: &mut Sql,
    table: &Table,
    values: &[(String, Value)],
) -> Result<String, StoreError> {
    sql.push("INSERT INTO ")
        .push_ident(&table.logical_name)
        .push(" (");
    for (i, (name, _)) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push_ident(name);
    }
    sql.push(") VALUES (");
    let mut id = String::new();
    for (i, (name, v)) in values.iter().enumerate() {
        let col = table.column(name).ok_or_else(|| {
            StoreError::Invalid(format!(
                "table '{}' has no column '{}'",
                table.logical_name, name
            ))
        })?;
        if name == &table.primary_id {
            id = v.as_guid().map(|g| g.to_string()).unwrap_or_default();
        }
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Param::encode(col.ty.storage(), v));
    }
    sql.push(")");
    Ok(id)
}
