//! Where the keys that seal herald's secrets at rest come from (the
//! sealing itself is `herald_store::secrets`): `HERALD_SECRET_KEY`, for
//! several nodes sharing one PostgreSQL database, else
//! `<data-dir>/secret.key`, generated (mode 0600) at the first start.
//!
//! Both hold one or more keys, each 32 random bytes in base64 (as
//! `herald secrets generate` prints them): separated by commas in the
//! variable, one a line in the file (`#` starts a comment). The first key
//! seals new values; the others only open values sealed before a rotation.
//! A server whose keys come from the file re-reads it when it changes, so
//! `herald secrets rotate` reaches it without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use herald_store::secrets::{Keyring, SecretError, SecretKey};
use thiserror::Error;

/// The file name of the key file inside the data directory.
pub const FILE_NAME: &str = "secret.key";

#[derive(Debug, Error)]
pub enum SecretKeyError {
    #[error("{origin}: {source}")]
    Bad { origin: String, source: SecretError },
    #[error("{origin} holds no key")]
    Empty { origin: String },
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where a server's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `HERALD_SECRET_KEY` (or `[server] secret_key`).
    Configured,
    /// The key file.
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Configured => f.write_str("HERALD_SECRET_KEY"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The keys a server starts with.
pub struct Loaded {
    pub keys: Vec<SecretKey>,
    pub origin: Origin,
    /// True when there was no key anywhere and `keys` is a new one, not yet
    /// written: [`Loaded::persist`] writes it once the stored secrets are
    /// known to agree (a fresh key never opens an existing database's
    /// secrets, and must not replace the file an operator lost).
    pub generated: bool,
}

impl Loaded {
    /// The keyring, re-reading the key file when it changes.
    pub fn keyring(&self) -> Result<Keyring, SecretKeyError> {
        let ring = Keyring::new(self.keys.clone()).map_err(|source| SecretKeyError::Bad {
            origin: self.origin.to_string(),
            source,
        })?;
        Ok(match &self.origin {
            Origin::File(path) => ring.with_reload(file_reload(path.clone())),
            Origin::Configured => ring,
        })
    }

    /// Write a generated key to its file (mode 0600); nothing otherwise.
    pub fn persist(&self) -> Result<(), SecretKeyError> {
        match (&self.origin, self.generated) {
            (Origin::File(path), true) => write_key_file(path, &self.keys),
            _ => Ok(()),
        }
    }
}

/// Keys written as text: comma- or newline-separated base64, `#` comments.
pub fn parse_keys(text: &str, origin: &str) -> Result<Vec<SecretKey>, SecretKeyError> {
    let keys = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(SecretKey::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| SecretKeyError::Bad {
            origin: origin.to_string(),
            source,
        })?;
    if keys.is_empty() {
        return Err(SecretKeyError::Empty {
            origin: origin.to_string(),
        });
    }
    Ok(keys)
}

/// The keys of a server: the configured ones, else the key file, else a
/// new key (to be persisted).
pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Loaded, SecretKeyError> {
    if let Some(text) = configured.filter(|t| !t.trim().is_empty()) {
        return Ok(Loaded {
            keys: parse_keys(text, "HERALD_SECRET_KEY")?,
            origin: Origin::Configured,
            generated: false,
        });
    }
    let path = data_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Loaded {
            keys: parse_keys(&text, &path.display().to_string())?,
            origin: Origin::File(path),
            generated: false,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Loaded {
            keys: vec![SecretKey::generate()],
            origin: Origin::File(path),
            generated: true,
        }),
        Err(source) => Err(SecretKeyError::Io { path, source }),
    }
}

/// Write `keys` (first = current) to `path` with mode 0600, replacing it
/// atomically (a temporary file renamed over it).
pub fn write_key_file(path: &Path, keys: &[SecretKey]) -> Result<(), SecretKeyError> {
    use std::io::Write;
    let io = |source| SecretKeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut text = String::from(
        "# herald's secret keys (base64, 32 bytes): the first seals, the others only open\n",
    );
    for k in keys {
        text.push_str(&k.to_base64());
        text.push('\n');
    }
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A reload function for the keyring: the file's keys when its content
/// changed since the last look, else `None` (an unreadable or broken file
/// keeps the keys the server has, with a warning).
fn file_reload(path: PathBuf) -> herald_store::secrets::Reload {
    let seen = Mutex::new(std::fs::read_to_string(&path).ok());
    Arc::new(move || {
        let text = std::fs::read_to_string(&path).ok()?;
        let mut last = seen.lock().unwrap_or_else(|p| p.into_inner());
        if last.as_deref() == Some(text.as_str()) {
            return None;
        }
        *last = Some(text.clone());
        match parse_keys(&text, &path.display().to_string()) {
            Ok(keys) => Some(keys),
            Err(e) => {
                tracing::warn!(error = %e, "the secret key file changed but cannot be read; keeping the keys in use");
                None
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_comma_or_line_separated_with_comments() {
        let (a, b) = (SecretKey::generate(), SecretKey::generate());
        let env = format!("{}, {}", a.to_base64(), b.to_base64());
        let ids: Vec<String> = parse_keys(&env, "x")
            .unwrap()
            .iter()
            .map(|k| k.id().to_string())
            .collect();
        assert_eq!(ids, vec![a.id().to_string(), b.id().to_string()]);
        let file = format!("# comment\n{}\n\n{} # old\n", a.to_base64(), b.to_base64());
        assert_eq!(parse_keys(&file, "x").unwrap().len(), 2);
        assert!(matches!(
            parse_keys("# nothing\n", "x"),
            Err(SecretKeyError::Empty { .. })
        ));
        let err = parse_keys("c2hvcnQ=", "HERALD_SECRET_KEY")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("HERALD_SECRET_KEY: a secret key must be 32 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_generated_key_is_written_only_when_persisted_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(None, dir.path()).unwrap();
        assert!(loaded.generated);
        let path = dir.path().join(FILE_NAME);
        assert!(!path.exists());
        loaded.persist().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = load(None, dir.path()).unwrap();
        assert!(!again.generated);
        assert_eq!(again.keys[0].id(), loaded.keys[0].id());
        // The variable wins over the file.
        let other = SecretKey::generate();
        let env = load(Some(&other.to_base64()), dir.path()).unwrap();
        assert_eq!(
            (env.origin, env.keys[0].id()),
            (Origin::Configured, other.id())
        );
    }

    #[test]
    fn the_keyring_follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(None, dir.path()).unwrap();
        loaded.persist().unwrap();
        let ring = loaded.keyring().unwrap();
        let new = SecretKey::generate();
        write_key_file(
            &dir.path().join(FILE_NAME),
            &[new.clone(), loaded.keys[0].clone()],
        )
        .unwrap();
        ring.refresh();
        assert_eq!(ring.current_id(), new.id());
        assert_eq!(ring.ids().len(), 2);
    }
}
