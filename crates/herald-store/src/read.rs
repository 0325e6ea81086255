//! Reading rows on either backend, with the SQLite and PostgreSQL arms
//! written once: [`rows!`] runs a statement on the store's read pool and
//! builds a value from each row (sqlx's rows have a type per backend, so the
//! building expression is expanded once per arm).

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
            Backend::Sqlite { reader, .. } => {
                for $r in crate::conn::bound_query($sql).fetch_all(reader).await? {
                    out.push($make);
                }
            }
            Backend::Postgres(p) => {
                for $r in crate::conn::bound_query($sql).fetch_all(p).await? {
                    out.push($make);
                }
            }
        }
        out
    }};
}
pub(crate) use rows;
