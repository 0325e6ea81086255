//! A webhook as a call needs it: its `serviceendpoint` row (with the
//! write-only `authvalue` and signing secrets, which only the server reads)
//! turned into a typed [`Endpoint`], and the loaders: one by id inside a
//! write's transaction, or many by id in one query (a step set, a claim
//! batch of System Jobs).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_core::authvalue::{webhook_auth, WebhookAuth};
use herald_core::query::{ColumnRef, Condition};
use herald_core::{Query, Schema, Value};
use herald_delivery::SigningSecret;
use herald_store::{Record, Store, StoreError, Tx};
use uuid::Uuid;

const TABLE: &str = "serviceendpoint";

/// A webhook as the sender needs it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    /// The endpoint's authentication, or why its settings are unusable
    /// (every call to it then fails with that reason).
    pub auth: Result<WebhookAuth, String>,
    /// Standard Webhooks secrets to sign with (current, then the previous
    /// one while its grace period lasts).
    pub signing: Vec<SigningSecret>,
}

impl Endpoint {
    /// A webhook from its row; `now` decides whether a rotated-out signing
    /// secret is still within its grace period.
    pub fn from_row(id: Uuid, row: &Record, now: DateTime<Utc>) -> Endpoint {
        let secret = |column: &str| {
            row.string(column)
                .and_then(|s| SigningSecret::parse(s).ok())
        };
        let previous_valid = match row.get("herald_previoussecretexpireson") {
            Some(Value::DateTime(t)) => *t > now,
            _ => false,
        };
        let mut signing: Vec<SigningSecret> = secret("herald_signingsecret").into_iter().collect();
        if previous_valid {
            signing.extend(secret("herald_previoussigningsecret"));
        }
        Endpoint {
            signing,
            id,
            name: row.string("name").unwrap_or("").to_string(),
            url: row.string("url").unwrap_or("").to_string(),
            auth: webhook_auth(row.int("authtype").unwrap_or(0), row.string("authvalue")),
        }
    }
}

/// The webhook a System Job calls, as looked up for its claim batch: the
/// endpoint, or why there is none.
pub type EndpointLookup = Result<Arc<Endpoint>, String>;

/// Every column (the write-only ones too) of the webhooks with these ids.
fn by_id_query(schema: &Schema, ids: &[Uuid]) -> Query {
    let mut query = Query::all(TABLE);
    if let Some(table) = schema.table(TABLE) {
        query.select = table.columns.iter().map(|c| c.name.clone()).collect();
    }
    query.filter = Some(Condition::In {
        column: ColumnRef::new("serviceendpointid"),
        values: ids.iter().map(|id| Value::Guid(*id)).collect(),
        negated: false,
    });
    query
}

fn sorted_unique(ids: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Webhook rows by id, in one query inside `tx` (so a webhook registered
/// a moment ago in the same transaction is seen).
pub async fn rows_by_id(
    tx: &mut Tx,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<(Uuid, Record)>, StoreError> {
    let ids = sorted_unique(ids);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query = by_id_query(&tx.schema().clone(), &ids);
    Ok(tx
        .fetch(&query, None, 0)
        .await?
        .into_iter()
        .filter_map(|r| r.guid("serviceendpointid").map(|id| (id, r)))
        .collect())
}

/// One webhook inside `tx`; `None` when no such row exists.
pub async fn load(
    tx: &mut Tx,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Endpoint>, StoreError> {
    Ok(rows_by_id(tx, [id])
        .await?
        .into_iter()
        .next()
        .map(|(id, row)| Endpoint::from_row(id, &row, now)))
}

/// The webhooks of a claim batch, read in one query: each endpoint id
/// mapped to its endpoint, or to why the job cannot be delivered.
pub async fn lookup(
    store: &Store,
    schema: &Schema,
    ids: impl IntoIterator<Item = Uuid>,
    now: DateTime<Utc>,
) -> HashMap<Uuid, EndpointLookup> {
    let ids = sorted_unique(ids);
    let rows = store.fetch(&by_id_query(schema, &ids), None, 0).await;
    ids.into_iter()
        .map(|id| {
            let found = match &rows {
                Ok(rows) => rows
                    .iter()
                    .find(|r| r.guid("serviceendpointid") == Some(id))
                    .map(|r| Arc::new(Endpoint::from_row(id, r, now)))
                    .ok_or_else(|| format!("The webhook {id} of this job's step no longer exists")),
                Err(e) => Err(e.to_string()),
            };
            (id, found)
        })
        .collect()
}
