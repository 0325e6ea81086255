//! herald's own settings (`herald_setting`): named text values kept in the
//! store, such as the registration version that tells every node of a
//! PostgreSQL deployment to reload its step cache.

use crate::conn::Conn;
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::Tx;

/// The settings table: one text value per name.
pub(crate) const DDL: &[&str] = &["CREATE TABLE IF NOT EXISTS herald_setting (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )"];

impl Tx {
    pub async fn setting(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        self.conn().await?.setting(name).await
    }

    pub async fn put_setting(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        self.conn().await?.put_setting(name, value).await
    }
}

impl Conn<'_> {
    pub async fn setting(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT value FROM herald_setting WHERE name = ")
            .bind(Param::Text(Some(name.to_string())));
        Ok(self.fetch_strings(&sql).await?.into_iter().next())
    }

    pub async fn put_setting(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_setting (name, value) VALUES (")
            .bind(Param::Text(Some(name.to_string())))
            .push(", ")
            .bind(Param::Text(Some(value.to_string())))
            .push(") ON CONFLICT (name) DO UPDATE SET value = excluded.value");
        self.execute(&sql).await.map(|_| ())
    }
}
