//! `herald secrets generate | rotate`: the keys that encrypt the stored
//! secrets (webhook `authvalue` and signing secrets, BC `clientState`).
//!
//! `rotate` works on the database directly (like `herald serve`, from the
//! same configuration) while servers keep running: it makes the new key
//! known first, then re-encrypts every stored secret under it, each value
//! replaced only if no server changed it meanwhile.
//!
//! - With the key file (`<data-dir>/secret.key`, one server or a shared
//!   file): the new key (`--new-key`, else a random one) is written as the
//!   file's first line, the old keys after it; a running server re-reads
//!   the file when it changes, so it reads and writes under the new key
//!   without a restart.
//! - With `HERALD_SECRET_KEY` (several nodes): a process's environment
//!   cannot change, so every node must accept the new key before any value
//!   is sealed with it: put it second on every node
//!   (`HERALD_SECRET_KEY=<current>,<new>`, one restart at a time), then run
//!   `herald secrets rotate --new-key <new>` with that same variable, then
//!   put it first (`<new>,<old>`; each node re-encrypts at start what was
//!   written under the old key meanwhile) and finally drop the old key.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use herald_core::Schema;
use herald_server::secret_key::{self, Origin};
use herald_store::secrets::{Keyring, SecretKey};
use herald_store::{Store, StoreOptions};
use std::sync::Arc;

use super::serve::{load_config, ServeArgs};

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Print a new random key (base64 of 32 bytes), for HERALD_SECRET_KEY.
    Generate,
    /// Re-encrypt every stored secret under a new key, online.
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// The new key (base64 of 32 bytes). Default: a new random one (only
    /// with the key file; with HERALD_SECRET_KEY the nodes must know it first).
    #[arg(long, env = "HERALD_NEW_SECRET_KEY", value_name = "BASE64")]
    new_key: Option<String>,
    #[command(flatten)]
    serve: ServeArgs,
}

pub async fn run(args: SecretsArgs) -> Result<()> {
    match args.command {
        SecretsCommand::Generate => {
            println!("{}", SecretKey::generate().to_base64());
            Ok(())
        }
        SecretsCommand::Rotate(args) => rotate(args).await,
    }
}

async fn rotate(args: RotateArgs) -> Result<()> {
    let config = load_config(&args.serve)?;
    let loaded = secret_key::load(config.server.secret_key.as_deref(), &config.server.data_dir)?;
    if loaded.generated {
        bail!(
            "no secret key found (neither HERALD_SECRET_KEY nor {}): nothing to rotate; \
             herald serve makes one at its first start",
            loaded.origin
        );
    }
    let new = match (&args.new_key, &loaded.origin) {
        (Some(text), _) => SecretKey::parse(text).context("--new-key")?,
        (None, Origin::File(_)) => SecretKey::generate(),
        (None, Origin::Configured) => bail!(
            "with HERALD_SECRET_KEY, give the new key with --new-key (herald secrets generate \
             makes one), after adding it to HERALD_SECRET_KEY on every node"
        ),
    };
    if loaded.origin == Origin::Configured && !loaded.keys.iter().any(|k| k.id() == new.id()) {
        bail!(
            "key {} is not in HERALD_SECRET_KEY: running nodes could not read what this rotation \
             writes. First set HERALD_SECRET_KEY=<current>,<new> on every node (and here), then \
             run this again",
            new.id()
        );
    }
    let old: Vec<String> = loaded
        .keys
        .iter()
        .filter(|k| k.id() != new.id())
        .map(|k| k.id().to_string())
        .collect();
    let mut keys = vec![new.clone()];
    keys.extend(loaded.keys.iter().filter(|k| k.id() != new.id()).cloned());
    if let Origin::File(path) = &loaded.origin {
        // Known to the running server (it re-reads the file) before any
        // value is sealed with it.
        secret_key::write_key_file(path, &keys)?;
        eprintln!(
            "{}: key {} first, then {}",
            path.display(),
            new.id(),
            old.join(", ")
        );
    }
    let schema = Arc::new(Schema::build(&config.tables)?);
    let store = Store::connect(
        &config.database_url(),
        schema,
        StoreOptions {
            max_connections: 2,
            ..StoreOptions::default()
        },
    )
    .await
    .context("cannot open the store")?
    .with_keyring(Arc::new(Keyring::new(keys)?));
    let report = store.sweep_secrets().await?;
    println!(
        "stored secrets now under key {}: {} re-encrypted, {} were in clear, {} already current",
        new.id(),
        report.resealed,
        report.sealed,
        report.current
    );
    match loaded.origin {
        Origin::File(path) => println!(
            "the previous key stays in {} (it only decrypts); remove its line once no server \
             runs with an older copy of the file",
            path.display()
        ),
        Origin::Configured => println!(
            "next: set HERALD_SECRET_KEY=<key {}>,<the old key> on every node (one restart at a \
             time; each re-encrypts at start what was written under the old key meanwhile), \
             then drop the old key",
            new.id()
        ),
    }
    Ok(())
}
