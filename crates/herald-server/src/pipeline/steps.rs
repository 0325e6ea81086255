//! Loading the registered steps (with their images) and the webhook
//! endpoints they call, inside the write's transaction so a step registered
//! a moment ago is seen by the next write.

use herald_core::authvalue::{webhook_auth, WebhookAuth};
use herald_core::matching::{comma_list, ImageDef, StepDef};
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::{Query, Value};
use herald_store::Tx;
use uuid::Uuid;

use crate::bootstrap::{message_filter_id, message_id};
use crate::error::{ApiError, ApiResult};

/// A webhook as the sender needs it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub auth: Result<WebhookAuth, String>,
    /// Standard Webhooks secrets to sign with (current, then the previous
    /// one while its grace period lasts).
    pub signing: Vec<herald_delivery::SigningSecret>,
}

/// Enabled steps registered for `message` on `table` (or on any table).
pub async fn load(tx: &mut Tx, message: &str, table: &str) -> ApiResult<Vec<StepDef>> {
    let mut q = Query::all("sdkmessageprocessingstep");
    let col = |c: &str| ColumnRef::new(c);
    q.filter = Some(Condition::And(vec![
        Condition::Compare {
            column: col("sdkmessageid"),
            op: CompareOp::Eq,
            value: Value::Guid(message_id(message)),
        },
        Condition::Compare {
            column: col("statecode"),
            op: CompareOp::Eq,
            value: Value::Int(0),
        },
        Condition::Or(vec![
            Condition::Compare {
                column: col("sdkmessagefilterid"),
                op: CompareOp::Eq,
                value: Value::Guid(message_filter_id(message, table)),
            },
            Condition::Null {
                column: col("sdkmessagefilterid"),
                negated: false,
            },
        ]),
    ]));
    let rows = tx.fetch(&q, None, 0).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.get("sdkmessageprocessingstepid").cloned())
        .collect();
    let mut iq = Query::all("sdkmessageprocessingstepimage");
    iq.filter = Some(Condition::In {
        column: col("sdkmessageprocessingstepid"),
        values: ids,
        negated: false,
    });
    let images = tx.fetch(&iq, None, 0).await?;
    let mut out = Vec::new();
    for r in rows {
        let Some(id) = r.guid("sdkmessageprocessingstepid") else {
            continue;
        };
        let Some(endpoint_id) = r.guid("eventhandler") else {
            continue;
        };
        let step_images = images
            .iter()
            .filter(|i| i.guid("sdkmessageprocessingstepid") == Some(id))
            .map(|i| ImageDef {
                imagetype: i.int("imagetype").unwrap_or(0),
                entityalias: i
                    .string("entityalias")
                    .or(i.string("name"))
                    .unwrap_or("Image")
                    .to_string(),
                attributes: comma_list(i.string("attributes")),
            })
            .collect();
        out.push(StepDef {
            id,
            name: r.string("name").unwrap_or("").to_string(),
            message: message.to_string(),
            table: r.guid("sdkmessagefilterid").map(|_| table.to_string()),
            stage: r.int("stage").unwrap_or(40),
            mode: r.int("mode").unwrap_or(0),
            rank: r.int("rank").unwrap_or(1),
            filtering_attributes: comma_list(r.string("filteringattributes")),
            endpoint_id,
            impersonating_user: r.guid("impersonatinguserid"),
            async_auto_delete: r
                .get("asyncautodelete")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            enabled: true,
            images: step_images,
        });
    }
    Ok(out)
}

/// Read webhook rows (with their write-only authvalue) by id, in one query.
pub async fn endpoint_rows(
    tx: &mut Tx,
    ids: impl Iterator<Item = Uuid>,
) -> ApiResult<Vec<(Uuid, herald_store::Record)>> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let schema = tx.schema().clone();
    let table = schema
        .table("serviceendpoint")
        .ok_or_else(|| ApiError::internal("no serviceendpoint table"))?;
    let mut q = Query::all("serviceendpoint");
    q.select = table.columns.iter().map(|c| c.name.clone()).collect();
    q.filter = Some(Condition::In {
        column: ColumnRef::new("serviceendpointid"),
        values: ids.iter().map(|id| Value::Guid(*id)).collect(),
        negated: false,
    });
    Ok(tx
        .fetch(&q, None, 0)
        .await?
        .into_iter()
        .filter_map(|r| r.guid("serviceendpointid").map(|id| (id, r)))
        .collect())
}

/// Read a webhook (with its write-only authvalue).
pub async fn endpoint(
    tx: &mut Tx,
    id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Endpoint> {
    let schema = tx.schema().clone();
    let table = schema
        .table("serviceendpoint")
        .ok_or_else(|| ApiError::internal("no serviceendpoint table"))?;
    let row = tx.get(table, id).await?.ok_or_else(|| {
        ApiError::invalid(format!(
            "The webhook {id} of a registered step does not exist"
        ))
    })?;
    Ok(endpoint_from_row(id, &row, now))
}

/// A webhook from its row; `now` decides whether a rotated-out signing
/// secret is still within its grace period.
pub fn endpoint_from_row(
    id: Uuid,
    row: &herald_store::Record,
    now: chrono::DateTime<chrono::Utc>,
) -> Endpoint {
    let mut signing = Vec::new();
    if let Some(s) = row
        .string("herald_signingsecret")
        .and_then(|s| herald_delivery::SigningSecret::parse(s).ok())
    {
        signing.push(s);
    }
    let previous_valid = match row.get("herald_previoussecretexpireson") {
        Some(Value::DateTime(t)) => *t > now,
        _ => false,
    };
    if previous_valid {
        if let Some(s) = row
            .string("herald_previoussigningsecret")
            .and_then(|s| herald_delivery::SigningSecret::parse(s).ok())
        {
            signing.push(s);
        }
    }
    Endpoint {
        signing,
        id,
        name: row.string("name").unwrap_or("").to_string(),
        url: row.string("url").unwrap_or("").to_string(),
        auth: webhook_auth(row.int("authtype").unwrap_or(0), row.string("authvalue")),
    }
}
