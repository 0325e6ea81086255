//! The audit trail: who created, changed or deleted a webhook, a step, a
//! step image, a role, a role's privileges, a user's roles, a user or an
//! API key, and when. One `audit` row per change, written inside the
//! transaction of the change itself — by the one write path
//! (`pipeline::write`, and the rows its deletes cascade to) and by the key
//! handlers — so a change that commits is audited and an audit row never
//! describes a change that rolled back. Rows are read as the `audits`
//! entity set (a system table: nobody writes it through the API; reading
//! it needs `prvReadAuditSummary`, which only System Administrator holds)
//! and on the console's Audit page; [`retention`] purges old ones. What a
//! row says is built in `herald_core::audit`.

pub mod retention;

use chrono::{DateTime, Utc};
use herald_core::audit::{changes, relationship_change, AuditAction};
use herald_core::fixed_ids::fixed_id;
use herald_core::security::MANY_TO_MANY;
use herald_core::{Schema, Table, Value};
use herald_store::keys::ApiKey;
use herald_store::{Record, StoreError, Tx};
use serde_json::json;
use uuid::Uuid;

/// The tables whose every change is audited.
pub const AUDITED: [&str; 7] = [
    "serviceendpoint",
    "sdkmessageprocessingstep",
    "sdkmessageprocessingstepimage",
    "role",
    "roleprivileges",
    "systemuserroles",
    "systemuser",
];

/// What an API key is audited as (`objecttypecode`): keys are not a table.
pub const API_KEY: &str = "apikey";

/// Whether changes of `table` are audited.
pub fn audited(table: &str) -> bool {
    AUDITED.contains(&table)
}

/// Who makes the changes of one transaction, and when.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user: Uuid,
    pub at: DateTime<Utc>,
    /// One id per transaction (`transactionid`), shared by its audit rows.
    pub transaction: Uuid,
}

impl Actor {
    pub fn new(user: Uuid, at: DateTime<Utc>) -> Actor {
        Actor {
            user,
            at,
            transaction: Uuid::new_v4(),
        }
    }
}

/// One audit row to write.
struct Entry<'a> {
    action: AuditAction,
    object: Uuid,
    object_type: &'a str,
    attribute_mask: String,
    change_data: serde_json::Value,
}

async fn write(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<(), StoreError> {
    let Some(audit) = schema.table("audit") else {
        return Err(StoreError::Invalid("the schema has no audit table".into()));
    };
    let mask = if entry.attribute_mask.is_empty() {
        Value::Null
    } else {
        Value::String(entry.attribute_mask)
    };
    let row = vec![
        ("auditid".to_string(), Value::Guid(Uuid::new_v4())),
        ("createdon".to_string(), Value::DateTime(actor.at)),
        (
            "operation".to_string(),
            Value::Int(entry.action.operation().code()),
        ),
        ("action".to_string(), Value::Int(entry.action.code())),
        ("objectid".to_string(), Value::Guid(entry.object)),
        (
            "objecttypecode".to_string(),
            Value::String(entry.object_type.to_string()),
        ),
        ("userid".to_string(), Value::Guid(actor.user)),
        ("callinguserid".to_string(), Value::Guid(actor.user)),
        ("attributemask".to_string(), mask),
        (
            "changedata".to_string(),
            Value::String(entry.change_data.to_string()),
        ),
        ("transactionid".to_string(), Value::Guid(actor.transaction)),
    ];
    tx.insert(audit, &row).await
}

/// Audit one write of `table` (when it is audited): `before` is the row
/// before it (none for a Create), `after` the row after it (none for a
/// Delete). A row of an intersect table (`systemuserroles`,
/// `roleprivileges`) is audited as Dataverse audits it: an Associate or
/// Disassociate on the record of its first side (the user, the role),
/// naming the record at the other end.
pub async fn record_write(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    table: &Table,
    id: Uuid,
    before: Option<&Record>,
    after: Option<&[(String, Value)]>,
) -> Result<(), StoreError> {
    if !audited(&table.logical_name) {
        return Ok(());
    }
    if let Some(m) = MANY_TO_MANY
        .iter()
        .find(|m| m.intersect == table.logical_name)
    {
        let guid = |c: &str| {
            after
                .and_then(|a| {
                    a.iter()
                        .find(|(n, _)| n == c)
                        .and_then(|(_, v)| v.as_guid())
                })
                .or_else(|| before.and_then(|b| b.guid(c)))
        };
        let (Some(first), Some(second)) = (guid(m.first.1), guid(m.second.1)) else {
            return Ok(());
        };
        let action = if after.is_some() {
            AuditAction::Associate
        } else {
            AuditAction::Disassociate
        };
        return write(
            tx,
            schema,
            actor,
            Entry {
                action,
                object: first,
                object_type: m.first.0,
                attribute_mask: String::new(),
                change_data: relationship_change(m.name, m.second.0, second),
            },
        )
        .await;
    }
    let action = match (before, after) {
        (None, _) => AuditAction::Create,
        (Some(_), Some(_)) => AuditAction::Update,
        (Some(_), None) => AuditAction::Delete,
    };
    let c = changes(table, before.map(|b| b.values.as_slice()), after);
    write(
        tx,
        schema,
        actor,
        Entry {
            action,
            object: id,
            object_type: &table.logical_name,
            attribute_mask: c.attribute_mask,
            change_data: c.change_data,
        },
    )
    .await
}

/// The `objectid` an API key is audited under: derived from its hash, so
/// its creation and its removal share it.
pub fn key_object_id(key: &ApiKey) -> Uuid {
    fixed_id(API_KEY, &key.keyhash)
}

/// Audit the creation (`created`) or removal of an API key: its id (the
/// start of its hash, as listed), name and user — never the key or its hash.
pub async fn record_key(
    tx: &mut Tx,
    schema: &Schema,
    actor: &Actor,
    key: &ApiKey,
    created: bool,
) -> Result<(), StoreError> {
    let values = [
        ("id", json!(key.id())),
        ("name", json!(key.name)),
        ("systemuserid", json!(key.user.to_string())),
    ];
    let listed: Vec<serde_json::Value> = values
        .into_iter()
        .map(|(name, v)| {
            let (old, new) = if created {
                (serde_json::Value::Null, v)
            } else {
                (v, serde_json::Value::Null)
            };
            json!({"logicalName": name, "oldValue": old, "newValue": new})
        })
        .collect();
    write(
        tx,
        schema,
        actor,
        Entry {
            action: if created {
                AuditAction::Create
            } else {
                AuditAction::Delete
            },
            object: key_object_id(key),
            object_type: API_KEY,
            attribute_mask: String::new(),
            change_data: json!({ "changedAttributes": listed }),
        },
    )
    .await
}
