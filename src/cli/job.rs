//! `herald job list|show|retry|cancel`: the System Jobs view of Dataverse
//! (Settings → System Jobs) for async steps, over the Web API.
//!
//! A System Job is an `asyncoperations` row (SPEC §3): one execution of an
//! asynchronous step, with its state (statecode/statuscode), timings, the
//! failure message and the serialized execution context (`data`). Its HTTP
//! attempts come from the bound function `herald_Attempts`; `retry` calls
//! the bound action `herald_Retry` (failed or canceled jobs only) and
//! `cancel` moves the job to Completed/Canceled (statecode 3, statuscode 32).

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::client::{as_guid, literal, Client};
use super::output::{print_list, print_outcome, print_record, Format, OutputArgs};
use crate::cli::progress::ProgressHandle;

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// List System Jobs (async step executions), newest first.
    ///
    /// Example: herald job list --failed --step 'hook: Update of contact' --top 20
    List(ListArgs),
    /// Show one System Job: its state, timings, message, execution context and every HTTP attempt.
    Show(ShowArgs),
    /// Run a failed or canceled System Job again (it becomes Ready).
    Retry(RetryArgs),
    /// Cancel a waiting, suspended or running System Job (statecode 3, statuscode 32).
    Cancel(TargetArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only failed jobs (statuscode 31).
    #[arg(long)]
    failed: bool,
    /// Only the jobs of this step (name or id).
    #[arg(long, value_name = "NAME|ID")]
    step: Option<String>,
    /// At most this many jobs (the newest).
    #[arg(long, value_name = "N", default_value_t = 50)]
    top: u32,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The job's id (asyncoperationid).
    #[arg(value_name = "ID")]
    job: String,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct RetryArgs {
    /// The job's id (asyncoperationid); or use --failed to retry many.
    #[arg(
        value_name = "ID",
        required_unless_present = "failed",
        conflicts_with = "failed"
    )]
    job: Option<String>,
    /// Retry every failed job (statuscode 31), with a progress bar.
    #[arg(long)]
    failed: bool,
    /// With --failed: only the failed jobs of this step (name or id).
    #[arg(long, value_name = "NAME|ID", requires = "failed")]
    step: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// The job's id (asyncoperationid).
    #[arg(value_name = "ID")]
    job: String,
    #[command(flatten)]
    out: OutputArgs,
}

pub async fn run(client: &Client, args: JobArgs) -> Result<()> {
    match args.command {
        JobCommand::List(a) => list(client, a).await,
        JobCommand::Show(a) => show(client, a).await,
        JobCommand::Retry(a) => match (&a.job, a.failed) {
            (Some(job), false) => retry(client, job, a.out.output).await,
            _ => retry_failed(client, a.step.as_deref(), a.out.output).await,
        },
        JobCommand::Cancel(a) => cancel(client, &a.job, a.out.output).await,
    }
}

/// Dataverse's label of an asyncoperation statuscode.
pub fn status_name(statuscode: &Value) -> String {
    match statuscode.as_i64() {
        Some(0) => "Waiting For Resources".into(),
        Some(10) => "Waiting".into(),
        Some(20) => "In Progress".into(),
        Some(21) => "Pausing".into(),
        Some(22) => "Canceling".into(),
        Some(30) => "Succeeded".into(),
        Some(31) => "Failed".into(),
        Some(32) => "Canceled".into(),
        Some(n) => n.to_string(),
        None => String::new(),
    }
}

/// Dataverse's label of an asyncoperation statecode.
fn state_name(statecode: &Value) -> String {
    match statecode.as_i64() {
        Some(0) => "Ready".into(),
        Some(1) => "Suspended".into(),
        Some(2) => "Locked".into(),
        Some(3) => "Completed".into(),
        Some(n) => n.to_string(),
        None => String::new(),
    }
}

/// The first line of a message, at most `max` characters.
fn excerpt(message: &Value, max: usize) -> Value {
    let Some(m) = message.as_str() else {
        return Value::Null;
    };
    let line = m
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    match line.char_indices().nth(max) {
        Some((i, _)) => json!(format!("{}…", &line[..i])),
        None => json!(line),
    }
}

/// A job id argument as a canonical GUID.
fn job_id(s: &str) -> Result<String> {
    as_guid(s)
        .ok_or_else(|| anyhow!("'{s}' is not a System Job id (a GUID; see `herald job list`)"))
}

/// The id of a step given by name or id.
async fn step_id(client: &Client, step: &str) -> Result<String> {
    if let Some(id) = as_guid(step) {
        // Jobs keep their step id after the step is deleted: filter by it as is.
        return Ok(id);
    }
    let rows = client
        .get_all(
            "sdkmessageprocessingsteps",
            &[
                ("$select", "sdkmessageprocessingstepid,name"),
                ("$filter", &format!("name eq {}", literal(step))),
            ],
        )
        .await
        .with_context(|| format!("looking up step '{step}'"))?;
    rows.first()
        .and_then(|r| r["sdkmessageprocessingstepid"].as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            anyhow!("unknown step '{step}': no step has that name or id (see `herald step list`)")
        })
}

const LIST_SELECT: &str = "asyncoperationid,name,statecode,statuscode,createdon,startedon,completedon,retrycount,message,_owningextensionid_value,primaryentitytype,regardingobjectid";

async fn list(client: &Client, a: ListArgs) -> Result<()> {
    let mut filters = Vec::new();
    if a.failed {
        filters.push("statuscode eq 31".to_string());
    }
    if let Some(step) = &a.step {
        filters.push(format!(
            "_owningextensionid_value eq {}",
            step_id(client, step).await?
        ));
    }
    let top = a.top.max(1).to_string();
    let mut query: Vec<(&str, &str)> = vec![
        ("$select", LIST_SELECT),
        ("$orderby", "createdon desc,asyncoperationid"),
        ("$top", &top),
    ];
    let filter = filters.join(" and ");
    if !filter.is_empty() {
        query.push(("$filter", &filter));
    }
    let page = client.get("asyncoperations", &query).await?;
    let rows = page["value"].as_array().ok_or_else(|| {
        anyhow!("unexpected answer from herald for asyncoperations: no \"value\" list")
    })?;
    let json = a.out.output == Format::Json;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r["asyncoperationid"],
                "name": r["name"],
                "status": status_name(&r["statuscode"]),
                "created": r["createdon"],
                "completed": r["completedon"],
                "retries": r["retrycount"],
                "message": if json { r["message"].clone() } else { excerpt(&r["message"], 60) },
                "statecode": r["statecode"],
                "statuscode": r["statuscode"],
                "step": r["_owningextensionid_value"],
                "table": r["primaryentitytype"],
                "regarding": r["regardingobjectid"],
                "started": r["startedon"],
            })
        })
        .collect();
    let empty = if a.failed {
        "no failed System Jobs"
    } else {
        "no System Jobs"
    };
    print_list(
        a.out.output,
        &[
            "id",
            "name",
            "status",
            "created",
            "completed",
            "retries",
            "message",
        ],
        &rows,
        empty,
    );
    Ok(())
}

async fn show(client: &Client, a: ShowArgs) -> Result<()> {
    let id = job_id(&a.job)?;
    let row = client
        .get(&format!("asyncoperations({id})"), &[])
        .await
        .with_context(|| format!("reading System Job {id}"))?;
    let attempts = client
        .get(
            &format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Attempts"),
            &[],
        )
        .await
        .with_context(|| format!("reading the attempts of System Job {id}"))?;
    let attempts = numbered_attempts(attempts["value"].as_array().cloned().unwrap_or_default());
    // The execution context as JSON (it is stored as text).
    let context = match row["data"].as_str() {
        Some(s) => {
            serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::String(s.to_string()))
        }
        None => Value::Null,
    };
    let json_out = a.out.output == Format::Json;
    let mut record = Map::new();
    record.insert("id".into(), row["asyncoperationid"].clone());
    record.insert("name".into(), row["name"].clone());
    record.insert(
        "state".into(),
        json!(format!(
            "{} ({})",
            state_name(&row["statecode"]),
            row["statecode"]
        )),
    );
    record.insert(
        "status".into(),
        json!(format!(
            "{} ({})",
            status_name(&row["statuscode"]),
            row["statuscode"]
        )),
    );
    if json_out {
        record.insert("statecode".into(), row["statecode"].clone());
        record.insert("statuscode".into(), row["statuscode"].clone());
    }
    for (key, column) in [
        ("step", "_owningextensionid_value"),
        ("table", "primaryentitytype"),
        ("regarding", "regardingobjectid"),
        ("correlation", "correlationid"),
        ("depth", "depth"),
        ("created", "createdon"),
        ("started", "startedon"),
        ("completed", "completedon"),
        ("executiontimespan", "executiontimespan"),
        ("postponeuntil", "postponeuntil"),
        ("retries", "retrycount"),
        ("errorcode", "errorcode"),
        ("friendlymessage", "friendlymessage"),
    ] {
        record.insert(key.into(), row[column].clone());
    }
    record.insert("attemptcount".into(), json!(attempts.len()));
    if json_out {
        record.insert("message".into(), row["message"].clone());
        record.insert("context".into(), context);
        record.insert("attempts".into(), Value::Array(attempts));
        print_record(Format::Json, &Value::Object(record));
        return Ok(());
    }
    record.insert("attempts".into(), Value::Array(attempts));
    print_record(Format::Table, &Value::Object(record));
    // The message spans lines: print it in full below the fields. It
    // describes the latest run only (its `attempt N:` lines count that run's
    // tries), so it says so.
    if let Some(m) = row["message"].as_str().filter(|m| !m.trim().is_empty()) {
        println!("message (of the latest run; its tries numbered from 1):");
        for line in m.trim_end().lines() {
            println!("  {line}");
        }
    }
    println!("context:");
    let text = serde_json::to_string_pretty(&context).unwrap_or_else(|_| context.to_string());
    for line in text.lines() {
        println!("  {line}");
    }
    Ok(())
}

/// The job's HTTP attempts as `job show` prints them, numbered as the
/// server numbers them: 1..N over the job's whole life, across retries.
///
/// What a Dataverse user expects, and so what herald shows: `retrycount`
/// ("retries") is the number of *automatic* retries the service made (the
/// one extra try after a 502/503/504), as Dataverse's async service counts
/// it; a retry asked for by a user (`herald job retry`, herald_Retry) is a
/// new run and does not change it. So retries 0 beside 3 attempts is three
/// runs of one try each, which `attemptcount` says; and the job's message,
/// written per run (`attempt 1:` = that run's first try), is labelled as
/// the latest run's.
fn numbered_attempts(server: Vec<Value>) -> Vec<Value> {
    server
        .into_iter()
        .map(|t| {
            json!({
                "attempt": t["attempt"],
                "started": t["startedon"],
                "status": t["status"],
                "ms": t["durationms"],
                "error": t["error"],
                "response": t["response"],
            })
        })
        .collect()
}

async fn retry(client: &Client, job: &str, format: Format) -> Result<()> {
    let id = job_id(job)?;
    let after = client
        .post(
            &format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry"),
            &json!({}),
        )
        .await
        .with_context(|| format!("retrying System Job {id}"))?;
    print_outcome(
        format,
        &json!({
            "id": id,
            "state": state_name(&after["statecode"]),
            "status": status_name(&after["statuscode"]),
            "statecode": after["statecode"],
            "statuscode": after["statuscode"],
        }),
        || {
            eprintln!(
                "System Job {id} is {} again; it runs as soon as a worker is free",
                state_name(&after["statecode"])
            )
        },
    );
    Ok(())
}

/// Retry every failed job (of one step), showing progress on stderr; with
/// `--output json` the outcome is one object: `total`, `retried` (ids)
/// and `failed` (id and error of each job that could not be retried).
async fn retry_failed(client: &Client, step: Option<&str>, format: Format) -> Result<()> {
    let mut filter = "statuscode eq 31".to_string();
    if let Some(step) = step {
        filter.push_str(&format!(
            " and _owningextensionid_value eq {}",
            step_id(client, step).await?
        ));
    }
    let jobs = client
        .get_all(
            "asyncoperations",
            &[("$select", "asyncoperationid"), ("$filter", &filter)],
        )
        .await?;
    let total = jobs.len();
    if total == 0 {
        print_outcome(
            format,
            &json!({"total": 0, "retried": [], "failed": []}),
            || eprintln!("no failed System Jobs"),
        );
        return Ok(());
    }
    let mut retried = Vec::new();
    let mut failed = Vec::new();
    let progress = ProgressHandle::start("retrying failed System Jobs", total as u64);
    for (i, j) in jobs.iter().enumerate() {
        let id = j["asyncoperationid"].as_str().unwrap_or_default();
        let path = format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry");
        match client.post(&path, &json!({})).await {
            Ok(_) => retried.push(json!(id)),
            Err(e) => {
                progress.println(&format!("{id}: {e:#}"));
                failed.push(json!({"id": id, "error": format!("{e:#}")}));
            }
        }
        progress.set(i as u64 + 1);
    }
    progress.finish();
    let failures = failed.len();
    let record = json!({"total": total, "retried": retried, "failed": failed});
    if failures > 0 {
        if format == Format::Json {
            print_outcome(format, &record, || {});
        }
        return Err(anyhow!(
            "{failures} of {total} System Jobs could not be retried"
        ));
    }
    print_outcome(format, &record, || {
        eprintln!("{total} System Jobs are Ready again")
    });
    Ok(())
}

async fn cancel(client: &Client, job: &str, format: Format) -> Result<()> {
    let id = job_id(job)?;
    client
        .patch(
            &format!("asyncoperations({id})"),
            &json!({"statecode": 3, "statuscode": 32}),
        )
        .await
        .with_context(|| format!("canceling System Job {id}"))?;
    print_outcome(
        format,
        &json!({"id": id, "state": "Completed", "status": "Canceled", "statecode": 3, "statuscode": 32}),
        || eprintln!("canceled System Job {id}"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_excerpts() {
        assert_eq!(status_name(&json!(31)), "Failed");
        assert_eq!(state_name(&json!(3)), "Completed");
        assert_eq!(
            excerpt(
                &json!("\nWebhook delivery failed: HTTP 500\nattempt 1: …"),
                60
            ),
            json!("Webhook delivery failed: HTTP 500")
        );
        assert_eq!(excerpt(&json!("abcdef"), 3), json!("abc…"));
        assert_eq!(excerpt(&Value::Null, 3), Value::Null);
        assert!(job_id("nope")
            .unwrap_err()
            .to_string()
            .contains("not a System Job id"));
    }
}
