//! `herald notify --webhook N --context FILE.json`: send a
//! RemoteExecutionContext to a webhook by hand, like a plug-in calling
//! `IServiceEndpointNotificationService.Execute` (seed 000, "Invoke a
//! webhook from a plugin or workflow activity").
//!
//! The file's JSON is POSTed to the bound action
//! `serviceendpoints(<id>)/Microsoft.Dynamics.CRM.herald_Notify`; herald
//! delivers it with the webhook's url and authentication and answers
//! `{"value": "<the endpoint's response body>"}`, which is printed. A
//! failed delivery comes back as an OData error ("Endpoint unavailable …").

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::webhook::{self, id_of};

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The webhook (name or id) to send to.
    #[arg(long, value_name = "NAME|ID")]
    webhook: String,
    /// The execution context to send: a JSON file, or - for standard input.
    #[arg(long, value_name = "FILE.json")]
    context: PathBuf,
}

pub async fn run(client: &Client, args: NotifyArgs) -> Result<()> {
    let text = if args.context.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .context("cannot read the context from standard input")?
    } else {
        std::fs::read_to_string(&args.context)
            .map_err(|e| anyhow!("cannot read --context {}: {e}", args.context.display()))?
    };
    let context: Value =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
            anyhow!(
                "--context {} is not valid JSON: {e}",
                args.context.display()
            )
        })?;
    let endpoint = webhook::resolve(client, &args.webhook).await?;
    let id = id_of(&endpoint, "serviceendpointid")?;
    let name = endpoint["name"].as_str().unwrap_or(&id).to_string();
    let answer = client
        .post(
            &format!("serviceendpoints({id})/Microsoft.Dynamics.CRM.herald_Notify"),
            &context,
        )
        .await
        .with_context(|| format!("notifying webhook '{name}'"))?;
    match answer.get("value") {
        Some(Value::String(s)) => println!("{s}"),
        Some(Value::Null) => {}
        Some(v) => println!("{v}"),
        None if answer.is_null() => {}
        None => println!("{answer}"),
    }
    Ok(())
}
