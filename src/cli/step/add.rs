//! `herald step add`: the Plug-in Registration tool's "Register New Step".
//!
//! The local input (stage, mode, image specs) is checked before the server
//! is asked anything; then every name is resolved over the API, never
//! assumed — the webhook, the message (`sdkmessages`, exactly or ignoring
//! case), the message filter (message + table in `sdkmessagefilters`), the
//! `--run-as` user. The server checks the registration rules (async only
//! at PostOperation, filtering attributes only on Update, no pre-image on
//! Create …) and its message is shown as is. A step whose image is refused
//! is deleted again, so nothing is left half-registered.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use crate::cli::client::{as_guid, literal, Client};
use crate::cli::output::{print_record, Format, OutputArgs};
use crate::cli::registration::{id_of, resolve_step, resolve_webhook, step_record};

/// `herald step add`'s options.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The webhook (name or id) that receives the events.
    #[arg(long, value_name = "NAME|ID")]
    webhook: String,
    /// The message: Create, Update, Delete, Retrieve, RetrieveMultiple, Assign, SetState, …
    #[arg(long)]
    message: String,
    /// The table's logical name (e.g. contact); without it the step runs for every table.
    #[arg(long, value_name = "TABLE")]
    table: Option<String>,
    /// Filtering attributes (Update only): the step runs only when one of these columns changes.
    #[arg(long, value_name = "COLUMN,…")]
    filter: Option<String>,
    /// Stage: prevalidation (10), preoperation / pre (20) or postoperation / post (40).
    #[arg(long, value_parser = parse_stage)]
    stage: i64,
    /// Execution mode: sync or async (async only at stage postoperation).
    #[arg(long, value_parser = parse_mode)]
    mode: i64,
    /// Execution order among steps of the same event, ascending [server default: 1].
    #[arg(long)]
    rank: Option<i64>,
    /// Add a pre-image: its name, optionally with the columns to include (default: all).
    #[arg(long = "pre-image", value_name = "NAME[:COLUMN,…]")]
    pre_image: Vec<String>,
    /// Add a post-image: its name, optionally with the columns to include (default: all).
    #[arg(long = "post-image", value_name = "NAME[:COLUMN,…]")]
    post_image: Vec<String>,
    /// Run in this user's context (a systemuser id or domainname) instead of the calling user's.
    #[arg(long, value_name = "USER")]
    run_as: Option<String>,
    /// Delete the System Job (asyncoperation) when an async delivery succeeds.
    #[arg(long)]
    delete_job_on_success: bool,
    /// Step name [default: "<webhook>: <message> of <table>"].
    #[arg(long)]
    name: Option<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
}

pub(super) fn parse_stage(s: &str) -> Result<i64, String> {
    match s.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
        "prevalidation" | "10" => Ok(10),
        "preoperation" | "pre" | "20" => Ok(20),
        "postoperation" | "post" | "40" => Ok(40),
        _ => Err(
            "use prevalidation (10), preoperation / pre (20) or postoperation / post (40)".into(),
        ),
    }
}

pub(super) fn parse_mode(s: &str) -> Result<i64, String> {
    match s.to_ascii_lowercase().as_str() {
        "sync" | "synchronous" | "0" => Ok(0),
        "async" | "asynchronous" | "1" => Ok(1),
        _ => Err("use sync or async".into()),
    }
}

/// `NAME[:col,col]` → (name, attributes or "" for all).
fn parse_image(spec: &str, flag: &str) -> Result<(String, String)> {
    let (name, attrs) = spec.split_once(':').unwrap_or((spec, ""));
    let name = name.trim();
    if name.is_empty() {
        bail!("{flag} '{spec}': the image needs a name, as NAME or NAME:column,column");
    }
    let attrs: Vec<&str> = attrs
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    Ok((name.to_string(), attrs.join(",")))
}

/// The sdkmessage named `name` (exactly, else ignoring case): (id, name).
async fn resolve_message(client: &Client, name: &str) -> Result<(String, String)> {
    let name = name.trim();
    let filter = format!("name eq {}", literal(name));
    let exact = client
        .get_all(
            "sdkmessages",
            &[("$select", "sdkmessageid,name"), ("$filter", &filter)],
        )
        .await?;
    let all = match exact.is_empty() {
        false => exact,
        true => {
            client
                .get_all(
                    "sdkmessages",
                    &[("$select", "sdkmessageid,name"), ("$orderby", "name")],
                )
                .await?
        }
    };
    if let Some(m) = all.iter().find(|m| {
        m["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    }) {
        return Ok((
            id_of(m, "sdkmessageid")?,
            m["name"].as_str().unwrap_or(name).to_string(),
        ));
    }
    let known: Vec<&str> = all.iter().filter_map(|m| m["name"].as_str()).collect();
    bail!(
        "unknown message '{name}': herald knows {}",
        known.join(", ")
    )
}

/// The sdkmessagefilter for (message, table).
async fn resolve_filter(
    client: &Client,
    message: &(String, String),
    table: &str,
) -> Result<String> {
    let table = table.trim().to_ascii_lowercase();
    if table.is_empty() {
        bail!("--table must not be empty");
    }
    let filter = format!(
        "_sdkmessageid_value eq {} and primaryobjecttypecode eq {}",
        message.0,
        literal(&table)
    );
    let found = client
        .get_all(
            "sdkmessagefilters",
            &[("$select", "sdkmessagefilterid"), ("$filter", &filter)],
        )
        .await?;
    if let Some(f) = found.first() {
        return id_of(f, "sdkmessagefilterid");
    }
    let any = format!("primaryobjecttypecode eq {}", literal(&table));
    let page = client
        .get(
            "sdkmessagefilters",
            &[
                ("$select", "sdkmessagefilterid"),
                ("$filter", &any),
                ("$top", "1"),
            ],
        )
        .await?;
    if page["value"].as_array().is_some_and(|v| v.is_empty()) {
        bail!("unknown table '{table}': no table has that logical name (use the singular logical name, e.g. contact, not contacts)");
    }
    bail!(
        "the {} message cannot be registered on table '{table}'",
        message.1
    )
}

/// `--filter a, b,` → `a,b`: the columns, trimmed, empty ones dropped.
pub(super) fn filtering_attributes(list: &str) -> String {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// A systemuser by id or domainname.
async fn resolve_user(client: &Client, user: &str) -> Result<String> {
    if let Some(id) = as_guid(user) {
        if client
            .get_opt(
                &format!("systemusers({id})"),
                &[("$select", "systemuserid")],
            )
            .await?
            .is_some()
        {
            return Ok(id);
        }
    }
    let filter = format!("domainname eq {}", literal(user.trim()));
    let rows = client
        .get_all(
            "systemusers",
            &[("$select", "systemuserid"), ("$filter", &filter)],
        )
        .await?;
    match rows.first() {
        Some(u) => id_of(u, "systemuserid"),
        None => {
            bail!("unknown user '{user}' for --run-as: no systemuser has that id or domainname")
        }
    }
}

pub async fn add(client: &Client, a: AddArgs) -> Result<()> {
    // Check the local input before asking the server anything.
    let mut images = Vec::new();
    for spec in &a.pre_image {
        images.push((0, "--pre-image", parse_image(spec, "--pre-image")?));
    }
    for spec in &a.post_image {
        images.push((1, "--post-image", parse_image(spec, "--post-image")?));
    }
    if a.delete_job_on_success && a.mode != 1 {
        bail!("--delete-job-on-success only applies to async steps (--mode async): a sync step has no System Job");
    }
    let endpoint = resolve_webhook(client, &a.webhook).await?;
    let endpoint_id = id_of(&endpoint, "serviceendpointid")?;
    let message = resolve_message(client, &a.message).await?;
    let filter_id = match &a.table {
        Some(t) => Some(resolve_filter(client, &message, t).await?),
        None => None,
    };
    let user_id = match &a.run_as {
        Some(u) => Some(resolve_user(client, u).await?),
        None => None,
    };

    let mut body = json!({
        "sdkmessageid@odata.bind": format!("/sdkmessages({})", message.0),
        "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({endpoint_id})"),
        "stage": a.stage,
        "mode": a.mode,
        "asyncautodelete": a.delete_job_on_success,
        "supporteddeployment": 0,
    });
    if let Some(f) = &filter_id {
        body["sdkmessagefilterid@odata.bind"] = json!(format!("/sdkmessagefilters({f})"));
    }
    if let Some(u) = &user_id {
        body["impersonatinguserid@odata.bind"] = json!(format!("/systemusers({u})"));
    }
    if let Some(r) = a.rank {
        body["rank"] = json!(r);
    }
    if let Some(f) = a.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        body["filteringattributes"] = json!(filtering_attributes(f));
    }
    if let Some(n) = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        body["name"] = json!(n);
    }
    if let Some(d) = &a.description {
        body["description"] = json!(d);
    }
    let step_id = client
        .create("sdkmessageprocessingsteps", &body)
        .await
        .with_context(|| {
            format!(
                "registering the {} step on webhook '{}'",
                message.1,
                endpoint["name"].as_str().unwrap_or(&endpoint_id)
            )
        })?;

    for (imagetype, flag, (name, attributes)) in images {
        let mut image = json!({
            "sdkmessageprocessingstepid@odata.bind": format!("/sdkmessageprocessingsteps({step_id})"),
            "imagetype": imagetype,
            "name": name,
            "entityalias": name,
        });
        if !attributes.is_empty() {
            image["attributes"] = json!(attributes);
        }
        if let Err(e) = client
            .create("sdkmessageprocessingstepimages", &image)
            .await
        {
            let what = format!("{flag} '{name}'");
            return Err(match client.delete(&format!("sdkmessageprocessingsteps({step_id})")).await {
                Ok(()) => e.context(format!("{what} was refused, so the step was removed again (nothing is registered)")),
                Err(undo) => e.context(format!(
                    "{what} was refused, and removing the half-registered step {step_id} failed too ({undo:#}); remove it with `herald step remove {step_id}`"
                )),
            });
        }
    }
    match a.out.output {
        Format::Table => println!("{step_id}"),
        Format::Json => {
            // The step as registered (the server fills in its defaults).
            let row = resolve_step(client, &step_id).await?;
            print_record(Format::Json, &step_record(client, &row).await?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_modes() {
        for (s, v) in [
            ("prevalidation", 10),
            ("Pre-Operation", 20),
            ("pre", 20),
            ("post", 40),
            ("40", 40),
            ("PostOperation", 40),
        ] {
            assert_eq!(parse_stage(s), Ok(v), "{s}");
        }
        assert!(parse_stage("30").is_err());
        assert_eq!(parse_mode("Async"), Ok(1));
        assert_eq!(parse_mode("sync"), Ok(0));
        assert!(parse_mode("later").is_err());
    }

    #[test]
    fn images() {
        assert_eq!(
            parse_image("pre", "--pre-image").unwrap(),
            ("pre".into(), "".into())
        );
        assert_eq!(
            parse_image("pre: firstname, lastname,", "--pre-image").unwrap(),
            ("pre".into(), "firstname,lastname".into())
        );
        assert!(parse_image(":firstname", "--pre-image").is_err());
    }
}
