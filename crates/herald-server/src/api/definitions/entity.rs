//! `EntityMetadata`: one table as Dataverse describes it, built from the
//! schema's [`Table`] alone (a pure function, so `$metadata` and the
//! table-creating API can reuse it), and what tells a custom table from a
//! built-in one.

use herald_core::fixed_ids::fixed_id;
use herald_core::Table;
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use super::label::{empty_label, humanize, label, managed, plural, words_of_schema_name};
use super::query::{Kind, Shape};

/// The stable `MetadataId` of a table: the same on every node and after
/// every restart (UUID v5 of the logical name).
pub fn metadata_id(table: &Table) -> Uuid {
    fixed_id("entitymetadata", &table.logical_name)
}

/// Whether the table is a user's (declared in `[[tables]]` or created at
/// run time) rather than one herald ships.
pub fn is_custom(table: &Table) -> bool {
    table.is_custom()
}

/// Dataverse's PascalCase schema names of the Dataverse tables herald
/// ships; every other table's schema name is its logical name (which keeps
/// Dataverse's rule: logical name = lower-cased schema name).
const DATAVERSE_SCHEMA_NAMES: [&str; 15] = [
    "Organization",
    "BusinessUnit",
    "SystemUser",
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "Incident",
    "ServiceEndpoint",
    "SdkMessage",
    "SdkMessageFilter",
    "PluginType",
    "SdkMessageProcessingStep",
    "SdkMessageProcessingStepImage",
    "AsyncOperation",
];

fn dataverse_schema_name(logical_name: &str) -> Option<&'static str> {
    DATAVERSE_SCHEMA_NAMES
        .iter()
        .find(|s| s.to_ascii_lowercase() == logical_name)
        .copied()
}

pub fn schema_name(table: &Table) -> String {
    if let Some(given) = &table.details.schema_name {
        return given.clone();
    }
    dataverse_schema_name(&table.logical_name)
        .map(str::to_string)
        .unwrap_or_else(|| table.logical_name.clone())
}

/// The table's display name: the one it was created with, Dataverse's for
/// its own tables, else the logical name without its prefix, in words
/// (`new_project` → `Project`).
pub fn display_name(table: &Table) -> String {
    if let Some(given) = &table.details.display_name {
        return given.clone();
    }
    match dataverse_schema_name(&table.logical_name) {
        Some(schema) => words_of_schema_name(schema),
        None => humanize(&table.logical_name, true),
    }
}

/// `UserOwned` for tables with an owner (they take Assign), else
/// `OrganizationOwned`.
pub fn ownership_type(table: &Table) -> &'static str {
    if table.column("ownerid").is_some() {
        "UserOwned"
    } else {
        "OrganizationOwned"
    }
}

/// The properties of `EntityMetadata` herald serves, in response order.
pub fn shape() -> Shape {
    use Kind::*;
    Shape {
        type_name: "EntityMetadata",
        properties: vec![
            ("MetadataId", Guid),
            ("HasChanged", Bool),
            ("LogicalName", Text),
            ("SchemaName", Text),
            ("EntitySetName", Text),
            ("LogicalCollectionName", Text),
            ("CollectionSchemaName", Text),
            ("PrimaryIdAttribute", Text),
            ("PrimaryNameAttribute", Text),
            ("PrimaryImageAttribute", Text),
            ("ObjectTypeCode", Int),
            ("DisplayName", Complex),
            ("DisplayCollectionName", Complex),
            ("Description", Complex),
            ("IsCustomEntity", Bool),
            ("IsManaged", Bool),
            ("IsActivity", Bool),
            ("IsActivityParty", Bool),
            ("IsIntersect", Bool),
            ("IsPrivate", Bool),
            ("IsLogicalEntity", Bool),
            ("IsValidForAdvancedFind", Bool),
            ("IsStateModelAware", Bool),
            ("IsCustomizable", Complex),
            ("IsRenameable", Complex),
            ("CanCreateAttributes", Complex),
            ("OwnershipType", Enum),
            ("TableType", Text),
            ("HasActivities", Bool),
            ("HasNotes", Bool),
            ("ChangeTrackingEnabled", Bool),
            ("IntroducedVersion", Text),
            ("ExternalName", Text),
            ("ExternalCollectionName", Text),
            ("EntityColor", Text),
            ("IconVectorName", Text),
        ],
        navigations: &[
            "Attributes",
            "OneToManyRelationships",
            "ManyToOneRelationships",
            "ManyToManyRelationships",
            "Keys",
        ],
    }
}

/// The `EntityMetadata` of a table (without its navigation properties).
pub fn entity_json(table: &Table) -> Map<String, Json> {
    let id = metadata_id(table);
    let custom = is_custom(table);
    let display = display_name(table);
    let display_plural = match &table.details.display_collection_name {
        Some(given) => given.clone(),
        None => plural(&display, &table.logical_name, &table.entity_set),
    };
    let schema = schema_name(table);
    let collection_schema = plural(&schema, &table.logical_name, &table.entity_set);
    let body = json!({
        "MetadataId": id,
        "HasChanged": null,
        "LogicalName": table.logical_name,
        "SchemaName": schema,
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": table.entity_set,
        "CollectionSchemaName": collection_schema,
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "PrimaryImageAttribute": null,
        "ObjectTypeCode": table.object_type_code,
        "DisplayName": label(&display, id, "DisplayName"),
        "DisplayCollectionName": label(&display_plural, id, "DisplayCollectionName"),
        "Description": match &table.details.description {
            Some(text) => label(text, id, "Description"),
            None => empty_label(),
        },
        "IsCustomEntity": custom,
        "IsManaged": false,
        "IsActivity": false,
        "IsActivityParty": false,
        "IsIntersect": table.kind == herald_core::schema::TableKind::Intersect,
        "IsPrivate": false,
        "IsLogicalEntity": false,
        "IsValidForAdvancedFind": true,
        "IsStateModelAware": table.column("statecode").is_some(),
        "IsCustomizable": managed(custom, false, "iscustomizable"),
        "IsRenameable": managed(custom, false, "isrenameable"),
        "CanCreateAttributes": managed(true, false, "cancreateattributes"),
        "OwnershipType": ownership_type(table),
        "TableType": "Standard",
        "HasActivities": false,
        "HasNotes": false,
        "ChangeTrackingEnabled": false,
        "IntroducedVersion": "1.0",
        "ExternalName": null,
        "ExternalCollectionName": null,
        "EntityColor": null,
        "IconVectorName": null,
    });
    match body {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::schema::UserTableConfig;
    use herald_core::Schema;

    fn schema_with_user_table() -> Schema {
        let cfg: UserTableConfig = toml::from_str(
            "logical_name = \"new_project\"\nprimary_name = \"new_name\"\n[columns]\nnew_name = \"string(200)\"\n",
        )
        .expect("config");
        Schema::build(&[cfg]).expect("schema")
    }

    #[test]
    fn describes_builtin_and_user_tables() {
        let schema = schema_with_user_table();
        let account = entity_json(schema.table("account").expect("account"));
        assert_eq!(account["LogicalName"], "account");
        assert_eq!(account["SchemaName"], "Account");
        assert_eq!(account["EntitySetName"], "accounts");
        assert_eq!(account["PrimaryIdAttribute"], "accountid");
        assert_eq!(account["PrimaryNameAttribute"], "name");
        assert_eq!(account["ObjectTypeCode"], 1);
        assert_eq!(account["IsCustomEntity"], false);
        assert_eq!(account["OwnershipType"], "UserOwned");
        assert_eq!(account["IsActivity"], false);
        assert!(account["HasChanged"].is_null());
        assert_eq!(
            account["DisplayCollectionName"]["UserLocalizedLabel"]["Label"],
            "Accounts"
        );
        assert_eq!(
            account["MetadataId"],
            json!(fixed_id("entitymetadata", "account"))
        );

        let step = entity_json(schema.table("sdkmessageprocessingstep").expect("step"));
        assert_eq!(step["SchemaName"], "SdkMessageProcessingStep");
        assert_eq!(step["OwnershipType"], "OrganizationOwned");
        assert_eq!(
            step["DisplayName"]["UserLocalizedLabel"]["Label"],
            "Sdk Message Processing Step"
        );

        let project = entity_json(schema.table("new_project").expect("user table"));
        assert_eq!(project["IsCustomEntity"], true);
        assert_eq!(project["SchemaName"], "new_project");
        assert_eq!(
            project["DisplayName"]["UserLocalizedLabel"]["Label"],
            "Project"
        );
        assert!(project["ObjectTypeCode"]
            .as_i64()
            .is_some_and(|c| c >= 10_000));
    }

    #[test]
    fn the_shape_lists_exactly_the_properties_served() {
        let schema = schema_with_user_table();
        let names: Vec<&str> = shape().properties.iter().map(|(n, _)| *n).collect();
        for t in schema.tables() {
            let json = entity_json(t);
            assert_eq!(json.keys().map(String::as_str).collect::<Vec<_>>(), names);
        }
    }
}
