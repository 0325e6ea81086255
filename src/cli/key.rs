//! `herald key add|list|remove`: API keys beyond the admin's, each acting
//! as one systemuser (so its writes carry that user as createdby /
//! modifiedby and WhoAmI answers with it). Needs the admin key; talks to
//! `/api/herald/keys`. The new key is printed once and never again: herald
//! keeps only its hash (a key's id is the start of that hash). A removed
//! key is refused from the next request on. `--role` gives the key's user
//! security roles (its privileges); `herald key list` shows each user's.

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::Client;
use super::output::{print_list, print_outcome, Format, OutputArgs};

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
        /// A security role to give the user (repeatable): `System
        /// Administrator`, `System Customizer`, `Basic User`, or a custom
        /// role's name or id. Without any, a user that holds no role yet
        /// becomes a Basic User.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
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

/// A key's user's roles as text: `Basic User, Sales`.
fn roles_text(key: &Value) -> String {
    key["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub async fn run(client: &Client, args: KeyArgs) -> Result<()> {
    let url = format!("{}/api/herald/keys", client.root());
    match args.command {
        KeyCommand::Add {
            user,
            name,
            roles,
            out,
        } => {
            let mut body = json!({"user": user, "name": name});
            if !roles.is_empty() {
                body["roles"] = json!(roles);
            }
            let key = client.post(&url, &body).await?;
            print_outcome(out.output, &key, || {
                println!("{}", key["key"].as_str().unwrap_or_default());
                eprintln!(
                    "key '{}' created for systemuser {} ({}, roles: {}); it is shown only now: use it as --key / HERALD_KEY or 'Authorization: Bearer <key>'",
                    key["name"].as_str().unwrap_or_default(),
                    key["systemuserid"].as_str().unwrap_or_default(),
                    key["domainname"]
                        .as_str()
                        .or(key["fullname"].as_str())
                        .unwrap_or("no domainname"),
                    roles_text(&key),
                );
            });
        }
        KeyCommand::List { out } => {
            let list = client.get(&url, &[]).await?;
            let mut rows = list["value"].as_array().cloned().unwrap_or_default();
            if !matches!(out.output, Format::Json) {
                for r in rows.iter_mut() {
                    r["roles"] = json!(roles_text(r));
                }
            }
            print_list(
                out.output,
                &[
                    "id",
                    "name",
                    "systemuserid",
                    "domainname",
                    "roles",
                    "createdon",
                ],
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
