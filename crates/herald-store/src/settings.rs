//! herald's own settings (`herald_setting`): named text values kept in the
//! store, such as the registration version that tells every node of a
//! PostgreSQL deployment to reload its step cache.
//!
//! Every write reads a version or two (the security roles', the
//! registrations'), so a transaction reads the whole (small) table once,
//! at its first [`Tx::setting`], and answers later reads from memory; its
//! own [`Tx::put_setting`]s update that copy. A bulk message of 1 000
//! records thus reads the settings once, not 2 000 times.

use sqlx::Row;

use crate::conn::{conn_rows, Conn};
use crate::error::StoreError;
use crate::sql::{Param, Sql};
use crate::{Tx, Written};

/// The settings table: one text value per name.
pub(crate) const DDL: &[&str] = &["CREATE TABLE IF NOT EXISTS herald_setting (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )"];

impl Tx {
    pub async fn setting(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        if self.settings.is_none() {
            // A SQLite write that has not taken the writer yet decides on
            // the published copy (checked when it takes it, `group`).
            if let Some((generation, copy)) = self.published_settings() {
                self.decide_on(generation, copy);
            }
        }
        if self.settings.is_none() {
            let sql = Sql {
                text: "SELECT name, value FROM herald_setting".into(),
                params: Vec::new(),
            };
            let rows = self.conn().await?.setting_rows(&sql).await?;
            self.settings = Some(rows.into_iter().collect());
        }
        Ok(self.settings.as_ref().and_then(|m| m.get(name).cloned()))
    }

    pub async fn put_setting(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        if name == crate::security::VERSION_SETTING {
            self.credentials_changed();
        }
        self.conn().await?.put_setting(name, value).await?;
        match &mut self.settings {
            Some(m) => {
                m.insert(name.to_string(), value.to_string());
                if self.settings_written == Written::No {
                    self.settings_written = Written::InCopy;
                }
            }
            None => self.settings_written = Written::PastCopy,
        }
        Ok(())
    }

    /// This transaction wrote settings past its copy: it drops the copy.
    pub(crate) fn forget_settings(&mut self) {
        self.settings = None;
        self.settings_written = Written::PastCopy;
    }
}

impl Conn<'_> {
    async fn setting_rows(&mut self, sql: &Sql) -> Result<Vec<(String, String)>, StoreError> {
        Ok(conn_rows!(self, sql, |r| (
            r.try_get::<String, _>(0)?,
            r.try_get::<String, _>(1)?
        )))
    }

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
