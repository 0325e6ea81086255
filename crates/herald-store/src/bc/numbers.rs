//! Number series counters (`herald_bc_number_series`): the last number
//! drawn per company and entity, advanced by one atomic upsert, so two
//! creates never draw the same number — concurrent requests, or nodes
//! sharing one PostgreSQL database. A draw is its own short transaction: a
//! create that then fails leaves a gap, as BC's series allow.

use uuid::Uuid;

use super::{i, out};
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::Store;

impl Store {
    /// Draw the next number of `entity`'s series in `company`: `start` the
    /// first time, then `step` past the last drawn.
    pub async fn bc_next_number(
        &self,
        company: Uuid,
        entity: &str,
        start: i64,
        step: i64,
    ) -> Result<i64, StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bc_number_series (companyid, entity, last) VALUES (")
            .bind_list([
                Param::text(company.to_string()),
                Param::text(entity),
                Param::int(start),
            ])
            .push(") ON CONFLICT (companyid, entity) DO UPDATE SET last = herald_bc_number_series.last + ")
            .bind(Param::int(step))
            .push(" RETURNING last");
        let mut tx = self.begin().await?;
        let rows = tx
            .conn()
            .await?
            .fetch_columns(&sql, &out(&[("last", true)]))
            .await?;
        tx.commit().await?;
        Ok(rows.first().map(|r| i(r, "last")).unwrap_or(start))
    }
}
