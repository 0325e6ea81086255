//! API key lookups answered from memory on SQLite.
//!
//! Every request names its API key, and the key's user, whether that user
//! is disabled and the version of the security roles were read for each
//! one: on SQLite a hop to a reader connection's thread and back, ~10 % of
//! the CPU of a write with one async step. Here the answer is kept,
//! tagged with the *credentials epoch* it was read under, and used only
//! while that epoch is still current.
//!
//! The epoch advances after every committed transaction that wrote
//! something a key lookup reads: a `systemuser` row (`isdisabled`), an API
//! key (`herald_apikey`), or the `security` setting (every change of roles,
//! their privileges or who holds them writes it). A transaction marks
//! itself when it does ([`Tx::credentials_changed`]); its commit advances
//! the epoch before it returns, so the change is refused or honoured from
//! the next request on, as before. A lookup reads the epoch *before* the
//! rows, so an answer read across a change carries the older epoch and is
//! never used again.
//!
//! Only on SQLite, where one herald process writes the file (the group
//! writer and the registration cache assume the same), so every change
//! commits through this process's store. On PostgreSQL another node may
//! change a key or a user, which this node would not see: every lookup
//! still reads the store there.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::keys::KeyUser;

/// Keys whose answers are kept at most; past it the cache starts afresh
/// (a flood of distinct valid keys is not a case to optimise).
const MAX_KEYS: usize = 10_000;

/// The epoch and the answers read under it. One per store.
#[derive(Clone, Default)]
pub(crate) struct Credentials {
    epoch: Arc<AtomicU64>,
    answers: Arc<Mutex<HashMap<String, (u64, KeyUser)>>>,
}

impl Credentials {
    /// The current epoch; read it before the rows an answer comes from.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// A committed transaction changed what a lookup reads.
    pub(crate) fn advance(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The answer for `keyhash`, if one was read under the current epoch.
    pub(crate) fn cached(&self, keyhash: &str) -> Option<KeyUser> {
        let now = self.epoch();
        match self.lock().get(keyhash) {
            Some((epoch, user)) if *epoch == now => Some(user.clone()),
            _ => None,
        }
    }

    /// Keep an answer read after the epoch was `epoch`.
    pub(crate) fn keep(&self, keyhash: &str, epoch: u64, user: &KeyUser) {
        let mut answers = self.lock();
        if answers.len() >= MAX_KEYS {
            answers.clear();
        }
        answers.insert(keyhash.to_string(), (epoch, user.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, KeyUser)>> {
        self.answers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a write to this table changes what a key lookup reads.
pub(crate) fn read_by_lookups(table: &str) -> bool {
    table == "systemuser"
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user() -> KeyUser {
        KeyUser {
            user_id: Uuid::new_v4(),
            disabled: false,
            security_version: "v1".into(),
        }
    }

    #[test]
    fn an_answer_is_used_only_under_the_epoch_it_was_read_in() {
        let c = Credentials::default();
        let u = user();
        let before = c.epoch();
        c.keep("k", before, &u);
        assert_eq!(c.cached("k"), Some(u.clone()));
        c.advance();
        assert_eq!(c.cached("k"), None, "a change since the read hides it");
    }

    #[test]
    fn an_answer_read_across_a_change_is_never_used() {
        let c = Credentials::default();
        let read_under = c.epoch();
        // The change commits while the lookup reads the rows.
        c.advance();
        c.keep("k", read_under, &user());
        assert_eq!(c.cached("k"), None);
    }

    #[test]
    fn the_cache_starts_afresh_when_full() {
        let c = Credentials::default();
        let e = c.epoch();
        for i in 0..MAX_KEYS {
            c.keep(&format!("k{i}"), e, &user());
        }
        c.keep("last", e, &user());
        assert!(c.cached("k0").is_none());
        assert!(c.cached("last").is_some());
    }
}
