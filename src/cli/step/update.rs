//! `herald step update ID|NAME`: change a registered step in place with one
//! `PATCH sdkmessageprocessingsteps(<id>)` of only the given fields — the
//! webhook it sends to (`--webhook`, bound as
//! `eventhandler_serviceendpoint@odata.bind`), stage, mode, rank, filtering
//! attributes, name, description. The server checks the registration rules
//! (async only at PostOperation, filtering attributes only on Update …) as
//! for `add`, and its message is shown as is. Images are not changed here.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Map, Value};

use super::add::{filtering_attributes, parse_mode, parse_stage};
use crate::cli::client::Client;
use crate::cli::output::{print_outcome, OutputArgs};
use crate::cli::registration::{id_and_name, id_of, resolve_step, resolve_webhook, step_record};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The step's id or name.
    #[arg(value_name = "ID|NAME")]
    step: String,
    /// Send the step's events to this webhook (name or id) instead.
    #[arg(long, value_name = "NAME|ID")]
    webhook: Option<String>,
    /// New filtering attributes (Update only); an empty value ('') clears them.
    #[arg(long, value_name = "COLUMN,…")]
    filter: Option<String>,
    /// New stage: prevalidation (10), preoperation / pre (20) or postoperation / post (40).
    #[arg(long, value_parser = parse_stage)]
    stage: Option<i64>,
    /// New execution mode: sync or async.
    #[arg(long, value_parser = parse_mode)]
    mode: Option<i64>,
    /// New execution order among steps of the same event.
    #[arg(long)]
    rank: Option<i64>,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
}

pub async fn update(client: &Client, a: UpdateArgs) -> Result<()> {
    let mut changes = Map::new();
    if let Some(f) = &a.filter {
        let cols = filtering_attributes(f);
        changes.insert(
            "filteringattributes".into(),
            if cols.is_empty() {
                Value::Null
            } else {
                json!(cols)
            },
        );
    }
    for (column, value) in [("stage", a.stage), ("mode", a.mode), ("rank", a.rank)] {
        if let Some(v) = value {
            changes.insert(column.into(), json!(v));
        }
    }
    if let Some(n) = &a.name {
        if n.trim().is_empty() {
            bail!("--name must not be empty");
        }
        changes.insert("name".into(), json!(n.trim()));
    }
    if let Some(d) = &a.description {
        changes.insert("description".into(), json!(d));
    }
    if a.webhook.is_none() && changes.is_empty() {
        bail!("nothing to change: give --webhook, --filter, --stage, --mode, --rank, --name or --description");
    }
    let row = resolve_step(client, &a.step).await?;
    let (id, name) = id_and_name(&row, "sdkmessageprocessingstepid")?;
    if let Some(w) = &a.webhook {
        let endpoint = resolve_webhook(client, w).await?;
        let endpoint_id = id_of(&endpoint, "serviceendpointid")?;
        changes.insert(
            "eventhandler_serviceendpoint@odata.bind".into(),
            json!(format!("/serviceendpoints({endpoint_id})")),
        );
    }
    client
        .patch(
            &format!("sdkmessageprocessingsteps({id})"),
            &Value::Object(changes),
        )
        .await
        .with_context(|| format!("updating step '{name}'"))?;
    let row = resolve_step(client, &id).await?;
    let record = step_record(client, &row).await?;
    print_outcome(a.out.output, &record, || {
        eprintln!("updated step '{name}' ({id})")
    });
    Ok(())
}
