//! [`Reader`]: the store's reads as one user may make them. Every query
//! passes [`herald_core::security::authorize_query`] (Read on its table,
//! its link-entities and its `$expand`s, own rows only where the depth is
//! Basic) before it reaches the store; herald's own reads (steps,
//! webhooks, validation) use the store directly.

use herald_core::security::{authorize_query, Grants, Missing, Privilege, Scope};
use std::sync::Arc;

use herald_core::{Query, Schema, Table};
use herald_store::{Record, Store, StoreError};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Denied(Missing),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Missing> for ReadError {
    fn from(m: Missing) -> Self {
        ReadError::Denied(m)
    }
}

/// Reads on behalf of one user.
#[derive(Clone)]
pub struct Reader<'a> {
    pub store: &'a Store,
    /// The schema served when the reader was made (a snapshot).
    pub schema: Arc<Schema>,
    pub grants: &'a Grants,
}

impl<'a> Reader<'a> {
    pub fn new(store: &'a Store, schema: Arc<Schema>, grants: &'a Grants) -> Reader<'a> {
        Reader {
            store,
            schema,
            grants,
        }
    }

    /// `query` as this user may run it, or the privilege it lacks.
    pub fn authorized(&self, query: &Query) -> Result<Query, Missing> {
        let mut q = query.clone();
        authorize_query(self.grants, &self.schema, &mut q)?;
        Ok(q)
    }

    pub async fn fetch(
        &self,
        query: &Query,
        limit: Option<u64>,
        offset: u64,
    ) -> Result<Vec<Record>, ReadError> {
        let q = self.authorized(query)?;
        Ok(self.store.fetch(&q, limit, offset).await?)
    }

    pub async fn count(&self, query: &Query) -> Result<i64, ReadError> {
        let q = self.authorized(query)?;
        Ok(self.store.count(&q).await?)
    }

    /// One row by id; `None` when it does not exist or is not the user's
    /// to see at Basic depth.
    pub async fn get(&self, table: &Table, id: Uuid) -> Result<Option<Record>, ReadError> {
        let scope = self.grants.check(table, Privilege::Read)?;
        let row = self.store.get(table, id).await?;
        Ok(row.filter(|r| scope == Scope::All || self.grants.owns(table, |c| r.guid(c))))
    }
}
