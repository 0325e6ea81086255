//! `herald doctor`: check what `herald serve` would use — the configuration,
//! the data directory, the store (connect and migrate), the listen address,
//! and that every registered webhook's URL is valid, resolves, is allowed by
//! the outbound rules, and has usable auth settings. Exit code 1 on failure.
//!
//! The outbound rule is the sender's, exemption included: a webhook to
//! herald's own request bins (`/bins/…` on the configured listen address)
//! is OK even when private targets are refused, as it is at delivery.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use herald_core::authvalue::webhook_auth;
use herald_core::{Query, Schema};
use herald_delivery::guard::{check_url_host, is_own_request_bin};
use herald_delivery::GuardedResolver;
use herald_store::{Store, StoreOptions};
use serde_json::{json, Value};

use super::output::{print_list, Format, OutputArgs};
use super::serve::{load_config, ServeArgs};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    out: OutputArgs,
}

struct Report {
    rows: Vec<Value>,
    failed: bool,
}

impl Report {
    fn add(&mut self, check: &str, status: &str, detail: impl Into<String>) {
        if status == "FAIL" {
            self.failed = true;
        }
        self.rows
            .push(json!({"check": check, "status": status, "detail": detail.into()}));
    }
}

pub async fn run(args: DoctorArgs) -> Result<()> {
    let mut r = Report {
        rows: Vec::new(),
        failed: false,
    };
    let config = match load_config(&args.serve) {
        Ok(c) => {
            r.add(
                "config",
                "OK",
                format!(
                    "listen {}, data dir {}",
                    c.server.listen,
                    c.server.data_dir.display()
                ),
            );
            Some(c)
        }
        Err(e) => {
            r.add("config", "FAIL", format!("{e:#}"));
            None
        }
    };
    if let Some(config) = &config {
        check_environment(&mut r, config).await;
    }
    match args.out.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&r.rows)?),
        Format::Table => print_list(
            Format::Table,
            &["check", "status", "detail"],
            &r.rows,
            "nothing checked",
        ),
    }
    if r.failed {
        anyhow::bail!("some checks failed");
    }
    Ok(())
}

async fn check_environment(r: &mut Report, config: &herald_server::config::Config) {
    let schema = match Schema::build(&config.tables) {
        Ok(s) => {
            r.add("schema", "OK", format!("{} tables", s.tables().count()));
            Arc::new(s)
        }
        Err(e) => {
            r.add("schema", "FAIL", e.to_string());
            return;
        }
    };
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        let dir = &config.server.data_dir;
        match std::fs::create_dir_all(dir).and_then(|_| tempfile_in(dir)) {
            Ok(()) => r.add("data dir", "OK", format!("{} is writable", dir.display())),
            Err(e) => r.add("data dir", "FAIL", format!("{}: {e}", dir.display())),
        }
    }
    let store = match Store::connect(
        &url,
        schema.clone(),
        StoreOptions {
            max_connections: 2,
            ..StoreOptions::default()
        },
    )
    .await
    {
        Ok(s) => {
            r.add(
                "store",
                "OK",
                format!(
                    "{} connected and migrated",
                    if url.starts_with("sqlite:") {
                        "SQLite"
                    } else {
                        "PostgreSQL"
                    }
                ),
            );
            Some(s)
        }
        Err(e) => {
            r.add("store", "FAIL", e.to_string());
            None
        }
    };
    match tokio::net::TcpListener::bind(&config.server.listen).await {
        Ok(_) => r.add("listen", "OK", format!("{} is free", config.server.listen)),
        Err(e) => r.add(
            "listen",
            "WARN",
            format!("{}: {e} (is herald already running?)", config.server.listen),
        ),
    }
    let Some(mut store) = store else { return };
    match herald_server::secret_key::load(
        config.server.secret_key.as_deref(),
        &config.server.data_dir,
    )
    .and_then(|l| l.keyring().map(|k| (l, k)))
    {
        Ok((loaded, _)) if loaded.generated => r.add(
            "secret key",
            "OK",
            format!(
                "none yet: {} is generated at the first start",
                loaded.origin
            ),
        ),
        Ok((loaded, keyring)) => {
            r.add(
                "secret key",
                "OK",
                format!("{} from {}", keyring.ids().join(", "), loaded.origin),
            );
            store = store.with_keyring(Arc::new(keyring));
        }
        Err(e) => r.add("secret key", "FAIL", e.to_string()),
    }
    let rows = match store.fetch(&Query::all("serviceendpoint"), None, 0).await {
        Ok(rows) => rows,
        Err(e) => {
            r.add("webhooks", "FAIL", e.to_string());
            return;
        }
    };
    if rows.is_empty() {
        r.add("webhooks", "OK", "none registered");
    }
    let resolver = GuardedResolver::new(config.server.allow_private_targets);
    let own = own_addresses(&config.server.listen).await;
    for row in rows {
        let name = format!("webhook '{}'", row.string("name").unwrap_or("?"));
        let Some(id) = row.guid("serviceendpointid") else {
            continue;
        };
        // The full row, write-only authvalue included (opened with the key).
        let full = match schema.table("serviceendpoint") {
            Some(t) => match store.get(t, id).await {
                Ok(row) => row,
                Err(e) => {
                    r.add(&name, "FAIL", e.to_string());
                    continue;
                }
            },
            None => None,
        };
        let row = full.unwrap_or(row);
        let raw = row.string("url").unwrap_or("");
        let parsed = match url::Url::parse(raw) {
            Ok(u) => u,
            Err(e) => {
                r.add(&name, "FAIL", format!("url '{raw}' is not valid: {e}"));
                continue;
            }
        };
        if let Err(e) = webhook_auth(row.int("authtype").unwrap_or(0), row.string("authvalue")) {
            r.add(&name, "FAIL", format!("auth: {e}"));
            continue;
        }
        if is_own_request_bin(&parsed, &own) {
            r.add(&name, "OK", format!("{raw} (herald's own request bin)"));
            continue;
        }
        if let Err(e) = check_url_host(&parsed, config.server.allow_private_targets) {
            r.add(&name, "FAIL", format!("{raw}: refused: {e}"));
            continue;
        }
        match parsed.host() {
            Some(url::Host::Domain(host)) => match resolver.resolve_host(host).await {
                Ok(addrs) => r.add(
                    &name,
                    "OK",
                    format!(
                        "{raw} → {}",
                        addrs
                            .iter()
                            .map(|a| a.ip().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Err(e) => r.add(&name, "FAIL", format!("{raw}: {e}")),
            },
            _ => r.add(&name, "OK", raw.to_string()),
        }
    }
}

/// The addresses `herald serve` would listen on (what the sender exempts
/// for request bins); none when the listen address does not resolve.
async fn own_addresses(listen: &str) -> Vec<std::net::SocketAddr> {
    match tokio::net::lookup_host(listen).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => Vec::new(),
    }
}

fn tempfile_in(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".herald-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(probe)
}
