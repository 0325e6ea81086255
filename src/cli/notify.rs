//! `herald notify --webhook N --context FILE.json`: send a
//! RemoteExecutionContext to a webhook by hand, like a plug-in calling
//! `IServiceEndpointNotificationService.Execute` (seed 000, "Invoke a
//! webhook from a plugin or workflow activity").
//!
//! The file's JSON is POSTed to the bound action
//! `serviceendpoints(<id>)/Microsoft.Dynamics.CRM.herald_Notify`; herald
//! delivers it with the webhook's url and authentication and answers
//! `{"value": "<the endpoint's response body>"}`, which is printed (with
//! `--output json`: `{"webhook", "id", "response"}`, the response parsed
//! when it is JSON). A failed delivery comes back as an OData error
//! ("Endpoint unavailable …").

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde_json::Value;

use super::client::Client;
use super::output::{print_outcome, OutputArgs};
use super::registration::{id_and_name, resolve_webhook};

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The webhook (name or id) to send to.
    #[arg(long, value_name = "NAME|ID")]
    webhook: String,
    /// The execution context to send: a JSON file, or - for standard input.
    #[arg(long, value_name = "FILE.json")]
    context: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
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
    let endpoint = resolve_webhook(client, &args.webhook).await?;
    let (id, name) = id_and_name(&endpoint, "serviceendpointid")?;
    let answer = client
        .post(
            &format!("serviceendpoints({id})/Microsoft.Dynamics.CRM.herald_Notify"),
            &context,
        )
        .await
        .with_context(|| format!("notifying webhook '{name}'"))?;
    let response = match answer.get("value") {
        Some(v) => v.clone(),
        None => answer.clone(),
    };
    let parsed = match &response {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| response.clone()),
        other => other.clone(),
    };
    print_outcome(
        args.out.output,
        &serde_json::json!({"webhook": name, "id": id, "response": parsed}),
        || match &response {
            Value::String(s) => println!("{s}"),
            Value::Null => {}
            v => println!("{v}"),
        },
    );
    Ok(())
}
