//! Command-line interface: `herald serve` runs the server; the other
//! commands are tools that talk to a running server over its Web API.

mod argv;
mod bench;
mod bin;
mod client;
mod completions;
mod doctor;
mod job;
mod key;
mod logging;
mod notify;
mod output;
mod progress;
mod registration;
mod secrets;
mod serve;
mod step;
mod subscription;
mod webhook;

use clap::{Parser, Subcommand};

/// herald's version: the package version and, when built from a git
/// checkout, the commit (`0.1.0 (abc1234)`; see build.rs).
pub const VERSION: &str = match env!("HERALD_GIT_COMMIT").as_bytes() {
    [] => env!("CARGO_PKG_VERSION"),
    _ => concat!(
        env!("CARGO_PKG_VERSION"),
        " (",
        env!("HERALD_GIT_COMMIT"),
        ")"
    ),
};

/// herald — Dataverse-style webhooks for your own data.
///
/// herald serves a Dataverse-compatible OData Web API (/api/data/v9.2/...).
/// Every create, update and delete is a server event; webhooks registered
/// as service endpoints and steps receive the RemoteExecutionContext JSON
/// exactly as Dataverse sends it.
///
/// Start here:  herald serve      (SQLite in ./herald-data, http://127.0.0.1:5080)
///
/// Then register, like the Plug-in Registration tool does (connection
/// options --url and --key go before or after the command; HERALD_URL /
/// HERALD_KEY work too):
///
///   herald webhook add --name bin --url https://example.com/hook --auth header 'X-Key: secret'
///
///   herald step add --webhook bin --message Update --table contact --stage post --mode async
///
///   herald step list --url http://host:5080 --key KEY
#[derive(Debug, Parser)]
#[command(name = "herald", version = VERSION, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub connect: client::ConnectArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (Web API, webhook pipeline, workers).
    Serve(serve::ServeArgs),
    /// Register, list, show and remove webhooks (service endpoints) on a running herald.
    Webhook(webhook::WebhookArgs),
    /// Register, list, enable, disable and remove a webhook's steps on a running herald.
    Step(step::StepArgs),
    /// Send an execution context (a JSON file) to a webhook through a running herald.
    Notify(notify::NotifyArgs),
    /// List, show, retry and cancel System Jobs (async step executions) on a running herald.
    Job(job::JobArgs),
    /// Request bins: URLs that capture what is sent to them (point a webhook at one).
    Bin(bin::BinArgs),
    /// Measure throughput and latency in-process on loopback (server, receiver, load generator).
    Bench(bench::BenchArgs),
    /// List, show and delete Business Central webhook subscriptions on a running herald.
    Subscription(subscription::SubscriptionArgs),
    /// Check the configuration, store, listen address and registered webhooks.
    Doctor(doctor::DoctorArgs),
    /// Add and list API keys that act as other systemusers (needs the admin key).
    Key(key::KeyArgs),
    /// The keys that encrypt stored secrets: generate one, rotate to a new one online.
    Secrets(secrets::SecretsArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    ///
    /// Example: herald completions bash > ~/.local/share/bash-completion/completions/herald
    Completions(completions::CompletionsArgs),
    /// Print herald's version.
    Version,
}

/// Parse the command line (connection options may follow the command:
/// see [`argv`]).
pub fn parse() -> Cli {
    let args = argv::hoist_server_url(std::env::args_os().collect());
    match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Webhook(args) => webhook::run(&client::Client::connect(&cli.connect)?, args).await,
        Command::Step(args) => step::run(&client::Client::connect(&cli.connect)?, args).await,
        Command::Notify(args) => notify::run(&client::Client::connect(&cli.connect)?, args).await,
        Command::Job(args) => job::run(&client::Client::connect(&cli.connect)?, args).await,
        Command::Bin(args) => bin::run(&client::Client::connect(&cli.connect)?, args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Subscription(args) => {
            subscription::run(&client::Client::connect(&cli.connect)?, args).await
        }
        Command::Doctor(args) => doctor::run(args).await,
        Command::Secrets(args) => secrets::run(args).await,
        Command::Key(args) => key::run(&client::Client::connect(&cli.connect)?, args).await,
        Command::Completions(args) => {
            completions::print(args);
            Ok(())
        }
        Command::Version => {
            println!("herald {VERSION}");
            Ok(())
        }
    }
}
