//! `AttributeMetadata` and its derived types (`StringAttributeMetadata`,
//! `LookupAttributeMetadata`, …): one column as Dataverse describes it,
//! built from the schema's [`Table`] and [`Column`] alone (pure functions).
//! The mapping from herald's column types to Dataverse's attribute types
//! is herald-core's [`AttributeKind`] (shared with `$metadata`).

use std::sync::OnceLock;

use herald_core::fixed_ids::fixed_id;
use herald_core::schema::{Access, AttributeKind, Column, ColumnType};
use herald_core::Table;
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use super::entity::is_custom;
use super::label::{empty_label, humanize, label, managed};
use super::query::{Kind, Shape};

pub use herald_core::schema::attribute_kind::NAMESPACE;

/// The properties the derived type of `kind` adds to `AttributeMetadata`.
fn derived_properties(kind: AttributeKind) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match kind {
        AttributeKind::String => &[
            ("MaxLength", Int),
            ("DatabaseLength", Int),
            ("Format", Enum),
            ("FormatName", Complex),
            ("ImeMode", Enum),
            ("YomiOf", Text),
            ("IsLocalizable", Bool),
            ("AutoNumberFormat", Text),
        ],
        AttributeKind::Memo => &[
            ("MaxLength", Int),
            ("DatabaseLength", Int),
            ("Format", Enum),
            ("FormatName", Complex),
            ("ImeMode", Enum),
            ("IsLocalizable", Bool),
        ],
        AttributeKind::Integer => &[("MinValue", Int), ("MaxValue", Int), ("Format", Enum)],
        AttributeKind::BigInt => &[("MinValue", Int), ("MaxValue", Int)],
        AttributeKind::Decimal => &[
            ("MinValue", Number),
            ("MaxValue", Number),
            ("Precision", Int),
            ("ImeMode", Enum),
        ],
        AttributeKind::Money => &[
            ("MinValue", Number),
            ("MaxValue", Number),
            ("Precision", Int),
            ("PrecisionSource", Int),
            ("ImeMode", Enum),
            ("IsBaseCurrency", Bool),
            ("CalculationOf", Text),
        ],
        AttributeKind::Boolean => &[("DefaultValue", Bool), ("FormulaDefinition", Text)],
        AttributeKind::DateTime => &[
            ("Format", Enum),
            ("DateTimeBehavior", Complex),
            ("ImeMode", Enum),
            ("MinSupportedValue", Text),
            ("MaxSupportedValue", Text),
            ("CanChangeDateTimeBehavior", Complex),
        ],
        AttributeKind::Lookup | AttributeKind::Owner => &[("Targets", Complex), ("Format", Enum)],
        AttributeKind::Picklist => &[
            ("DefaultFormValue", Int),
            ("ParentPicklistLogicalName", Text),
            ("ChildPicklistLogicalNames", Complex),
        ],
        AttributeKind::State | AttributeKind::Status => &[("DefaultFormValue", Int)],
        AttributeKind::Uniqueidentifier => &[],
    }
}

/// The properties of `AttributeMetadata` itself, in response order.
const BASE_PROPERTIES: &[(&str, Kind)] = {
    use Kind::*;
    &[
        ("MetadataId", Guid),
        ("HasChanged", Bool),
        ("AttributeOf", Text),
        ("AttributeType", Enum),
        ("AttributeTypeName", Complex),
        ("ColumnNumber", Int),
        ("EntityLogicalName", Text),
        ("LogicalName", Text),
        ("SchemaName", Text),
        ("ExternalName", Text),
        ("DisplayName", Complex),
        ("Description", Complex),
        ("IntroducedVersion", Text),
        ("DeprecatedVersion", Text),
        ("IsCustomAttribute", Bool),
        ("IsPrimaryId", Bool),
        ("IsPrimaryName", Bool),
        ("IsValidForCreate", Bool),
        ("IsValidForRead", Bool),
        ("IsValidForUpdate", Bool),
        ("IsValidForForm", Bool),
        ("IsValidForGrid", Bool),
        ("IsFilterable", Bool),
        ("IsSearchable", Bool),
        ("IsLogical", Bool),
        ("IsManaged", Bool),
        ("IsSecured", Bool),
        ("IsRequiredForForm", Bool),
        ("SourceType", Int),
        ("RequiredLevel", Complex),
        ("IsCustomizable", Complex),
        ("IsRenameable", Complex),
        ("IsValidForAdvancedFind", Complex),
        ("IsAuditEnabled", Complex),
    ]
};

/// The shape of `AttributeMetadata` (no cast) or of the derived types of
/// `kinds` (a cast): base properties, then the derived ones.
pub fn shape(kinds: Option<&[AttributeKind]>) -> Shape {
    let mut properties = BASE_PROPERTIES.to_vec();
    let Some(first) = kinds.and_then(|k| k.first()) else {
        return Shape {
            type_name: "AttributeMetadata",
            properties,
            navigations: &[],
        };
    };
    properties.extend_from_slice(derived_properties(*first));
    Shape {
        type_name: first.metadata_type(),
        properties,
        navigations: if first.has_options() {
            &["OptionSet", "GlobalOptionSet"]
        } else {
            &[]
        },
    }
}

/// The stable `MetadataId` of a column (UUID v5 of `table.column`).
pub fn metadata_id(table: &Table, column: &Column) -> Uuid {
    fixed_id(
        "attributemetadata",
        &format!("{}.{}", table.logical_name, column.name),
    )
}

/// Whether the column is one herald adds to every table (createdon, the
/// owner, the state pair…) rather than one the table declares.
fn is_system_column(table: &Table, column: &Column) -> bool {
    static SYSTEM: OnceLock<Vec<String>> = OnceLock::new();
    column.name == table.primary_id
        || SYSTEM
            .get_or_init(|| {
                // Only the column names are kept: they are the same on every table.
                let mut columns = Vec::new();
                herald_core::builtin::add_system_columns(&mut columns, "table", true);
                columns.into_iter().map(|c| c.name).collect()
            })
            .contains(&column.name)
}

/// `RequiredLevel`: the primary key and the owner/state columns are the
/// system's; a column the schema marks required is the application's.
fn required_level(table: &Table, column: &Column) -> Json {
    let level = if column.name == table.primary_id
        || matches!(column.name.as_str(), "ownerid" | "statecode" | "statuscode")
    {
        "SystemRequired"
    } else if column.required {
        "ApplicationRequired"
    } else {
        "None"
    };
    json!({
        "Value": level,
        "CanBeChanged": level != "SystemRequired",
        "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
    })
}

/// The full `…AttributeMetadata` of a column: base and derived properties,
/// with its `@odata.type` (option sets come through `$expand`).
pub fn attribute_json(table: &Table, column: &Column, position: usize) -> Map<String, Json> {
    let kind = AttributeKind::of(column);
    let id = metadata_id(table, column);
    let custom = column.custom || (is_custom(table) && !is_system_column(table, column));
    let primary_id = column.name == table.primary_id;
    let readable = column.access != Access::WriteOnly;
    let writable = column.access != Access::ReadOnly;
    let display = column
        .label
        .clone()
        .unwrap_or_else(|| humanize(&column.name, custom));
    let mut out = Map::new();
    out.insert(
        "@odata.type".into(),
        Json::String(format!("#{NAMESPACE}{}", kind.metadata_type())),
    );
    let base = json!({
        "MetadataId": id,
        "HasChanged": null,
        "AttributeOf": null,
        "AttributeType": kind.attribute_type(),
        "AttributeTypeName": {"Value": kind.type_name()},
        "ColumnNumber": position + 1,
        "EntityLogicalName": table.logical_name,
        "LogicalName": column.name,
        "SchemaName": column.schema_name.as_deref().unwrap_or(&column.name),
        "ExternalName": null,
        "DisplayName": label(&display, id, "DisplayName"),
        "Description": empty_label(),
        "IntroducedVersion": "1.0",
        "DeprecatedVersion": null,
        "IsCustomAttribute": custom,
        "IsPrimaryId": primary_id,
        "IsPrimaryName": table.primary_name.as_deref() == Some(column.name.as_str()),
        "IsValidForCreate": writable,
        "IsValidForRead": readable,
        "IsValidForUpdate": writable && !primary_id,
        "IsValidForForm": readable,
        "IsValidForGrid": readable,
        "IsFilterable": readable,
        "IsSearchable": readable,
        "IsLogical": false,
        "IsManaged": false,
        "IsSecured": false,
        "IsRequiredForForm": column.required,
        "SourceType": 0,
        "RequiredLevel": required_level(table, column),
        "IsCustomizable": managed(custom, false, "iscustomizable"),
        "IsRenameable": managed(custom, false, "isrenameable"),
        "IsValidForAdvancedFind": managed(readable, false, "canmodifysearchsettings"),
        "IsAuditEnabled": managed(false, false, "canmodifyauditsettings"),
    });
    if let Json::Object(map) = base {
        out.extend(map);
    }
    if let Json::Object(map) = derived_json(kind, column) {
        out.extend(map);
    }
    out
}

/// The derived type's own properties.
fn derived_json(kind: AttributeKind, column: &Column) -> Json {
    let max_length = match column.ty {
        ColumnType::String { max_length } | ColumnType::Memo { max_length } => max_length,
        _ => 0,
    };
    match kind {
        AttributeKind::String => json!({
            "MaxLength": max_length,
            "DatabaseLength": max_length * 2,
            "Format": "Text",
            "FormatName": {"Value": "Text"},
            "ImeMode": "Auto",
            "YomiOf": null,
            "IsLocalizable": false,
            "AutoNumberFormat": "",
        }),
        AttributeKind::Memo => json!({
            "MaxLength": max_length,
            "DatabaseLength": max_length * 2,
            "Format": "TextArea",
            "FormatName": {"Value": "TextArea"},
            "ImeMode": "Auto",
            "IsLocalizable": false,
        }),
        AttributeKind::Integer => json!({
            "MinValue": i32::MIN,
            "MaxValue": i32::MAX,
            "Format": "None",
        }),
        AttributeKind::BigInt => json!({"MinValue": i64::MIN, "MaxValue": i64::MAX}),
        AttributeKind::Decimal => json!({
            "MinValue": -100_000_000_000.0,
            "MaxValue": 100_000_000_000.0,
            "Precision": 2,
            "ImeMode": "Auto",
        }),
        AttributeKind::Money => json!({
            "MinValue": -922_337_203_685_477.0,
            "MaxValue": 922_337_203_685_477.0,
            "Precision": 2,
            "PrecisionSource": 2,
            "ImeMode": "Auto",
            "IsBaseCurrency": false,
            "CalculationOf": null,
        }),
        AttributeKind::Boolean => json!({"DefaultValue": false, "FormulaDefinition": null}),
        AttributeKind::DateTime => json!({
            "Format": "DateAndTime",
            "DateTimeBehavior": {"Value": "UserLocal"},
            "ImeMode": "Auto",
            "MinSupportedValue": "1753-01-01T00:00:00Z",
            "MaxSupportedValue": "9999-12-30T23:59:59Z",
            "CanChangeDateTimeBehavior": managed(false, false, "canchangedatetimebehavior"),
        }),
        AttributeKind::Lookup | AttributeKind::Owner => json!({
            "Targets": column.lookup_target().into_iter().collect::<Vec<_>>(),
            "Format": "None",
        }),
        AttributeKind::Picklist => json!({
            "DefaultFormValue": -1,
            "ParentPicklistLogicalName": null,
            "ChildPicklistLogicalNames": [],
        }),
        AttributeKind::State | AttributeKind::Status => json!({"DefaultFormValue": -1}),
        AttributeKind::Uniqueidentifier => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::Schema;

    fn attribute(schema: &Schema, table: &str, column: &str) -> Map<String, Json> {
        let t = schema.table(table).expect("table");
        let (i, c) = t
            .columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == column)
            .expect("column");
        attribute_json(t, c, i)
    }

    #[test]
    fn maps_every_column_type() {
        let schema = Schema::build(&[]).expect("schema");
        let cases = [
            ("account", "name", "String", "StringAttributeMetadata"),
            ("account", "description", "Memo", "MemoAttributeMetadata"),
            (
                "account",
                "numberofemployees",
                "Integer",
                "IntegerAttributeMetadata",
            ),
            (
                "account",
                "versionnumber",
                "BigInt",
                "BigIntAttributeMetadata",
            ),
            (
                "incident",
                "customersatisfactioncode",
                "Decimal",
                "DecimalAttributeMetadata",
            ),
            ("account", "revenue", "Money", "MoneyAttributeMetadata"),
            (
                "account",
                "creditonhold",
                "Boolean",
                "BooleanAttributeMetadata",
            ),
            (
                "account",
                "createdon",
                "DateTime",
                "DateTimeAttributeMetadata",
            ),
            (
                "account",
                "parentaccountid",
                "Lookup",
                "LookupAttributeMetadata",
            ),
            ("account", "ownerid", "Owner", "LookupAttributeMetadata"),
            (
                "account",
                "industrycode",
                "Picklist",
                "PicklistAttributeMetadata",
            ),
            ("account", "statecode", "State", "StateAttributeMetadata"),
            ("account", "statuscode", "Status", "StatusAttributeMetadata"),
            (
                "account",
                "accountid",
                "Uniqueidentifier",
                "UniqueIdentifierAttributeMetadata",
            ),
        ];
        for (table, column, ty, metadata) in cases {
            let a = attribute(&schema, table, column);
            assert_eq!(a["AttributeType"], ty, "{table}.{column}");
            assert_eq!(a["AttributeTypeName"]["Value"], format!("{ty}Type"));
            assert_eq!(
                a["@odata.type"],
                format!("#Microsoft.Dynamics.CRM.{metadata}")
            );
            let kinds = AttributeKind::from_cast(&format!("Microsoft.Dynamics.CRM.{metadata}"))
                .expect("cast");
            let names: Vec<&str> = shape(Some(&kinds))
                .properties
                .iter()
                .map(|(n, _)| *n)
                .collect();
            let keys: Vec<&str> = a
                .keys()
                .map(String::as_str)
                .filter(|k| !k.starts_with('@'))
                .collect();
            assert_eq!(keys, names, "{table}.{column}: shape and JSON agree");
        }
    }

    #[test]
    fn access_and_requirement_follow_the_schema() {
        let schema = Schema::build(&[]).expect("schema");
        let secret = attribute(&schema, "serviceendpoint", "authvalue");
        assert_eq!(secret["IsValidForRead"], false);
        assert_eq!(secret["IsValidForCreate"], true);
        let signing = attribute(&schema, "serviceendpoint", "herald_signingsecret");
        assert_eq!(signing["IsValidForRead"], false);
        let created = attribute(&schema, "account", "createdon");
        assert_eq!(created["IsValidForCreate"], false);
        assert_eq!(created["IsValidForUpdate"], false);
        assert_eq!(created["IsValidForRead"], true);
        let id = attribute(&schema, "account", "accountid");
        assert_eq!(id["IsPrimaryId"], true);
        assert_eq!(id["IsValidForUpdate"], false);
        assert_eq!(id["RequiredLevel"]["Value"], "SystemRequired");
        let name = attribute(&schema, "account", "name");
        assert_eq!(name["IsPrimaryName"], true);
        assert_eq!(name["MaxLength"], 160);
        assert_eq!(name["IsCustomAttribute"], false);
        let title = attribute(&schema, "incident", "title");
        assert_eq!(title["RequiredLevel"]["Value"], "ApplicationRequired");
        let parent = attribute(&schema, "contact", "parentcustomerid");
        assert_eq!(parent["Targets"], json!(["account"]));
        assert_eq!(
            parent["MetadataId"],
            json!(fixed_id("attributemetadata", "contact.parentcustomerid"))
        );
    }

    #[test]
    fn casts_are_read_in_any_case_and_unknown_ones_refused() {
        assert_eq!(
            AttributeKind::from_cast("Microsoft.Dynamics.CRM.UniqueidentifierAttributeMetadata"),
            Some(vec![AttributeKind::Uniqueidentifier])
        );
        assert_eq!(
            AttributeKind::from_cast("Microsoft.Dynamics.CRM.LookupAttributeMetadata"),
            Some(vec![AttributeKind::Lookup, AttributeKind::Owner])
        );
        assert_eq!(
            AttributeKind::from_cast("Microsoft.Dynamics.CRM.ImageAttributeMetadata"),
            None
        );
    }
}
