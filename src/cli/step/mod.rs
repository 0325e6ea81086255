//! `herald step add|update|list|show|enable|disable|remove`: the Plug-in
//! Registration tool's "Register New Step" for a webhook, over the Web API.
//!
//! A step is a `sdkmessageprocessingsteps` row bound to a message
//! (`sdkmessages`, found by name), optionally a message filter (the
//! message + table pair in `sdkmessagefilters`), and the webhook as its
//! event handler; its images are `sdkmessageprocessingstepimages` rows.
//! Registering one (`add`, with the names it resolves) is [`add`]'s; this
//! file holds the command line and the commands on registered steps.

mod add;
mod update;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use super::client::Client;
use super::output::{print_list, print_outcome, print_record, Format, OutputArgs};
use super::registration::{
    id_and_name, id_of, resolve_step, resolve_webhook, step_record, step_rows,
};

#[derive(Debug, Args)]
pub struct StepArgs {
    #[command(subcommand)]
    command: StepCommand,
}

#[derive(Debug, Subcommand)]
enum StepCommand {
    /// Register a step that sends a message's events to a webhook; prints the step id.
    ///
    /// Example: herald step add --webhook requestbin --message Update --table contact
    ///          --filter firstname,lastname --stage post --mode async --pre-image before:firstname
    Add(Box<add::AddArgs>),
    /// Change a step in place: its webhook, stage, mode, rank, filtering attributes, name.
    ///
    /// Example: herald step update 'requestbin: Update of contact' --webhook other --rank 2
    Update(Box<update::UpdateArgs>),
    /// List the registered steps.
    List(ListArgs),
    /// Show one step and its images.
    Show(ShowArgs),
    /// Enable a step (statecode 0, statuscode 1).
    Enable(TargetArgs),
    /// Disable a step (statecode 1, statuscode 2): its events are no longer sent.
    Disable(TargetArgs),
    /// Delete a step and its images.
    Remove(TargetArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only the steps of this webhook (name or id).
    #[arg(long, value_name = "NAME|ID")]
    webhook: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The step's id or name.
    #[arg(value_name = "ID|NAME")]
    step: String,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// The step's id or name.
    #[arg(value_name = "ID|NAME")]
    step: String,
    #[command(flatten)]
    out: OutputArgs,
}

pub async fn run(client: &Client, args: StepArgs) -> Result<()> {
    match args.command {
        StepCommand::Add(a) => add::add(client, *a).await,
        StepCommand::Update(a) => update::update(client, *a).await,
        StepCommand::List(a) => list(client, a).await,
        StepCommand::Show(a) => show(client, a).await,
        StepCommand::Enable(a) => set_state(client, &a.step, true, a.out.output).await,
        StepCommand::Disable(a) => set_state(client, &a.step, false, a.out.output).await,
        StepCommand::Remove(a) => remove(client, &a.step, a.out.output).await,
    }
}

async fn list(client: &Client, a: ListArgs) -> Result<()> {
    let webhook_id = match &a.webhook {
        Some(w) => Some(id_of(
            &resolve_webhook(client, w).await?,
            "serviceendpointid",
        )?),
        None => None,
    };
    let rows = step_rows(client, webhook_id.as_deref()).await?;
    print_list(
        a.out.output,
        &[
            "name",
            "id",
            "webhook",
            "message",
            "table",
            "stage",
            "mode",
            "rank",
            "enabled",
            "filteringattributes",
        ],
        &rows,
        "no steps registered",
    );
    Ok(())
}

async fn show(client: &Client, a: ShowArgs) -> Result<()> {
    let row = resolve_step(client, &a.step).await?;
    print_record(a.out.output, &step_record(client, &row).await?);
    Ok(())
}

async fn set_state(client: &Client, step: &str, enable: bool, format: Format) -> Result<()> {
    let row = resolve_step(client, step).await?;
    let (id, name) = id_and_name(&row, "sdkmessageprocessingstepid")?;
    let body = if enable {
        json!({"statecode": 0, "statuscode": 1})
    } else {
        json!({"statecode": 1, "statuscode": 2})
    };
    let verb = if enable { "enabled" } else { "disabled" };
    client
        .patch(&format!("sdkmessageprocessingsteps({id})"), &body)
        .await
        .with_context(|| format!("setting step '{name}' {verb}"))?;
    print_outcome(
        format,
        &json!({"id": id, "name": name, "enabled": enable}),
        || eprintln!("{verb} step '{name}' ({id})"),
    );
    Ok(())
}

async fn remove(client: &Client, step: &str, format: Format) -> Result<()> {
    let row = resolve_step(client, step).await?;
    let (id, name) = id_and_name(&row, "sdkmessageprocessingstepid")?;
    client
        .delete(&format!("sdkmessageprocessingsteps({id})"))
        .await
        .with_context(|| format!("removing step '{name}'"))?;
    print_outcome(
        format,
        &json!({"id": id, "name": name, "removed": true}),
        || eprintln!("removed step '{name}' ({id}) and its images"),
    );
    Ok(())
}
