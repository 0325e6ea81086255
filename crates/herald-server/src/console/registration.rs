//! Reads of the registration tables the pages share: webhooks
//! (`serviceendpoint`) and steps (`sdkmessageprocessingstep`, with their
//! message and table names resolved). Registrations are few (hundreds at
//! most), so they are read whole.

use std::collections::HashMap;

use herald_core::query::Order;
use herald_core::{query::ColumnRef, Query, Value};
use uuid::Uuid;

use crate::api::error::ApiResult;
use crate::security::Reader;

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub authtype: Option<i64>,
    pub auth_set: bool,
    pub signing: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: Uuid,
    pub name: String,
    pub webhook: Option<Uuid>,
    pub message: String,
    pub table: String,
    pub stage: i64,
    pub mode: i64,
    pub rank: i64,
    pub filtering: Option<String>,
    pub enabled: bool,
}

fn query(table: &str, select: &[&str], order: &str) -> Query {
    let mut q = Query::all(table);
    q.select = select.iter().map(|s| s.to_string()).collect();
    q.order = vec![Order {
        column: ColumnRef::new(order),
        descending: false,
    }];
    q
}

fn string(r: &herald_store::Record, k: &str) -> String {
    r.string(k).unwrap_or_default().to_string()
}

pub async fn webhooks(reader: &Reader<'_>) -> ApiResult<Vec<Webhook>> {
    let q = query(
        "serviceendpoint",
        &[
            "name",
            "url",
            "authtype",
            "isauthvalueset",
            "herald_issigningsecretset",
            "description",
        ],
        "name",
    );
    Ok(reader
        .fetch(&q, None, 0)
        .await?
        .iter()
        .filter_map(|r| {
            Some(Webhook {
                id: r.guid("serviceendpointid")?,
                name: string(r, "name"),
                url: string(r, "url"),
                authtype: r.int("authtype"),
                auth_set: r
                    .get("isauthvalueset")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                signing: r
                    .get("herald_issigningsecretset")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                description: r.string("description").map(str::to_string),
            })
        })
        .collect())
}

/// Every step, ordered by message, table, stage and rank.
pub async fn steps(reader: &Reader<'_>) -> ApiResult<Vec<Step>> {
    let messages: HashMap<Uuid, String> = reader
        .fetch(&query("sdkmessage", &["name"], "name"), None, 0)
        .await?
        .iter()
        .filter_map(|r| Some((r.guid("sdkmessageid")?, string(r, "name"))))
        .collect();
    let filters: HashMap<Uuid, String> = reader
        .fetch(
            &query(
                "sdkmessagefilter",
                &["primaryobjecttypecode"],
                "primaryobjecttypecode",
            ),
            None,
            0,
        )
        .await?
        .iter()
        .filter_map(|r| {
            Some((
                r.guid("sdkmessagefilterid")?,
                string(r, "primaryobjecttypecode"),
            ))
        })
        .collect();
    let q = query(
        "sdkmessageprocessingstep",
        &[
            "name",
            "sdkmessageid",
            "sdkmessagefilterid",
            "eventhandler",
            "stage",
            "mode",
            "rank",
            "filteringattributes",
            "statecode",
        ],
        "name",
    );
    let mut steps: Vec<Step> = reader
        .fetch(&q, None, 0)
        .await?
        .iter()
        .filter_map(|r| {
            Some(Step {
                id: r.guid("sdkmessageprocessingstepid")?,
                name: string(r, "name"),
                webhook: r.guid("eventhandler"),
                message: r
                    .guid("sdkmessageid")
                    .and_then(|m| messages.get(&m).cloned())
                    .unwrap_or_default(),
                table: r
                    .guid("sdkmessagefilterid")
                    .and_then(|f| filters.get(&f).cloned())
                    .unwrap_or_default(),
                stage: r.int("stage").unwrap_or(0),
                mode: r.int("mode").unwrap_or(0),
                rank: r.int("rank").unwrap_or(0),
                filtering: r
                    .string("filteringattributes")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                enabled: r.int("statecode").unwrap_or(0) == 0,
            })
        })
        .collect();
    steps.sort_by(|a, b| {
        (&a.message, &a.table, a.stage, a.rank, &a.name)
            .cmp(&(&b.message, &b.table, b.stage, b.rank, &b.name))
    });
    Ok(steps)
}

pub fn authtype_label(t: Option<i64>) -> &'static str {
    match t {
        Some(4) => "WebhookKey",
        Some(5) => "HttpHeader",
        Some(6) => "HttpQueryString",
        _ => "—",
    }
}

pub fn stage_label(stage: i64) -> &'static str {
    match stage {
        10 => "Pre-validation",
        20 => "Pre-operation",
        40 => "Post-operation",
        _ => "?",
    }
}

pub fn mode_label(mode: i64) -> &'static str {
    if mode == 1 {
        "Asynchronous"
    } else {
        "Synchronous"
    }
}
