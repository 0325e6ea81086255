//! The registered rows as the CLI finds and shows them: webhooks
//! (`serviceendpoints`) and their steps (`sdkmessageprocessingsteps`),
//! looked up by id or name over the Web API. `webhook`, `step` and
//! `notify` all need these lookups (a step names its webhook, a webhook
//! shows and guards its steps), so they live here, below all three, and
//! none of the command modules imports another.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::client::{as_guid, literal, Client};

/// `row[column]` as a string: an id the server must have sent.
pub fn id_of(row: &Value, column: &str) -> Result<String> {
    row[column]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("unexpected answer from herald: the row has no {column}"))
}

/// A row's id (`row[id_column]`) and its name (the id when it has none),
/// as the commands name what they act on.
pub fn id_and_name(row: &Value, id_column: &str) -> Result<(String, String)> {
    let id = id_of(row, id_column)?;
    let name = row["name"].as_str().unwrap_or(&id).to_string();
    Ok((id, name))
}

/// The webhook columns [`resolve_webhook`] reads.
const WEBHOOK_SELECT: &str =
    "serviceendpointid,name,url,authtype,isauthvalueset,description,contract,createdon,modifiedon";

/// Find a webhook by id or name; the row has the columns of [`WEBHOOK_SELECT`].
pub async fn resolve_webhook(client: &Client, name_or_id: &str) -> Result<Value> {
    if let Some(id) = as_guid(name_or_id) {
        if let Some(row) = client
            .get_opt(
                &format!("serviceendpoints({id})"),
                &[("$select", WEBHOOK_SELECT)],
            )
            .await?
        {
            return Ok(row);
        }
    }
    let filter = format!("name eq {}", literal(name_or_id));
    let rows = client
        .get_all(
            "serviceendpoints",
            &[("$select", WEBHOOK_SELECT), ("$filter", &filter)],
        )
        .await
        .with_context(|| format!("looking up webhook '{name_or_id}'"))?;
    rows.into_iter()
        .next()
        .ok_or_else(|| anyhow!("unknown webhook '{name_or_id}': no webhook has that name or id (see `herald webhook list`)"))
}

/// The webhooks in the order `herald webhook list` shows them.
pub async fn webhook_rows(client: &Client) -> Result<Vec<Value>> {
    client
        .get_all(
            "serviceendpoints",
            &[
                ("$select", WEBHOOK_SELECT),
                ("$filter", "contract eq 8"),
                ("$orderby", "name"),
            ],
        )
        .await
}

const STEP_SELECT: &str =
    "sdkmessageprocessingstepid,name,description,stage,mode,rank,statecode,filteringattributes,asyncautodelete,_eventhandler_value,_impersonatinguserid_value";
const STEP_EXPAND: &str =
    "sdkmessageid($select=name),sdkmessagefilterid($select=primaryobjecttypecode),eventhandler_serviceendpoint($select=name)";

fn stage_name(v: &Value) -> Value {
    match v.as_i64() {
        Some(10) => json!("PreValidation"),
        Some(20) => json!("PreOperation"),
        Some(40) => json!("PostOperation"),
        Some(n) => json!(n.to_string()),
        None => Value::Null,
    }
}

fn mode_name(v: &Value) -> Value {
    match v.as_i64() {
        Some(0) => json!("sync"),
        Some(1) => json!("async"),
        Some(n) => json!(n.to_string()),
        None => Value::Null,
    }
}

/// A step row (from [`resolve_step`]) as the CLI shows it.
fn friendly_step(r: &Value) -> Value {
    json!({
        "name": r["name"],
        "id": r["sdkmessageprocessingstepid"],
        "webhook": r["eventhandler_serviceendpoint"]["name"],
        "message": r["sdkmessageid"]["name"],
        "table": r["sdkmessagefilterid"]["primaryobjecttypecode"],
        "stage": stage_name(&r["stage"]),
        "mode": mode_name(&r["mode"]),
        "rank": r["rank"],
        "enabled": r["statecode"].as_i64().map(|s| s == 0),
        "filteringattributes": r["filteringattributes"],
    })
}

/// The steps (of one webhook, or all), as the CLI shows them.
pub async fn step_rows(client: &Client, webhook_id: Option<&str>) -> Result<Vec<Value>> {
    let filter = webhook_id.map(|id| format!("_eventhandler_value eq {id}"));
    let mut query = vec![
        ("$select", STEP_SELECT),
        ("$expand", STEP_EXPAND),
        ("$orderby", "name"),
    ];
    if let Some(f) = &filter {
        query.push(("$filter", f));
    }
    let rows = client.get_all("sdkmessageprocessingsteps", &query).await?;
    Ok(rows.iter().map(friendly_step).collect())
}

/// Find a step by id or (unique) name; the row has its columns, message,
/// table and webhook name.
pub async fn resolve_step(client: &Client, id_or_name: &str) -> Result<Value> {
    if let Some(id) = as_guid(id_or_name) {
        let path = format!("sdkmessageprocessingsteps({id})");
        if let Some(row) = client
            .get_opt(&path, &[("$select", STEP_SELECT), ("$expand", STEP_EXPAND)])
            .await?
        {
            return Ok(row);
        }
    }
    let filter = format!("name eq {}", literal(id_or_name));
    let mut rows = client
        .get_all(
            "sdkmessageprocessingsteps",
            &[
                ("$select", STEP_SELECT),
                ("$expand", STEP_EXPAND),
                ("$filter", &filter),
            ],
        )
        .await
        .with_context(|| format!("looking up step '{id_or_name}'"))?;
    match rows.len() {
        0 => bail!(
            "unknown step '{id_or_name}': no step has that id or name (see `herald step list`)"
        ),
        1 => Ok(rows.remove(0)),
        n => {
            let ids: Vec<&str> = rows
                .iter()
                .filter_map(|r| r["sdkmessageprocessingstepid"].as_str())
                .collect();
            bail!(
                "{n} steps are named '{id_or_name}'; use the id: {}",
                ids.join(", ")
            )
        }
    }
}

/// One step (a [`resolve_step`]ed row) with its images, as `herald step
/// show` prints it.
pub async fn step_record(client: &Client, row: &Value) -> Result<Value> {
    let id = id_of(row, "sdkmessageprocessingstepid")?;
    let filter = format!("_sdkmessageprocessingstepid_value eq {id}");
    let images = client
        .get_all(
            "sdkmessageprocessingstepimages",
            &[
                (
                    "$select",
                    "sdkmessageprocessingstepimageid,name,entityalias,imagetype,attributes",
                ),
                ("$filter", &filter),
                ("$orderby", "name"),
            ],
        )
        .await?;
    let images: Vec<Value> = images
        .iter()
        .map(|i| {
            let kind = match i["imagetype"].as_i64() {
                Some(0) => json!("PreImage"),
                Some(1) => json!("PostImage"),
                Some(2) => json!("Both"),
                _ => i["imagetype"].clone(),
            };
            let attributes = match i["attributes"].as_str() {
                Some(a) if !a.is_empty() => json!(a),
                _ => json!("(all)"),
            };
            json!({"name": i["name"], "id": i["sdkmessageprocessingstepimageid"], "type": kind, "entityalias": i["entityalias"], "attributes": attributes})
        })
        .collect();
    let mut record = friendly_step(row);
    record["webhookid"] = row["_eventhandler_value"].clone();
    record["deletejobonsuccess"] = row["asyncautodelete"].clone();
    record["runas"] = row["_impersonatinguserid_value"].clone();
    record["description"] = row["description"].clone();
    record["images"] = Value::Array(images);
    Ok(record)
}
