//! `EntityKeyMetadata`: a table's alternate keys as Dataverse describes
//! them (pure functions of the schema's [`Table`]).

use herald_core::fixed_ids::fixed_id;
use herald_core::schema::AlternateKey;
use herald_core::Table;
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use super::label::{empty_label, label};

/// The stable `MetadataId` of a key (UUID v5 of `table.key`).
pub fn metadata_id(table: &Table, key: &AlternateKey) -> Uuid {
    fixed_id(
        "entitykeymetadata",
        &format!("{}.{}", table.logical_name, key.logical_name),
    )
}

/// The `EntityKeyMetadata` of a key; its index is built with the key, so
/// it is always `Active`.
pub fn key_json(table: &Table, key: &AlternateKey) -> Map<String, Json> {
    let id = metadata_id(table, key);
    let display = match &key.display_name {
        Some(text) => label(text, id, "DisplayName"),
        None => empty_label(),
    };
    let body = json!({
        "MetadataId": id,
        "HasChanged": null,
        "LogicalName": key.logical_name,
        "SchemaName": key.schema_name,
        "EntityLogicalName": table.logical_name,
        "KeyAttributes": key.columns,
        "DisplayName": display,
        "EntityKeyIndexStatus": "Active",
        "IsManaged": false,
    });
    match body {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}
