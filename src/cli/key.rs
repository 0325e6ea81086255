//! `herald key add|list`: API keys beyond the admin's, each acting as one
//! systemuser (so its writes carry that user as createdby / modifiedby and
//! WhoAmI answers with it). Needs the admin key; talks to
//! `/api/herald/keys`. The new key is printed once and never again: herald
//! keeps only its hash.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use super::client::Client;
use super::output::{print_list, print_outcome, OutputArgs};

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Make an API key that acts as a systemuser and print it (once).
    ///
    /// Example: herald key add --user dana@example.com --name ci
    Add {
        /// The systemuser the key acts as: its systemuserid or domainname
        /// (create the user first: POST /api/data/v9.2/systemusers).
        #[arg(long, value_name = "SYSTEMUSERID|DOMAINNAME")]
        user: String,
        /// A name to recognise the key by in `herald key list`.
        #[arg(long, default_value = "key")]
        name: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List the API keys: name, user, created on (never the keys themselves).
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
}

pub async fn run(client: &Client, args: KeyArgs) -> Result<()> {
    let url = format!("{}/api/herald/keys", client.root());
    match args.command {
        KeyCommand::Add { user, name, out } => {
            let key = client
                .post(&url, &json!({"user": user, "name": name}))
                .await?;
            print_outcome(out.output, &key, || {
                println!("{}", key["key"].as_str().unwrap_or_default());
                eprintln!(
                    "key '{}' created for systemuser {} ({}); it is shown only now: use it as --key / HERALD_KEY or 'Authorization: Bearer <key>'",
                    key["name"].as_str().unwrap_or_default(),
                    key["systemuserid"].as_str().unwrap_or_default(),
                    key["domainname"]
                        .as_str()
                        .or(key["fullname"].as_str())
                        .unwrap_or("no domainname"),
                );
            });
        }
        KeyCommand::List { out } => {
            let list = client.get(&url, &[]).await?;
            let rows = list["value"].as_array().cloned().unwrap_or_default();
            print_list(
                out.output,
                &["name", "systemuserid", "domainname", "createdon"],
                &rows,
                "no keys",
            );
        }
    }
    Ok(())
}
