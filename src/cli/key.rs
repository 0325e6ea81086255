//! `herald key add|list|remove`: API keys beyond the admin's, each acting
//! as one systemuser (so its writes carry that user as createdby /
//! modifiedby and WhoAmI answers with it). Needs the admin key; talks to
//! `/api/herald/keys`. The new key is printed once and never again: herald
//! keeps only its hash (a key's id is the start of that hash). A removed
//! key is refused from the next request on.

use anyhow::{anyhow, Result};
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
    /// List the API keys: id, name, user, created on (never the keys themselves).
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Remove an API key: it is refused from the next request on. The admin
    /// key herald was started with cannot be removed.
    ///
    /// Example: herald key remove ci
    Remove {
        /// The key's id (from `herald key list`) or name.
        // Its own id: `key` is the global --key (the API key to call with).
        #[arg(id = "key_to_remove", value_name = "ID|NAME")]
        key: String,
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
                &["id", "name", "systemuserid", "domainname", "createdon"],
                &rows,
                "no keys",
            );
        }
        KeyCommand::Remove { key, out } => {
            let mut target = url::Url::parse(&url)?;
            target
                .path_segments_mut()
                .map_err(|()| anyhow!("cannot address keys under {url}"))?
                .push(key.trim());
            let removed = client.delete_json(target.as_str()).await?;
            print_outcome(out.output, &removed, || {
                eprintln!(
                    "removed key '{}' ({}) of systemuser {}",
                    removed["name"].as_str().unwrap_or_default(),
                    removed["id"].as_str().unwrap_or_default(),
                    removed["systemuserid"].as_str().unwrap_or_default(),
                );
            });
        }
    }
    Ok(())
}
