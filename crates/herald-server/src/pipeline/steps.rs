//! Loading the registered steps (with their images) inside the write's
//! transaction, so a step registered a moment ago is seen by the next write.

use herald_core::matching::{comma_list, ImageDef, StepDef};
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::{Query, Value};
use herald_store::Tx;

use super::error::PipelineResult;
use herald_core::fixed_ids::{message_filter_id, message_id};

/// Enabled steps registered for `message` on `table` (or on any table).
pub async fn load(tx: &mut Tx, message: &str, table: &str) -> PipelineResult<Vec<StepDef>> {
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
