//! The bulk messages bound to an entity set — `POST <set>/Microsoft.
//! Dynamics.CRM.CreateMultiple`, `UpdateMultiple`, `UpsertMultiple` with
//! `{"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.<table>", …}, …]}`
//! — as ONE [`WriteSession`]: every record is a Create/Update through the
//! pipeline (its steps fire per record), the steps registered on the bulk
//! message itself fire once with `Targets`, and all of it commits together
//! or not at all. Inside a `$batch` change set the change set's session is
//! used instead.

use axum::http::StatusCode;
use axum::response::Response;
use herald_core::Table;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use super::write::{correlation, no_content};
use super::writer::Writer;
use super::{odata_json, table_for, Request};
use crate::api::error::{ApiError, ApiResult};
use crate::api::path::NAMESPACE;
use crate::api::payload::{json_object, values_from_body};
use crate::pipeline::{BulkMessage, BulkPhase, Message, Operation, WriteSession};
use crate::state::AppState;

/// Which bulk message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bulk {
    Create,
    Update,
    Upsert,
}

impl Bulk {
    fn of(action: &str) -> Option<Bulk> {
        match action {
            "CreateMultiple" => Some(Bulk::Create),
            "UpdateMultiple" => Some(Bulk::Update),
            "UpsertMultiple" => Some(Bulk::Upsert),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Bulk::Create => "CreateMultiple",
            Bulk::Update => "UpdateMultiple",
            Bulk::Upsert => "UpsertMultiple",
        }
    }
}

pub(super) async fn run(
    state: &AppState,
    req: &Request,
    set: &str,
    action: &str,
    body: &[u8],
    writer: &mut Writer<'_, '_>,
) -> ApiResult<Response> {
    let table = table_for(req, set)?;
    let bulk = Bulk::of(action).ok_or_else(|| {
        ApiError::bad_request(format!(
            "'{NAMESPACE}{action}' is not an action bound to '{set}': use CreateMultiple, UpdateMultiple or UpsertMultiple"
        ))
    })?;
    let message = bulk_message(state, req, table, bulk, body)?;
    let created = match writer {
        Writer::Session(session) => write_all(session, table, bulk, &message).await?,
        Writer::Alone => {
            let mut session = WriteSession::begin(state).await?;
            let created = write_all(&mut session, table, bulk, &message).await?;
            session.commit().await?;
            created
        }
    };
    let ids: Vec<String> = message
        .targets
        .iter()
        .map(|(id, _)| id.to_string())
        .collect();
    let context = |name: &str| format!("{}$metadata#{NAMESPACE}{name}Response", req.base);
    Ok(match bulk {
        Bulk::Update => no_content(),
        Bulk::Create => odata_json(
            StatusCode::OK,
            json!({"@odata.context": context("CreateMultiple"), "Ids": ids}),
        ),
        Bulk::Upsert => {
            let results: Vec<Json> = message
                .targets
                .iter()
                .zip(created)
                .map(|((id, _), created)| {
                    json!({
                        "RecordCreated": created,
                        "Target": {
                            "@odata.type": format!("{NAMESPACE}{}", table.logical_name),
                            table.primary_id.clone(): id,
                        },
                    })
                })
                .collect();
            odata_json(
                StatusCode::OK,
                json!({"@odata.context": context("UpsertMultiple"), "Results": results}),
            )
        }
    })
}

/// The records of the body, each with its id (new for a Create without one).
fn bulk_message(
    state: &AppState,
    req: &Request,
    table: &Table,
    bulk: Bulk,
    body: &[u8],
) -> ApiResult<BulkMessage> {
    let object = json_object(body)?;
    let targets = object
        .get("Targets")
        .and_then(Json::as_array)
        .ok_or_else(|| ApiError::payload("The body must be {\"Targets\": [<record>, …]}"))?;
    let expected = format!("{NAMESPACE}{}", table.logical_name);
    let mut out = Vec::with_capacity(targets.len());
    for (n, target) in targets.iter().enumerate() {
        let record = target
            .as_object()
            .ok_or_else(|| ApiError::payload(format!("Targets[{n}] is not an object")))?;
        if let Some(kind) = record.get("@odata.type").and_then(Json::as_str) {
            if kind.trim_start_matches('#') != expected {
                return Err(ApiError::payload(format!(
                    "Targets[{n}] has @odata.type '{kind}', but this set holds '{expected}'"
                )));
            }
        }
        let values = values_from_body(&state.schema(), table, record)?;
        let id = values
            .iter()
            .find(|(c, _)| c == &table.primary_id)
            .and_then(|(_, v)| v.as_guid());
        let id = match (bulk, id) {
            (_, Some(id)) => id,
            (Bulk::Create, None) => Uuid::new_v4(),
            (_, None) => {
                return Err(ApiError::payload(format!(
                    "Targets[{n}] needs its {} for {}",
                    table.primary_id,
                    bulk.name()
                )))
            }
        };
        out.push((id, values));
    }
    Ok(BulkMessage {
        message: bulk.name(),
        table: table.logical_name.clone(),
        targets: out,
        caller: req.caller.user_id,
        correlation: correlation(state, &req.headers).unwrap_or_else(|| (Uuid::new_v4(), 1)),
    })
}

/// The bulk message's own steps before, every record's write, its steps
/// after; whether each record was created.
async fn write_all(
    session: &mut WriteSession<'_>,
    table: &Table,
    bulk: Bulk,
    message: &BulkMessage,
) -> ApiResult<Vec<bool>> {
    session
        .run_message_steps(message, BulkPhase::Before)
        .await?;
    // Every record's row (or that it has none) in a few reads, not one
    // read per record.
    let ids: Vec<Uuid> = message.targets.iter().map(|(id, _)| *id).collect();
    session.prefetch(&table.logical_name, &ids).await?;
    let mut created = Vec::with_capacity(message.targets.len());
    for (id, values) in &message.targets {
        let op = Operation::new(
            if bulk == Bulk::Create {
                Message::Create
            } else {
                Message::Update
            },
            &table.logical_name,
            Some(*id),
            values.clone(),
            message.caller,
        )
        .with_correlation(Some(message.correlation));
        let op = if bulk == Bulk::Upsert {
            op.upsert()
        } else {
            op
        };
        let outcome = session.execute(op).await?;
        created.push(outcome.message == Message::Create);
    }
    session.forget_prefetched();
    session.run_message_steps(message, BulkPhase::After).await?;
    Ok(created)
}
