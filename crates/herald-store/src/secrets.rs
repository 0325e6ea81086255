//! Secrets at rest: the keyring that seals the values herald must be able
//! to read back but nobody with a copy of the database should (a webhook's
//! `authvalue`, its signing secrets — every write-only column — and a
//! Business Central subscription's `clientState`), and the sweep that
//! brings every stored secret under the current key.
//!
//! A sealed value is text: `hsec1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`,
//! ChaCha20-Poly1305 with a random 96-bit nonce per value and the column
//! (`serviceendpoint.authvalue`) as associated data, so a sealed value
//! copied into another column does not open. The key id is the first four
//! bytes (hex) of SHA-256 over the key, so a value names the key it needs
//! without revealing it. The keys themselves never enter the database:
//! the server reads them from `HERALD_SECRET_KEY` or `<data-dir>/secret.key`.
//!
//! The keyring holds one current key (it seals) and any number of older
//! ones (they still open), which is what lets `herald secrets rotate`
//! re-encrypt while servers run. A keyring may be given a reload function
//! (re-reading the key file): it is consulted when a value names a key the
//! ring does not hold, and before sealing, so a running server learns a
//! rotated key without a restart.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use herald_core::schema::{Access, Column, ColumnType};
use herald_core::{Query, Schema, Table, Value};
use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::error::StoreError;
use crate::record::Record;
use crate::sql::{ident, OutputColumn, Param, Sql};
use crate::{Store, Tx};

/// The prefix of every sealed value (format version 1).
pub const PREFIX: &str = "hsec1:";

/// Why a secret could not be sealed or opened, or a key not read.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a secret key must be 32 bytes in base64 (as `herald secrets generate` prints): {0}")]
    BadKey(String),
    #[error("no secret key is configured")]
    NoKey,
    #[error("sealed under key {id}, which is not among the configured keys ({configured})")]
    UnknownKey { id: String, configured: String },
    #[error("sealed under key {id} but does not open with it (the value was altered or belongs to another column)")]
    Corrupt { id: String },
    #[error("malformed sealed value")]
    Malformed,
}

/// One 256-bit key and its id.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    bytes: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        SecretKey { id, bytes }
    }

    /// A new random key.
    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SecretKey::from_bytes(bytes)
    }

    /// A key written as base64 (standard alphabet, padding optional) of
    /// exactly 32 bytes.
    pub fn parse(text: &str) -> Result<SecretKey, SecretError> {
        let text = text.trim();
        let decoded = STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|e| SecretError::BadKey(e.to_string()))?;
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::BadKey(format!("it decodes to {} bytes", decoded.len())))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    /// The key as base64, the form `parse` reads.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// Eight hex digits naming the key (not secret).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A function that re-reads the keys from where they came from: `Some`
/// when they changed (first = current), `None` when not.
pub type Reload = Arc<dyn Fn() -> Option<Vec<SecretKey>> + Send + Sync>;

/// The keys a store seals and opens secrets with.
pub struct Keyring {
    keys: RwLock<Vec<SecretKey>>,
    reload: Option<Reload>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({})", self.ids().join(", "))
    }
}

impl Keyring {
    /// A keyring whose first key is the current one.
    pub fn new(keys: Vec<SecretKey>) -> Result<Keyring, SecretError> {
        if keys.is_empty() {
            return Err(SecretError::NoKey);
        }
        Ok(Keyring {
            keys: RwLock::new(keys),
            reload: None,
        })
    }

    pub fn with_reload(mut self, reload: Reload) -> Keyring {
        self.reload = Some(reload);
        self
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<SecretKey>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-read the keys if a reload function is set and they changed.
    pub fn refresh(&self) {
        if let Some(keys) = self.reload.as_ref().and_then(|r| r()) {
            if !keys.is_empty() {
                let ids: Vec<&str> = keys.iter().map(SecretKey::id).collect();
                tracing::info!(keys = ?ids, "secret keys reloaded");
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
            }
        }
    }

    /// The ids of the keys, current first.
    pub fn ids(&self) -> Vec<String> {
        self.read().iter().map(|k| k.id.clone()).collect()
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> String {
        self.read()[0].id.clone()
    }

    /// Seal `plain` for `context` (`table.column`) under the current key.
    pub fn seal(&self, context: &str, plain: &str) -> String {
        self.refresh();
        let keys = self.read();
        seal_with(&keys[0], context, plain)
    }

    /// Open a value sealed for `context`. A value without the prefix is
    /// returned as it is (a plaintext row from before encryption, until
    /// the start-up sweep seals it).
    pub fn open(&self, context: &str, stored: &str) -> Result<String, SecretError> {
        let Some(id) = key_id(stored) else {
            return Ok(stored.to_string());
        };
        if !self.read().iter().any(|k| k.id == id) {
            self.refresh();
        }
        let keys = self.read();
        let key = keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SecretError::UnknownKey {
                id: id.to_string(),
                configured: keys
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        open_with(key, context, stored)
    }
}

/// The id of the key a stored value is sealed under; `None` for a value
/// that is not sealed.
pub fn key_id(stored: &str) -> Option<&str> {
    let rest = stored.strip_prefix(PREFIX)?;
    let (id, _) = rest.split_once(':')?;
    Some(id)
}

fn cipher(key: &SecretKey) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(&key.bytes))
}

fn seal_with(key: &SecretKey, context: &str, plain: &str) -> String {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher(key)
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: context.as_bytes(),
            },
        )
        // ChaCha20-Poly1305 fails only for messages over 256 GiB.
        .unwrap_or_default();
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&sealed);
    format!("{PREFIX}{}:{}", key.id, STANDARD.encode(blob))
}

fn open_with(key: &SecretKey, context: &str, stored: &str) -> Result<String, SecretError> {
    let blob = stored
        .strip_prefix(PREFIX)
        .and_then(|r| r.split_once(':'))
        .and_then(|(_, b64)| STANDARD.decode(b64).ok())
        .filter(|b| b.len() >= 12 + 16)
        .ok_or(SecretError::Malformed)?;
    let (nonce, sealed) = blob.split_at(12);
    let plain = cipher(key)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| SecretError::Corrupt { id: key.id.clone() })?;
    String::from_utf8(plain).map_err(|_| SecretError::Malformed)
}

/// Seal with the keyring if there is one; a store without a keyring (unit
/// tests, the bins store) keeps values as they are.
pub(crate) fn seal(keys: Option<&Keyring>, context: &str, plain: &str) -> String {
    match keys {
        Some(k) => k.seal(context, plain),
        None => plain.to_string(),
    }
}

/// Open with the keyring if there is one; a sealed value without one is an
/// error, never returned as if it were the secret.
pub(crate) fn open(
    keys: Option<&Keyring>,
    context: &str,
    stored: &str,
) -> Result<String, SecretError> {
    match keys {
        Some(k) => k.open(context, stored),
        None if key_id(stored).is_some() => Err(SecretError::NoKey),
        None => Ok(stored.to_string()),
    }
}

/// `values` with every string written to a secret (write-only) column of
/// `table` sealed.
pub(crate) fn seal_values<'v>(
    keys: Option<&Keyring>,
    table: &Table,
    values: &'v [(String, Value)],
) -> Cow<'v, [(String, Value)]> {
    let secret = |name: &str| table.column(name).is_some_and(is_secret);
    if keys.is_none()
        || !values
            .iter()
            .any(|(c, v)| secret(c) && matches!(v, Value::String(_)))
    {
        return Cow::Borrowed(values);
    }
    Cow::Owned(
        values
            .iter()
            .map(|(c, v)| match v {
                Value::String(plain) if secret(c) => (
                    c.clone(),
                    Value::String(seal(keys, &context(&table.logical_name, c), plain)),
                ),
                _ => (c.clone(), v.clone()),
            })
            .collect(),
    )
}

/// Open the secret columns of rows read by `query` (columns of its own
/// table; linked tables never carry write-only columns).
pub(crate) fn open_records(
    keys: Option<&Keyring>,
    schema: &Schema,
    query: &Query,
    rows: &mut [Record],
) -> Result<(), StoreError> {
    let Some(table) = schema.table(&query.table) else {
        return Ok(());
    };
    let secret: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| is_secret(c))
        .map(|c| c.name.as_str())
        .collect();
    if secret.is_empty() {
        return Ok(());
    }
    for row in rows.iter_mut() {
        for (name, value) in row.values.iter_mut() {
            if let Value::String(stored) = value {
                if secret.contains(&name.as_str()) {
                    let ctx = context(&table.logical_name, name);
                    *value = Value::String(open(keys, &ctx, stored).map_err(|source| {
                        StoreError::Secret {
                            at: ctx.clone(),
                            source,
                        }
                    })?);
                }
            }
        }
    }
    Ok(())
}

/// Whether a column holds a secret: every write-only column does (the API
/// never returns them, only the server reads them back).
pub fn is_secret(column: &Column) -> bool {
    column.access == Access::WriteOnly
}

/// The associated data of a column's sealed values.
pub(crate) fn context(table: &str, column: &str) -> String {
    format!("{table}.{column}")
}

/// The BC subscription column sealed like the write-only ones.
pub(crate) const BC_CLIENT_STATE: &str = "herald_bc_subscription.clientstate";

/// What a sweep ([`Store::sweep_secrets`]) did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Plaintext values (from a database older than encryption) sealed.
    pub sealed: u64,
    /// Values sealed under an older key, now under the current one.
    pub resealed: u64,
    /// Values already under the current key (each opened to check it).
    pub current: u64,
}

/// One stored secret: where it is, and its stored text.
struct Stored {
    table: String,
    id_column: String,
    id: String,
    column: String,
    text: String,
}

impl Store {
    /// Check that every stored secret opens with the keyring and bring each
    /// under the current key: plaintext values (older databases) are
    /// sealed, values under an older key re-sealed. Run at every start
    /// (a wrong or lost key fails here, naming the first value it cannot
    /// open) and by `herald secrets rotate` while servers run: each value
    /// is replaced only if it is still what was read, so a concurrent
    /// write is never undone. Nothing is written when any value fails.
    pub async fn sweep_secrets(&self) -> Result<SweepReport, StoreError> {
        let Some(keys) = self.keyring.clone() else {
            return Err(StoreError::Secret {
                at: "the store".into(),
                source: SecretError::NoKey,
            });
        };
        keys.refresh();
        let current = keys.current_id();
        let mut tx = self.begin().await?;
        let stored = read_all(&mut tx, &self.schema()).await?;
        let mut failures: Vec<String> = Vec::new();
        let mut writes: Vec<(Stored, String)> = Vec::new();
        let mut report = SweepReport::default();
        for s in stored {
            let ctx = context(&s.table, &s.column);
            match key_id(&s.text) {
                None => {
                    report.sealed += 1;
                    let sealed = keys.seal(&ctx, &s.text);
                    writes.push((s, sealed));
                }
                Some(id) => match keys.open(&ctx, &s.text) {
                    Err(e) => failures.push(format!("{} {} {}: {e}", s.table, s.id, s.column)),
                    Ok(_) if id == current => report.current += 1,
                    Ok(plain) => {
                        report.resealed += 1;
                        let sealed = keys.seal(&ctx, &plain);
                        writes.push((s, sealed));
                    }
                },
            }
        }
        if let Some(first) = failures.first() {
            let at = if failures.len() > 1 {
                format!("{first} (and {} more)", failures.len() - 1)
            } else {
                first.clone()
            };
            return Err(StoreError::SecretsUndecryptable(at));
        }
        for (s, sealed) in writes {
            let mut sql = Sql::default();
            sql.push("UPDATE ")
                .push(&ident(&s.table))
                .push(" SET ")
                .push(&ident(&s.column))
                .push(" = ")
                .bind(Param::Text(Some(sealed)))
                .push(" WHERE ")
                .push(&ident(&s.id_column))
                .push(" = ")
                .bind(Param::Text(Some(s.id)))
                .push(" AND ")
                .push(&ident(&s.column))
                .push(" = ")
                .bind(Param::Text(Some(s.text)));
            tx.conn().await?.execute(&sql).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// Every non-empty stored secret, as stored.
async fn read_all(tx: &mut Tx, schema: &Schema) -> Result<Vec<Stored>, StoreError> {
    let mut out = Vec::new();
    let mut places: Vec<(String, String, String)> = Vec::new();
    for table in schema.tables() {
        for c in table.columns.iter().filter(|c| is_secret(c)) {
            places.push((
                table.logical_name.clone(),
                table.primary_id.clone(),
                c.name.clone(),
            ));
        }
    }
    places.push((
        "herald_bc_subscription".into(),
        "subscriptionid".into(),
        "clientstate".into(),
    ));
    for (table, id_column, column) in places {
        let mut sql = Sql::default();
        sql.push("SELECT ")
            .push(&ident(&id_column))
            .push(", ")
            .push(&ident(&column))
            .push(" FROM ")
            .push(&ident(&table))
            .push(" WHERE ")
            .push(&ident(&column))
            .push(" IS NOT NULL AND ")
            .push(&ident(&column))
            .push(" <> ''");
        let text = |key: &str| OutputColumn {
            key: key.to_string(),
            column: Column::new(
                key,
                ColumnType::String {
                    max_length: usize::MAX,
                },
            ),
        };
        let columns = [text("id"), text("v")];
        for r in tx.conn().await?.fetch_columns(&sql, &columns).await? {
            let id = match r.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Guid(g)) => g.to_string(),
                _ => continue,
            };
            if let Some(Value::String(text)) = r.get("v") {
                out.push(Stored {
                    table: table.clone(),
                    id_column: id_column.clone(),
                    id,
                    column: column.clone(),
                    text: text.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_differ_each_time() {
        let ring = Keyring::new(vec![SecretKey::generate()]).unwrap();
        let a = ring.seal("t.c", "<settings/>");
        let b = ring.seal("t.c", "<settings/>");
        assert_ne!(a, b, "random nonce");
        assert!(a.starts_with(PREFIX) && !a.contains("settings"));
        assert_eq!(key_id(&a), Some(ring.current_id().as_str()));
        assert_eq!(ring.open("t.c", &a).unwrap(), "<settings/>");
        assert!(matches!(
            ring.open("t.other", &a),
            Err(SecretError::Corrupt { .. })
        ));
        assert_eq!(ring.open("t.c", "plain").unwrap(), "plain");
    }

    #[test]
    fn older_keys_open_unknown_keys_are_named() {
        let old = SecretKey::generate();
        let new = SecretKey::generate();
        let sealed = Keyring::new(vec![old.clone()]).unwrap().seal("t.c", "s");
        let both = Keyring::new(vec![new.clone(), old.clone()]).unwrap();
        assert_eq!(both.open("t.c", &sealed).unwrap(), "s");
        let only_new = Keyring::new(vec![new.clone()]).unwrap();
        let err = only_new.open("t.c", &sealed).unwrap_err();
        assert_eq!(
            err,
            SecretError::UnknownKey {
                id: old.id().to_string(),
                configured: new.id().to_string()
            }
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(both.open("t.c", &tampered).is_err());
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes_only() {
        let k = SecretKey::generate();
        assert_eq!(SecretKey::parse(&k.to_base64()).unwrap().id(), k.id());
        assert!(SecretKey::parse("c2hvcnQ=").is_err());
        assert!(SecretKey::parse("not base64!").is_err());
    }

    #[test]
    fn reload_is_consulted_for_unknown_keys() {
        let old = SecretKey::generate();
        let new = SecretKey::generate();
        let sealed = Keyring::new(vec![new.clone()]).unwrap().seal("t.c", "s");
        let next = new.clone();
        let ring = Keyring::new(vec![old.clone()])
            .unwrap()
            .with_reload(Arc::new(move || Some(vec![next.clone()])));
        assert_eq!(ring.open("t.c", &sealed).unwrap(), "s");
        assert_eq!(ring.current_id(), new.id());
    }
}
