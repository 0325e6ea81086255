//! Command-line interface: `herald serve` runs the server; the other
//! commands are tools that talk to a running server over its Web API.

mod serve;

use clap::{Parser, Subcommand};

/// herald — Dataverse-style webhooks for your own data.
///
/// herald serves a Dataverse-compatible OData Web API (/api/data/v9.2/...).
/// Every create, update and delete is a server event; webhooks registered
/// as service endpoints and steps receive the RemoteExecutionContext JSON
/// exactly as Dataverse sends it.
///
/// Start here:  herald serve      (SQLite in ./herald-data, http://127.0.0.1:5080)
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (Web API, webhook pipeline, workers).
    Serve(serve::ServeArgs),
    /// Print herald's version.
    Version,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Version => {
            println!("herald {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}
