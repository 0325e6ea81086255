//! The privileges of each user, kept in memory so that a request does not
//! read the role tables every time.
//!
//! Every write to `role`, `roleprivileges` or `systemuserroles` writes a
//! new `herald_setting` `security` value inside its own transaction
//! ([`GrantCache::changed`]); the value is read with every API key lookup
//! (the same query, so it costs nothing) and inside every write. A cached
//! entry is used only while the version it was loaded under is current, so
//! a change takes effect from the next request on, on every node sharing
//! the store. The version is read before the rows, so rows loaded during a
//! change are at worst newer than their version (and reloaded next time),
//! never older.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_core::security::Grants;
use herald_store::security::VERSION_SETTING;
use herald_store::{Store, StoreError, Tx};
use uuid::Uuid;

/// Users whose grants are kept at most; past it the cache starts afresh.
const MAX_USERS: usize = 10_000;

/// user → (version loaded under, grants). One per node.
#[derive(Default)]
pub struct GrantCache {
    entries: Mutex<HashMap<Uuid, (String, Arc<Grants>)>>,
}

impl GrantCache {
    /// `user`'s grants under `version` (read with the API key), from the
    /// cache when current, else from the store's read pool.
    pub async fn for_request(
        &self,
        store: &Store,
        user: Uuid,
        version: &str,
    ) -> Result<Arc<Grants>, StoreError> {
        if let Some(g) = self.cached(user, version) {
            return Ok(g);
        }
        let rows = store.user_privileges(user).await?;
        Ok(self.keep(
            user,
            version,
            Grants::new(user, rows.roles, rows.privileges),
        ))
    }

    /// `user`'s grants as `tx` sees them (its own role changes included).
    pub async fn in_tx(&self, tx: &mut Tx, user: Uuid) -> Result<Arc<Grants>, StoreError> {
        let version = tx.setting(VERSION_SETTING).await?.unwrap_or_default();
        if let Some(g) = self.cached(user, &version) {
            return Ok(g);
        }
        let rows = tx.user_privileges(user).await?;
        Ok(self.keep(
            user,
            &version,
            Grants::new(user, rows.roles, rows.privileges),
        ))
    }

    /// Record, inside `tx`, that it changes roles: every node reloads.
    pub async fn changed(&self, tx: &mut Tx) -> Result<(), StoreError> {
        tx.put_setting(VERSION_SETTING, &Uuid::new_v4().simple().to_string())
            .await
    }

    fn cached(&self, user: Uuid, version: &str) -> Option<Arc<Grants>> {
        match self.lock().get(&user) {
            Some((v, g)) if v == version => Some(g.clone()),
            _ => None,
        }
    }

    fn keep(&self, user: Uuid, version: &str, grants: Grants) -> Arc<Grants> {
        let grants = Arc::new(grants);
        let mut entries = self.lock();
        if entries.len() >= MAX_USERS {
            entries.clear();
        }
        entries.insert(user, (version.to_string(), grants.clone()));
        grants
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (String, Arc<Grants>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
