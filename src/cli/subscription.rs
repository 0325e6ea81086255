//! `herald subscription list|show|delete`: the Business Central webhook
//! subscriptions of a running herald (`/api/v2.0/subscriptions`). They are
//! created by subscribers themselves (POST with the validation handshake);
//! this is the operator's view, and the way to remove one.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::Client;
use super::output::{print_list, print_outcome, print_record, Format, OutputArgs};

#[derive(Debug, Args)]
pub struct SubscriptionArgs {
    #[command(subcommand)]
    command: SubscriptionCommand,
}

#[derive(Debug, Subcommand)]
enum SubscriptionCommand {
    /// List the subscriptions: id, resource, notification URL, expiry.
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show one subscription.
    Show {
        /// The subscriptionId.
        id: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Delete a subscription (its pending notifications are dropped).
    Delete {
        /// The subscriptionId.
        id: String,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// The path of one subscription, the id quoted as BC writes it.
fn one(root: &str, id: &str) -> String {
    format!(
        "{root}/api/v2.0/subscriptions('{}')",
        id.trim().trim_matches('\'').replace('\'', "''")
    )
}

/// The columns of `list`, from the API's camelCase fields.
fn row(s: &Value) -> Value {
    serde_json::json!({
        "id": s["subscriptionId"],
        "resource": s["resource"],
        "notification url": s["notificationUrl"],
        "expires": s["expirationDateTime"],
    })
}

pub async fn run(client: &Client, args: SubscriptionArgs) -> Result<()> {
    let root = client.root();
    match args.command {
        SubscriptionCommand::List { out } => {
            let list = client
                .get(&format!("{root}/api/v2.0/subscriptions"), &[])
                .await
                .context("listing subscriptions")?;
            let subs = list["value"].as_array().cloned().unwrap_or_default();
            match out.output {
                Format::Json => print_list(Format::Json, &[], &subs, ""),
                Format::Table => {
                    let rows: Vec<Value> = subs.iter().map(row).collect();
                    print_list(
                        Format::Table,
                        &["id", "resource", "notification url", "expires"],
                        &rows,
                        "no subscriptions",
                    );
                }
            }
        }
        SubscriptionCommand::Show { id, out } => {
            let mut sub = client
                .get_opt(&one(&root, &id), &[])
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("no subscription '{id}' (see herald subscription list)")
                })?;
            if let Some(m) = sub.as_object_mut() {
                m.retain(|k, _| !k.starts_with("@odata.context"));
            }
            print_record(out.output, &sub);
        }
        SubscriptionCommand::Delete { id, out } => {
            if client.get_opt(&one(&root, &id), &[]).await?.is_none() {
                anyhow::bail!("no subscription '{id}' (see herald subscription list)");
            }
            client
                .delete_any_version(&one(&root, &id))
                .await
                .with_context(|| format!("deleting subscription {id}"))?;
            print_outcome(
                out.output,
                &serde_json::json!({"id": id, "deleted": true}),
                || println!("deleted subscription {id}"),
            );
        }
    }
    Ok(())
}
