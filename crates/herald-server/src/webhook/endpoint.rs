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
        let previous_valid = previous_secret_until(row, now).is_some();
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

/// When the row's rotated-out signing secret stops signing, if it still
/// does at `now` (its grace period, `herald_previoussecretexpireson`).
fn previous_secret_until(row: &Record, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match row.get("herald_previoussecretexpireson") {
        Some(Value::DateTime(t)) if *t > now => Some(*t),
        _ => None,
    }
}

/// The endpoints built from the rows handed over with this node's own
/// jobs (`jobs::handoff`), kept while the row is the same: a job handed
/// over carries its webhook's row from the registration cache, and
/// building the [`Endpoint`] (its `authvalue` XML parsed, its secrets
/// decoded) for every job cost ~1.5 % of a write with one async step.
#[derive(Default)]
pub struct EndpointMemo {
    /// id → (the row it was built from, the endpoint, when to build it
    /// again: the previous signing secret's grace period ends).
    built: HashMap<Uuid, (Arc<Record>, Arc<Endpoint>, Option<DateTime<Utc>>)>,
}

/// Endpoints kept at most; past it the memo starts afresh.
const MEMO_ENDPOINTS: usize = 10_000;

impl EndpointMemo {
    /// The endpoint of `row` as of `now`, built once per row (the same
    /// `Arc`: the registration cache makes a new one when it changes).
    pub fn endpoint(&mut self, id: Uuid, row: &Arc<Record>, now: DateTime<Utc>) -> Arc<Endpoint> {
        if let Some((kept, endpoint, until)) = self.built.get(&id) {
            if Arc::ptr_eq(kept, row) && until.is_none_or(|t| now < t) {
                return endpoint.clone();
            }
        }
        let endpoint = Arc::new(Endpoint::from_row(id, row, now));
        let until = previous_secret_until(row, now);
        if self.built.len() >= MEMO_ENDPOINTS {
            self.built.clear();
        }
        self.built
            .insert(id, (row.clone(), endpoint.clone(), until));
        endpoint
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(url: &str, previous_until: Option<DateTime<Utc>>) -> Arc<Record> {
        let mut r = Record::default();
        r.set("url", Value::String(url.into()));
        r.set("authtype", Value::Int(4));
        r.set("authvalue", Value::String("key".into()));
        let current = SigningSecret::generate().to_string();
        let previous = SigningSecret::generate().to_string();
        r.set("herald_signingsecret", Value::String(current));
        if let Some(t) = previous_until {
            r.set("herald_previoussigningsecret", Value::String(previous));
            r.set("herald_previoussecretexpireson", Value::DateTime(t));
        }
        Arc::new(r)
    }

    #[test]
    fn an_endpoint_is_built_once_per_row() {
        let (id, now) = (Uuid::new_v4(), Utc::now());
        let mut memo = EndpointMemo::default();
        let first = row("http://127.0.0.1:1/a", None);
        let a = memo.endpoint(id, &first, now);
        let b = memo.endpoint(id, &first, now + Duration::hours(1));
        assert!(Arc::ptr_eq(&a, &b), "the same row: the same endpoint");
        // The registration cache made a new row: built again from it.
        let changed = row("http://127.0.0.1:1/b", None);
        let c = memo.endpoint(id, &changed, now);
        assert_eq!(c.url, "http://127.0.0.1:1/b");
    }

    #[test]
    fn the_previous_secret_stops_signing_when_its_grace_period_ends() {
        let (id, now) = (Uuid::new_v4(), Utc::now());
        let mut memo = EndpointMemo::default();
        let r = row("http://127.0.0.1:1/", Some(now + Duration::seconds(10)));
        assert_eq!(memo.endpoint(id, &r, now).signing.len(), 2);
        assert_eq!(
            memo.endpoint(id, &r, now + Duration::seconds(9))
                .signing
                .len(),
            2
        );
        assert_eq!(
            memo.endpoint(id, &r, now + Duration::seconds(11))
                .signing
                .len(),
            1
        );
    }
}
