//! Request bins (herald's built-in request inspector): each bin keeps the
//! last requests sent to its URL — method, path, query, headers, raw body.

use sqlx::Row;
use uuid::Uuid;

use crate::error::StoreError;
use crate::read::{rows, uuid};
use crate::sql::{Param, Sql};
use crate::Store;

/// The bins and their captured requests.
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS herald_bin (
        binid TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        createdon BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS herald_bin_request (
        requestid TEXT PRIMARY KEY,
        binid TEXT NOT NULL,
        receivedon BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        query TEXT,
        headers TEXT NOT NULL,
        body TEXT NOT NULL,
        bodysize BIGINT NOT NULL,
        truncated BOOLEAN NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ix_herald_bin_request ON herald_bin_request (binid, seq)",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub id: Uuid,
    pub name: String,
    pub created_ms: i64,
}

/// One captured request. `headers` is a JSON array of [name, value] pairs;
/// `body` is the body as text (lossy UTF-8), cut at the bin's size cap.
#[derive(Debug, Clone, PartialEq)]
pub struct BinRequest {
    pub id: Uuid,
    pub received_ms: i64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: String,
    pub body: String,
    pub body_size: i64,
    pub truncated: bool,
}

impl Store {
    pub async fn create_bin(&self, name: &str, now_ms: i64) -> Result<Bin, StoreError> {
        let id = Uuid::new_v4();
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bin (binid, name, createdon) VALUES (")
            .bind_list([Param::text(id), Param::text(name), Param::int(now_ms)])
            .push(")");
        let mut tx = self.begin().await?;
        tx.conn().await?.execute(&sql).await?;
        tx.commit().await?;
        Ok(Bin {
            id,
            name: name.to_string(),
            created_ms: now_ms,
        })
    }

    pub async fn bins(&self) -> Result<Vec<Bin>, StoreError> {
        let sql = Sql {
            text: "SELECT binid, name, createdon FROM herald_bin ORDER BY createdon DESC".into(),
            params: vec![],
        };
        Ok(rows!(self, &sql, |r| Bin {
            id: uuid(r.try_get(0)?)?,
            name: r.try_get(1)?,
            created_ms: r.try_get(2)?
        }))
    }

    pub async fn bin(&self, id: Uuid) -> Result<Option<Bin>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT binid, name, createdon FROM herald_bin WHERE binid = ")
            .bind(Param::text(id));
        Ok(rows!(self, &sql, |r| Bin {
            id: uuid(r.try_get(0)?)?,
            name: r.try_get(1)?,
            created_ms: r.try_get(2)?
        })
        .into_iter()
        .next())
    }

    pub async fn delete_bin(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_bin_request WHERE binid = ")
            .bind(Param::text(id));
        tx.conn().await?.execute(&sql).await?;
        let mut sql = Sql::default();
        sql.push("DELETE FROM herald_bin WHERE binid = ")
            .bind(Param::text(id));
        let n = tx.conn().await?.execute(&sql).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Record a request and keep only the newest `keep` of the bin.
    pub async fn capture(&self, bin: Uuid, req: &BinRequest, keep: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let mut seq_sql = Sql::default();
        seq_sql
            .push("SELECT COALESCE(MAX(seq), 0) FROM herald_bin_request WHERE binid = ")
            .bind(Param::text(bin));
        let seq = tx.conn().await?.fetch_i64(&seq_sql).await?.unwrap_or(0) + 1;
        let mut sql = Sql::default();
        sql.push("INSERT INTO herald_bin_request (requestid, binid, receivedon, seq, method, path, query, headers, body, bodysize, truncated) VALUES (")
            .bind_list([
                Param::text(req.id),
                Param::text(bin),
                Param::int(req.received_ms),
                Param::int(seq),
                Param::text(&req.method),
                Param::text(&req.path),
                Param::Text(req.query.clone()),
                Param::text(&req.headers),
                Param::text(&req.body),
                Param::int(req.body_size),
                Param::Bool(Some(req.truncated)),
            ])
            .push(")");
        tx.conn().await?.execute(&sql).await?;
        let mut prune = Sql::default();
        prune
            .push("DELETE FROM herald_bin_request WHERE binid = ")
            .bind(Param::text(bin))
            .push(" AND seq <= ")
            .bind(Param::int(seq - keep));
        tx.conn().await?.execute(&prune).await?;
        tx.commit().await
    }

    /// The bin's requests, newest first.
    pub async fn bin_requests(&self, bin: Uuid, limit: i64) -> Result<Vec<BinRequest>, StoreError> {
        let mut sql = Sql::default();
        sql.push("SELECT requestid, receivedon, method, path, query, headers, body, bodysize, truncated FROM herald_bin_request WHERE binid = ")
            .bind(Param::text(bin))
            .push(" ORDER BY seq DESC LIMIT ")
            .bind(Param::int(limit));
        Ok(rows!(self, &sql, |r| BinRequest {
            id: uuid(r.try_get(0)?)?,
            received_ms: r.try_get(1)?,
            method: r.try_get(2)?,
            path: r.try_get(3)?,
            query: r.try_get(4)?,
            headers: r.try_get(5)?,
            body: r.try_get(6)?,
            body_size: r.try_get(7)?,
            truncated: r.try_get(8)?,
        }))
    }
}
