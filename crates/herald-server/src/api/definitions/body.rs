//! Reading the bodies of the metadata API's writes — `EntityMetadata`
//! (`POST EntityDefinitions`, `CreateEntities`), `…AttributeMetadata`
//! (`POST`/`PUT …/Attributes`), `OneToManyRelationshipMetadata` with its
//! `Lookup` or a `ManyToManyRelationshipMetadata` (`POST
//! RelationshipDefinitions`) and `EntityKeyMetadata`
//! (`POST …/Keys`) — into herald-core's definitions. Pure: no store, no
//! HTTP. The labels of a table `PUT` back changed are [`updated_labels`].
//! Properties herald does not model (`HasActivities`,
//! `HasNotes`, `CascadeConfiguration`, solution names…)
//! are accepted and ignored; the ones that would change what a client
//! gets (an activity table, a type herald has no column for) are refused.

use herald_core::schema::{
    check_custom_schema_name, entity_set_name, AlternateKey, ColumnDefinition, ColumnType,
    ManyToManyDefinition, NewTable, TableLabels, NAMESPACE,
};
use serde_json::{Map, Value as Json};

use super::error::{DefinitionError, DefinitionResult};
use super::label::LANGUAGE_CODE;

type Object = Map<String, Json>;

fn invalid(message: impl Into<String>) -> DefinitionError {
    DefinitionError::Invalid(message.into())
}

/// The body as a JSON object.
pub fn object(body: &[u8]) -> DefinitionResult<Object> {
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(o)) => Ok(o),
        Ok(_) => Err(invalid("The request body must be a JSON object")),
        Err(e) => Err(invalid(format!("The request body is not valid JSON: {e}"))),
    }
}

fn text<'a>(o: &'a Object, name: &str) -> Option<&'a str> {
    o.get(name).and_then(Json::as_str).filter(|s| !s.is_empty())
}

fn flag(o: &Object, name: &str) -> bool {
    o.get(name).and_then(Json::as_bool).unwrap_or(false)
}

/// The text of a `Label`: the 1033 `LocalizedLabel`, else the first one,
/// else `UserLocalizedLabel`.
pub fn label_text(o: &Object, name: &str) -> Option<String> {
    let label = o.get(name)?.as_object()?;
    let localized = label
        .get("LocalizedLabels")
        .and_then(Json::as_array)
        .map(|v| v.iter().filter_map(Json::as_object).collect::<Vec<_>>())
        .unwrap_or_default();
    let pick = localized
        .iter()
        .find(|l| l.get("LanguageCode").and_then(Json::as_i64) == Some(LANGUAGE_CODE))
        .or_else(|| localized.first())
        .copied()
        .or_else(|| label.get("UserLocalizedLabel").and_then(Json::as_object));
    pick.and_then(|l| text(l, "Label")).map(str::to_string)
}

/// `SchemaName`, required, with its logical name.
fn schema_name(o: &Object, what: &str) -> DefinitionResult<(String, String)> {
    let schema = text(o, "SchemaName")
        .ok_or_else(|| invalid(format!("{what} needs a SchemaName (such as new_Name)")))?;
    let logical = check_custom_schema_name(schema).map_err(invalid)?;
    Ok((schema.to_string(), logical))
}

/// The metadata type an object names with `@odata.type` (without `#`,
/// namespace and the `Complex` of `CreateEntities`), else its
/// `AttributeType` + `AttributeMetadata`.
fn metadata_type(o: &Object) -> Option<String> {
    if let Some(t) = text(o, "@odata.type") {
        let t = t.trim_start_matches('#');
        let t = t.strip_prefix(NAMESPACE).unwrap_or(t);
        return Some(t.strip_prefix("Complex").unwrap_or(t).to_string());
    }
    text(o, "AttributeType").map(|t| format!("{t}AttributeMetadata"))
}

fn max_length(o: &Object, default: usize) -> DefinitionResult<usize> {
    match o.get("MaxLength") {
        None | Some(Json::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= 1)
            .map(|n| n as usize)
            .ok_or_else(|| invalid(format!("MaxLength must be a positive integer, not {v}"))),
    }
}

/// `RequiredLevel.Value`: required for `ApplicationRequired` (and
/// `SystemRequired`), not for `None` and `Recommended`.
fn required(o: &Object) -> DefinitionResult<bool> {
    let Some(level) = o.get("RequiredLevel") else {
        return Ok(false);
    };
    match level.get("Value").and_then(Json::as_str).unwrap_or("None") {
        "None" | "Recommended" => Ok(false),
        "ApplicationRequired" | "SystemRequired" => Ok(true),
        other => Err(invalid(format!(
            "'{other}' is not a RequiredLevel (None, Recommended, ApplicationRequired)"
        ))),
    }
}

/// The options of a `PicklistAttributeMetadata`'s `OptionSet`.
fn options(o: &Object) -> DefinitionResult<Vec<(i64, String)>> {
    let set = o.get("OptionSet").and_then(Json::as_object);
    if set.is_none() && o.contains_key("GlobalOptionSet") {
        return Err(DefinitionError::Unsupported(
            "herald has no global option sets: give the column its own OptionSet with Options"
                .into(),
        ));
    }
    let list = set
        .and_then(|s| s.get("Options"))
        .and_then(Json::as_array)
        .ok_or_else(|| invalid("A choice (PicklistAttributeMetadata) needs OptionSet.Options"))?;
    let mut out: Vec<(i64, String)> = Vec::new();
    for (i, option) in list.iter().enumerate() {
        let option = option
            .as_object()
            .ok_or_else(|| invalid("Each option is an OptionMetadata object"))?;
        let value = match option.get("Value") {
            Some(v) => v
                .as_i64()
                .ok_or_else(|| invalid(format!("Option value {v} is not an integer")))?,
            // Dataverse numbers options it is not given a value for.
            None => 100_000_000 + i as i64,
        };
        if out.iter().any(|(v, _)| *v == value) {
            return Err(invalid(format!("Option value {value} is given twice")));
        }
        let label = label_text(option, "Label").unwrap_or_else(|| value.to_string());
        out.push((value, label));
    }
    if out.is_empty() {
        return Err(invalid("A choice needs at least one option"));
    }
    Ok(out)
}

/// The column type a metadata type names.
fn column_type(o: &Object, kind: &str) -> DefinitionResult<ColumnType> {
    Ok(match kind {
        "StringAttributeMetadata" => ColumnType::String {
            max_length: max_length(o, 100)?,
        },
        "MemoAttributeMetadata" => ColumnType::Memo {
            max_length: max_length(o, 2000)?,
        },
        "IntegerAttributeMetadata" | "BigIntAttributeMetadata" => ColumnType::Integer,
        // herald keeps decimals and doubles alike (a double in SQL).
        "DecimalAttributeMetadata" | "DoubleAttributeMetadata" => ColumnType::Decimal,
        "MoneyAttributeMetadata" => ColumnType::Money,
        "BooleanAttributeMetadata" => ColumnType::Boolean,
        "DateTimeAttributeMetadata" => ColumnType::DateTime,
        "UniqueIdentifierAttributeMetadata" => ColumnType::UniqueIdentifier,
        "PicklistAttributeMetadata" => ColumnType::Choice {
            options: options(o)?,
        },
        "LookupAttributeMetadata" => {
            return Err(DefinitionError::Unsupported(
                "A lookup column is created with its relationship: POST RelationshipDefinitions with a OneToManyRelationshipMetadata and its Lookup".into(),
            ))
        }
        other => {
            return Err(DefinitionError::Unsupported(format!(
                "'{other}' is not a column type herald can create (String, Memo, Integer, BigInt, Decimal, Double, Money, Boolean, DateTime, Picklist, UniqueIdentifier)"
            )))
        }
    })
}

/// A column from its `…AttributeMetadata`, and whether it is the primary
/// name (`IsPrimaryName`).
pub fn column(o: &Object) -> DefinitionResult<(ColumnDefinition, bool)> {
    let (schema, logical) = schema_name(o, "An attribute")?;
    let kind = metadata_type(o).ok_or_else(|| {
        invalid(format!(
            "The attribute '{schema}' needs its type: @odata.type (Microsoft.Dynamics.CRM.StringAttributeMetadata, …) or AttributeType"
        ))
    })?;
    let ty = column_type(o, &kind)?;
    let column = ColumnDefinition {
        logical_name: logical,
        schema_name: schema,
        ty,
        display_name: label_text(o, "DisplayName"),
        required: required(o)?,
        navigation: None,
        relationship: None,
    };
    Ok((column, flag(o, "IsPrimaryName")))
}

/// A column's new definition from a `PUT`/`PATCH` body: labels, length
/// and requirement change; the type and names stay.
pub fn updated_column(
    current: &ColumnDefinition,
    o: &Object,
) -> DefinitionResult<ColumnDefinition> {
    if let Some(schema) = text(o, "SchemaName") {
        if !schema.eq_ignore_ascii_case(&current.schema_name) {
            return Err(invalid(format!(
                "The SchemaName of attribute '{}' cannot be changed",
                current.schema_name
            )));
        }
    }
    let mut next = current.clone();
    if let Some(kind) = metadata_type(o) {
        let same = matches!(
            (&current.ty, kind.as_str()),
            (ColumnType::String { .. }, "StringAttributeMetadata")
                | (ColumnType::Memo { .. }, "MemoAttributeMetadata")
                | (
                    ColumnType::Integer,
                    "IntegerAttributeMetadata" | "BigIntAttributeMetadata"
                )
                | (
                    ColumnType::Decimal,
                    "DecimalAttributeMetadata" | "DoubleAttributeMetadata"
                )
                | (ColumnType::Money, "MoneyAttributeMetadata")
                | (ColumnType::Boolean, "BooleanAttributeMetadata")
                | (ColumnType::DateTime, "DateTimeAttributeMetadata")
                | (
                    ColumnType::UniqueIdentifier,
                    "UniqueIdentifierAttributeMetadata"
                )
                | (ColumnType::Choice { .. }, "PicklistAttributeMetadata")
                | (ColumnType::Lookup { .. }, "LookupAttributeMetadata")
        );
        if !same {
            return Err(invalid(format!(
                "The type of attribute '{}' cannot be changed (it is {}, the body says {kind})",
                current.schema_name,
                current.ty.name()
            )));
        }
    }
    match &mut next.ty {
        ColumnType::String { max_length: n } | ColumnType::Memo { max_length: n } => {
            *n = max_length(o, *n)?;
        }
        ColumnType::Choice { options: current }
            if o.get("OptionSet").and_then(|s| s.get("Options")).is_some() =>
        {
            *current = options(o)?;
        }
        _ => {}
    }
    if o.contains_key("DisplayName") {
        next.display_name = label_text(o, "DisplayName");
    }
    if o.contains_key("RequiredLevel") {
        next.required = required(o)?;
    }
    Ok(next)
}

/// The properties of an `EntityMetadata` a `PUT` cannot change: its
/// names, its primary columns and what kind of table it is.
const IMMUTABLE_TABLE_PROPERTIES: [&str; 13] = [
    "MetadataId",
    "LogicalName",
    "SchemaName",
    "EntitySetName",
    "LogicalCollectionName",
    "CollectionSchemaName",
    "PrimaryIdAttribute",
    "PrimaryNameAttribute",
    "ObjectTypeCode",
    "OwnershipType",
    "IsActivity",
    "IsCustomEntity",
    "TableType",
];

/// A table's labels after a `PUT`/`PATCH` of its `EntityMetadata`
/// (`current_json` is what GET gives for it, `current` its labels). The
/// properties of [`IMMUTABLE_TABLE_PROPERTIES`] may be sent, as clients
/// send back the whole definition, but only unchanged. A label that is
/// sent replaces the one the table has; a label sent without text
/// clears it, unless `merge` (`MSCRM.MergeLabels: true`, or a `PATCH`),
/// where it keeps the one there is. Labels not sent stay.
pub fn updated_labels(
    current: &TableLabels,
    current_json: &Object,
    o: &Object,
    merge: bool,
) -> DefinitionResult<TableLabels> {
    for name in IMMUTABLE_TABLE_PROPERTIES {
        let (Some(sent), Some(has)) = (o.get(name), current_json.get(name)) else {
            continue;
        };
        let same = match (sent, has) {
            (Json::Null, _) => true,
            (Json::String(a), Json::String(b)) if name == "MetadataId" => a.eq_ignore_ascii_case(b),
            (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        };
        if !same {
            return Err(invalid(format!(
                "The {name} of table '{}' cannot be changed (it is {has}, the body says {sent}): only DisplayName, DisplayCollectionName and Description can",
                current_json
                    .get("LogicalName")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
            )));
        }
    }
    let mut next = current.clone();
    for (name, slot) in [
        ("DisplayName", &mut next.display_name),
        ("DisplayCollectionName", &mut next.display_collection_name),
        ("Description", &mut next.description),
    ] {
        match o.get(name) {
            None => {}
            Some(Json::Null) | Some(Json::Object(_)) => match label_text(o, name) {
                Some(text) => *slot = Some(text),
                None if merge => {}
                None => *slot = None,
            },
            Some(other) => {
                return Err(invalid(format!(
                    "{name} must be a Label (with LocalizedLabels), not {other}"
                )))
            }
        }
    }
    Ok(next)
}

/// A table from its `EntityMetadata` (with its `Attributes`, one of them
/// the primary name): its logical name, the table and its columns.
pub fn table(o: &Object) -> DefinitionResult<(String, NewTable, Vec<ColumnDefinition>)> {
    let (schema, logical) = schema_name(o, "A table")?;
    if flag(o, "IsActivity") {
        return Err(DefinitionError::Unsupported(
            "herald has no activity tables (IsActivity: true)".into(),
        ));
    }
    let user_owned = match text(o, "OwnershipType").unwrap_or("UserOwned") {
        "UserOwned" | "TeamOwned" => true,
        "OrganizationOwned" => false,
        other => {
            return Err(invalid(format!(
                "'{other}' is not an OwnershipType herald can create (UserOwned, OrganizationOwned)"
            )))
        }
    };
    let attributes = o
        .get("Attributes")
        .and_then(Json::as_array)
        .ok_or_else(|| {
            invalid("A table needs Attributes: at least its primary name, a StringAttributeMetadata with IsPrimaryName: true")
        })?;
    let mut columns = Vec::new();
    let mut primary_name = None;
    for a in attributes {
        let a = a
            .as_object()
            .ok_or_else(|| invalid("Each attribute is an AttributeMetadata object"))?;
        let (column, is_primary) = column(a)?;
        if is_primary {
            if !matches!(column.ty, ColumnType::String { .. }) {
                return Err(invalid(format!(
                    "The primary name attribute '{}' must be a StringAttributeMetadata",
                    column.schema_name
                )));
            }
            if primary_name.replace(column.logical_name.clone()).is_some() {
                return Err(invalid(
                    "Only one attribute can be the primary name (IsPrimaryName)",
                ));
            }
        }
        columns.push(column);
    }
    let primary_name = primary_name.ok_or_else(|| {
        invalid("A table needs a primary name attribute: a StringAttributeMetadata with IsPrimaryName: true")
    })?;
    // The primary name first, as Dataverse lists it.
    columns.sort_by_key(|c| c.logical_name != primary_name);
    let entity_set = match text(o, "EntitySetName") {
        Some(set) => set.to_string(),
        None => entity_set_name(&logical),
    };
    let table = NewTable {
        schema_name: schema,
        entity_set,
        primary_id: format!("{logical}id"),
        primary_name: Some(primary_name),
        display_name: label_text(o, "DisplayName"),
        display_collection_name: label_text(o, "DisplayCollectionName"),
        description: label_text(o, "Description"),
        user_owned,
        object_type_code: 0,
    };
    Ok((logical, table, columns))
}

/// A one-to-many relationship with its lookup: the referencing (many)
/// table and the lookup column to add to it.
pub fn relationship(o: &Object) -> DefinitionResult<(String, ColumnDefinition)> {
    match metadata_type(o).as_deref() {
        None | Some("OneToManyRelationshipMetadata") => {}
        Some("ManyToManyRelationshipMetadata") => {
            return Err(invalid(
                "A ManyToManyRelationshipMetadata is read by many_to_many",
            ))
        }
        Some(other) => {
            return Err(DefinitionError::Unsupported(format!(
                "'{other}' is not a relationship type (OneToManyRelationshipMetadata)"
            )))
        }
    }
    // Dataverse does not ask a relationship's name for a prefix (the
    // Python client names them `<referenced>_<referencing>_<lookup>`).
    let name = relationship_name(o, "new_account_new_project")?;
    let referenced = text(o, "ReferencedEntity").ok_or_else(|| {
        invalid("A relationship needs its ReferencedEntity (the table looked up)")
    })?;
    let referencing = text(o, "ReferencingEntity").ok_or_else(|| {
        invalid("A relationship needs its ReferencingEntity (the table that gets the lookup)")
    })?;
    let lookup = o.get("Lookup").and_then(Json::as_object).ok_or_else(|| {
        invalid("A one-to-many relationship needs its Lookup (a LookupAttributeMetadata)")
    })?;
    let (schema, logical) = schema_name(lookup, "The lookup")?;
    let navigation = text(o, "ReferencingEntityNavigationPropertyName")
        .map(str::to_string)
        .unwrap_or_else(|| schema.clone());
    let column = ColumnDefinition {
        logical_name: logical,
        schema_name: schema,
        ty: ColumnType::Lookup {
            target: referenced.to_ascii_lowercase(),
        },
        display_name: label_text(lookup, "DisplayName"),
        required: required(lookup)?,
        navigation: Some(navigation),
        relationship: Some(name),
    };
    Ok((referencing.to_ascii_lowercase(), column))
}

/// Whether a `RelationshipDefinitions` body is a many-to-many one.
pub fn is_many_to_many(o: &Object) -> bool {
    metadata_type(o).as_deref() == Some("ManyToManyRelationshipMetadata")
}

/// A relationship's `SchemaName`: letters, digits and `_` (Dataverse does
/// not ask relationships for a prefix).
fn relationship_name(o: &Object, example: &str) -> DefinitionResult<String> {
    let name = text(o, "SchemaName").ok_or_else(|| {
        invalid(format!(
            "A relationship needs a SchemaName (such as {example})"
        ))
    })?;
    let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 100;
    if !name_ok {
        return Err(invalid(format!(
            "'{name}' is not a valid relationship name: letters, digits and '_', starting with a letter"
        )));
    }
    Ok(name.to_string())
}

/// A many-to-many relationship from its `ManyToManyRelationshipMetadata`:
/// `SchemaName`, `Entity1LogicalName`, `Entity2LogicalName`, and
/// optionally `IntersectEntityName` (default: the schema name, as the
/// Python client sends it) and the two navigation property names (default:
/// the schema name, as Dataverse does). `primary_id` gives a table's
/// primary key, for the intersect's column names.
pub fn many_to_many(
    o: &Object,
    primary_id: impl Fn(&str) -> Option<String>,
) -> DefinitionResult<ManyToManyDefinition> {
    let name = relationship_name(o, "new_project_contact")?;
    let entity = |property: &str| -> DefinitionResult<(String, String)> {
        let logical = text(o, property)
            .ok_or_else(|| invalid(format!("A many-to-many relationship needs its {property}")))?
            .to_ascii_lowercase();
        let primary = primary_id(&logical).ok_or_else(|| {
            DefinitionError::NotFound(format!(
                "Could not find an entity with name '{logical}' ({property})"
            ))
        })?;
        Ok((logical, primary))
    };
    let (entity1, primary1) = entity("Entity1LogicalName")?;
    let (entity2, primary2) = entity("Entity2LogicalName")?;
    let intersect = text(o, "IntersectEntityName")
        .unwrap_or(name.as_str())
        .to_ascii_lowercase();
    let intersect_ok = intersect
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && intersect
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && intersect.len() <= 50;
    if !intersect_ok {
        return Err(invalid(format!(
            "'{intersect}' is not a valid IntersectEntityName: letters, digits and '_', starting with a letter, at most 50"
        )));
    }
    let navigation = |property: &str| {
        text(o, property)
            .map(str::to_string)
            .unwrap_or_else(|| name.clone())
    };
    let (entity1_attribute, entity2_attribute) =
        ManyToManyDefinition::intersect_attributes(&primary1, &primary2);
    Ok(ManyToManyDefinition {
        schema_name: name.clone(),
        intersect,
        entity1_navigation: navigation("Entity1NavigationPropertyName"),
        entity2_navigation: navigation("Entity2NavigationPropertyName"),
        entity1,
        entity2,
        entity1_attribute,
        entity2_attribute,
        object_type_code: 0,
    })
}

/// An alternate key from its `EntityKeyMetadata`.
pub fn key(o: &Object) -> DefinitionResult<AlternateKey> {
    let (schema, logical) = schema_name(o, "An alternate key")?;
    let columns = o
        .get("KeyAttributes")
        .and_then(Json::as_array)
        .ok_or_else(|| {
            invalid("An alternate key needs KeyAttributes (the logical names of its columns)")
        })?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_ascii_lowercase)
                .ok_or_else(|| invalid(format!("KeyAttributes holds logical names, not {v}")))
        })
        .collect::<DefinitionResult<Vec<_>>>()?;
    Ok(AlternateKey {
        logical_name: logical,
        schema_name: schema,
        display_name: label_text(o, "DisplayName"),
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> Object {
        match v {
            Json::Object(o) => o,
            _ => Map::new(),
        }
    }

    fn label(text: &str) -> Json {
        json!({"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]})
    }

    #[test]
    fn reads_a_table_as_clients_send_it() {
        let body = obj(json!({
            "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
            "SchemaName": "new_Project",
            "DisplayName": label("Project"),
            "DisplayCollectionName": label("Projects"),
            "OwnershipType": "UserOwned",
            "HasActivities": false,
            "HasNotes": true,
            "Attributes": [
                {"@odata.type": "Microsoft.Dynamics.CRM.ComplexPicklistAttributeMetadata", "SchemaName": "new_Phase",
                 "OptionSet": {"Options": [{"Value": 1, "Label": label("Plan")}, {"Value": 2, "Label": label("Build")}]}},
                {"@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", "SchemaName": "new_Name",
                 "IsPrimaryName": true, "MaxLength": 200, "RequiredLevel": {"Value": "ApplicationRequired"}}
            ]
        }));
        let (logical, t, columns) = table(&body).unwrap();
        assert_eq!(logical, "new_project");
        assert_eq!(t.entity_set, "new_projects");
        assert_eq!(t.primary_id, "new_projectid");
        assert_eq!(t.primary_name.as_deref(), Some("new_name"));
        assert_eq!(t.display_collection_name.as_deref(), Some("Projects"));
        assert_eq!(columns[0].logical_name, "new_name");
        assert!(columns[0].required);
        assert_eq!(columns[0].ty, ColumnType::String { max_length: 200 });
        assert_eq!(
            columns[1].ty,
            ColumnType::Choice {
                options: vec![(1, "Plan".into()), (2, "Build".into())]
            }
        );
    }

    #[test]
    fn refuses_what_herald_cannot_make() {
        let no_prefix = obj(json!({"SchemaName": "Project", "Attributes": []}));
        assert!(matches!(
            table(&no_prefix),
            Err(DefinitionError::Invalid(_))
        ));
        let no_primary = obj(json!({"SchemaName": "new_Project", "Attributes": [
            {"@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata", "SchemaName": "new_Count"}]}));
        assert!(table(&no_primary).is_err());
        let image = obj(
            json!({"@odata.type": "Microsoft.Dynamics.CRM.ImageAttributeMetadata", "SchemaName": "new_Photo"}),
        );
        assert!(matches!(
            column(&image),
            Err(DefinitionError::Unsupported(_))
        ));
    }

    #[test]
    fn reads_relationships_and_keys() {
        let body = obj(json!({
            "SchemaName": "new_account_new_project",
            "ReferencedEntity": "account",
            "ReferencingEntity": "new_project",
            "ReferencedAttribute": "accountid",
            "Lookup": {"AttributeType": "Lookup", "SchemaName": "new_AccountId", "DisplayName": label("Account")}
        }));
        let (table, c) = relationship(&body).unwrap();
        assert_eq!(table, "new_project");
        assert_eq!(c.logical_name, "new_accountid");
        assert_eq!(c.navigation.as_deref(), Some("new_AccountId"));
        assert_eq!(
            c.ty,
            ColumnType::Lookup {
                target: "account".into()
            }
        );
        let k = key(&obj(
            json!({"SchemaName": "new_Code", "KeyAttributes": ["new_Code"]}),
        ))
        .unwrap();
        assert_eq!(k.columns, vec!["new_code".to_string()]);
    }
}
