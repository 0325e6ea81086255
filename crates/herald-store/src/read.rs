//! Reading rows on either backend, with the SQLite and PostgreSQL arms
//! written once: [`on_reader!`] runs code on a [`Conn`](crate::conn::Conn)
//! of the store's read pool, [`rows!`] runs a statement on that pool and
//! builds a value from each row (`conn::conn_rows!` does the same on any
//! connection). sqlx's rows have a type per backend, so the building
//! expression is expanded once per arm; a generic function would need a
//! `sqlx::Database` bound for every column type it decodes.

use uuid::Uuid;

use crate::error::StoreError;

/// A UUID read from a text column.
pub(crate) fn uuid(s: String) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&s).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// The rows of `$sql` on the store's read pool, each built by `$make`
/// from `$r`.
macro_rules! rows {
    ($self:expr, $sql:expr, |$r:ident| $make:expr) => {{
        let mut out = Vec::new();
        match &$self.backend {
            $crate::Backend::Sqlite { reader, .. } => {
                for $r in reader.rows($sql).await? {
                    out.push($make);
                }
            }
            $crate::Backend::Postgres(p) => {
                for $r in crate::conn::bound_query($sql).fetch_all(p).await? {
                    out.push($make);
                }
            }
        }
        out
    }};
}
pub(crate) use rows;

/// `$body` with `$c` bound to a [`Conn`](crate::conn::Conn) on a connection
/// of the store's read pool (SQLite's readers, PostgreSQL's one pool).
macro_rules! on_reader {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { reader, .. } => {
                let mut pooled = reader.acquire().await?;
                let done = {
                    let mut $c = $crate::conn::Conn::Sqlite(&mut pooled);
                    $body
                };
                pooled.finished();
                done
            }
            $crate::Backend::Postgres(p) => {
                let mut pooled = p.acquire().await?;
                let mut $c = $crate::conn::Conn::Pg(&mut pooled);
                $body
            }
        }
    };
}
pub(crate) use on_reader;
