//! `herald serve`: load the configuration (flags > env > file > defaults)
//! and run the server until Ctrl-C / SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use herald_server::bootstrap::KeySource;
use herald_server::config::Config;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HERALD_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for the SQLite database and the generated admin and secret keys.
    #[arg(long, env = "HERALD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database: sqlite://path/to/file.db or postgres://user@host/db
    /// (default: SQLite at <data-dir>/herald.db).
    #[arg(long, env = "HERALD_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// TOML config file with [server] [store] [delivery] [jobs] [bc] and [[tables]].
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// OrganizationName sent in webhook contexts (default "herald").
    #[arg(long, env = "HERALD_ORGANIZATION", value_name = "NAME")]
    organization: Option<String>,
    /// Allow webhooks to loopback and private addresses (local development).
    #[arg(long, env = "HERALD_ALLOW_PRIVATE_TARGETS", value_parser = boolish_or_empty, num_args = 0..=1, default_missing_value = "true")]
    allow_private_targets: Option<bool>,
    /// Serve HTTPS with this PEM certificate (chain); needs --tls-key.
    #[arg(
        long,
        env = "HERALD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "HERALD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for localhost, 127.0.0.1
    /// and ::1, made once in <data-dir>/tls/ and reused (local development;
    /// clients trust <data-dir>/tls/self-signed.crt).
    #[arg(long, env = "HERALD_TLS_SELF_SIGNED", value_parser = boolish_or_empty, num_args = 0..=1, default_missing_value = "true", conflicts_with = "tls_cert")]
    tls_self_signed: Option<bool>,
}

/// A yes/no flag value (`1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`);
/// empty is no (`HERALD_ALLOW_PRIVATE_TARGETS=` turns it off rather than
/// failing the start).
fn boolish_or_empty(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" | "off" | "f" => Ok(false),
        "1" | "true" | "yes" | "y" | "on" | "t" => Ok(true),
        other => Err(format!(
            "'{other}' is not yes or no (use 1/0, true/false, yes/no, on/off)"
        )),
    }
}

pub fn load_config(args: &ServeArgs) -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut config = Config::load(args.config.as_deref(), &env)?;
    if let Some(l) = &args.listen {
        config.server.listen = l.clone();
    }
    if let Some(d) = &args.data_dir {
        config.server.data_dir = d.clone();
    }
    if let Some(u) = &args.database_url {
        config.store.database_url = Some(u.clone());
    }
    if let Some(o) = &args.organization {
        config.server.organization = o.clone();
    }
    if let Some(a) = args.allow_private_targets {
        config.server.allow_private_targets = a;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.server.tls_cert = Some(cert.clone());
        config.server.tls_key = Some(key.clone());
        config.server.tls_self_signed = false;
    }
    if let Some(s) = args.tls_self_signed {
        config.server.tls_self_signed = s;
        if s {
            config.server.tls_cert = None;
            config.server.tls_key = None;
        }
    }
    if let Ok(k) = std::env::var("HERALD_ADMIN_KEY") {
        config.server.admin_key = Some(k);
    }
    if let Ok(k) = std::env::var("HERALD_SECRET_KEY") {
        config.server.secret_key = Some(k);
    }
    Ok(config)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    crate::cli::logging::to_stderr("info,sqlx=warn");
    let config = load_config(&args)?;
    let data_dir = config.server.data_dir.clone();
    let db = redact(&config.database_url());
    let running = herald_server::server::start(config)
        .await
        .context("cannot start herald")?;
    let origin = format!("{}://{}", running.scheme(), running.addr);
    println!("herald {} listening on {origin}", env!("CARGO_PKG_VERSION"),);
    println!("  store:     {db}");
    println!("  Web API:   {origin}/api/data/v9.2/");
    println!("  console:   {origin}/console");
    if let Some(cert) = &running.tls {
        let made = match (cert.self_signed, cert.generated) {
            (true, true) => "  (self-signed, generated now)",
            (true, false) => "  (self-signed)",
            _ => "",
        };
        println!("  TLS cert:  {}{made}", cert.path.display());
        println!("  SHA-256:   {}", cert.sha256_fingerprint);
    }
    match running.key_source {
        KeySource::Generated => {
            println!(
                "  admin key: {}  (generated; saved to {})",
                running.admin_key,
                data_dir.join("admin.key").display()
            );
        }
        KeySource::File => println!("  admin key: in {}", data_dir.join("admin.key").display()),
        KeySource::Configured => println!("  admin key: from HERALD_ADMIN_KEY / config"),
    }
    let trust = match &running.tls {
        Some(cert) if cert.self_signed => format!("--cacert {} ", cert.path.display()),
        _ => String::new(),
    };
    println!(
        "  try:       curl {trust}-H \"Authorization: Bearer $(cat {})\" {origin}/api/data/v9.2/WhoAmI",
        data_dir.join("admin.key").display(),
    );
    running.serve(shutdown_signal()).await?;
    Ok(())
}

/// Hide the password of a database URL.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
