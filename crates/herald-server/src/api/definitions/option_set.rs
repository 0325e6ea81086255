//! Option sets: the `OptionSet` of a choice, state or status column
//! (`OptionSetMetadata`, with `StateOptionMetadata`/`StatusOptionMetadata`
//! options) and of a boolean column (`BooleanOptionSetMetadata`, Yes/No).
//! Every option set herald has is local to its column; there are no global
//! ones (`GlobalOptionSet` expands to null, `GlobalOptionSetDefinitions`
//! is empty).

use herald_core::fixed_ids::fixed_id;
use herald_core::job::JobStatus;
use herald_core::schema::{Column, ColumnType};
use herald_core::Table;
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use super::attribute::NAMESPACE;
use super::entity::is_custom;
use super::label::{empty_label, humanize, label, managed};
use super::query::{Kind, Shape};
use herald_core::schema::AttributeKind;

const COMMON_PROPERTIES: &[(&str, Kind)] = {
    use Kind::*;
    &[
        ("MetadataId", Guid),
        ("HasChanged", Bool),
        ("Name", Text),
        ("DisplayName", Complex),
        ("Description", Complex),
        ("IsCustomOptionSet", Bool),
        ("IsGlobal", Bool),
        ("IsManaged", Bool),
        ("IsCustomizable", Complex),
        ("OptionSetType", Enum),
        ("IntroducedVersion", Text),
        ("ExternalTypeName", Text),
        ("ParentOptionSetName", Text),
    ]
};

/// The shape of the option set of a column of `kind`.
pub fn shape(kind: AttributeKind) -> Shape {
    let mut properties = COMMON_PROPERTIES.to_vec();
    if kind == AttributeKind::Boolean {
        properties.push(("TrueOption", Kind::Complex));
        properties.push(("FalseOption", Kind::Complex));
        return Shape {
            type_name: "BooleanOptionSetMetadata",
            properties,
            navigations: &[],
        };
    }
    properties.push(("Options", Kind::Complex));
    Shape {
        type_name: "OptionSetMetadata",
        properties,
        navigations: &[],
    }
}

/// The shape of a global option set (`GlobalOptionSetDefinitions`).
pub fn global_shape() -> Shape {
    shape(AttributeKind::Picklist)
}

/// The stable id of a column's option set.
pub fn metadata_id(table: &Table, column: &Column) -> Uuid {
    fixed_id(
        "optionsetmetadata",
        &format!("{}.{}", table.logical_name, column.name),
    )
}

/// The option set of a column, or `None` when it has none.
pub fn option_set_json(table: &Table, column: &Column) -> Option<Map<String, Json>> {
    let kind = AttributeKind::of(column);
    if !kind.has_options() {
        return None;
    }
    let id = metadata_id(table, column);
    let custom = is_custom(table);
    let set_type = match kind {
        AttributeKind::Boolean => "Boolean",
        AttributeKind::State => "State",
        AttributeKind::Status => "Status",
        _ => "Picklist",
    };
    let mut out = Map::new();
    if kind == AttributeKind::Boolean {
        out.insert(
            "@odata.type".into(),
            Json::String(format!("#{NAMESPACE}BooleanOptionSetMetadata")),
        );
    }
    let common = json!({
        "MetadataId": id,
        "HasChanged": null,
        "Name": format!("{}_{}", table.logical_name, column.name),
        "DisplayName": label(&humanize(&column.name, custom), id, "DisplayName"),
        "Description": empty_label(),
        "IsCustomOptionSet": custom,
        "IsGlobal": false,
        "IsManaged": false,
        "IsCustomizable": managed(custom, false, "iscustomizable"),
        "OptionSetType": set_type,
        "IntroducedVersion": "1.0",
        "ExternalTypeName": null,
        "ParentOptionSetName": null,
    });
    if let Json::Object(map) = common {
        out.extend(map);
    }
    if kind == AttributeKind::Boolean {
        out.insert("TrueOption".into(), option(id, 1, "Yes", Map::new()));
        out.insert("FalseOption".into(), option(id, 0, "No", Map::new()));
        return Some(out);
    }
    let options: Vec<Json> = choices(column)
        .iter()
        .map(|(value, text)| option(id, *value, text, typed_option(table, kind, *value)))
        .collect();
    out.insert("Options".into(), Json::Array(options));
    Some(out)
}

fn choices(column: &Column) -> &[(i64, String)] {
    match &column.ty {
        ColumnType::Choice { options } => options,
        _ => &[],
    }
}

/// One `OptionMetadata`, with `extra` (the state/status specifics) in front.
fn option(set: Uuid, value: i64, text: &str, extra: Map<String, Json>) -> Json {
    let mut out = extra;
    let common = json!({
        "Value": value,
        "Color": null,
        "IsManaged": false,
        "ExternalValue": null,
        "ParentValues": [],
        "Tag": null,
        "IsHidden": false,
        "MetadataId": null,
        "HasChanged": null,
        "Label": label(text, set, &format!("Option{value}")),
        "Description": empty_label(),
    });
    if let Json::Object(map) = common {
        out.extend(map);
    }
    Json::Object(out)
}

/// `StateOptionMetadata` (its default status) or `StatusOptionMetadata`
/// (its state) for an option of a state or status column.
fn typed_option(table: &Table, kind: AttributeKind, value: i64) -> Map<String, Json> {
    let mut out = Map::new();
    match kind {
        AttributeKind::State => {
            let default_status = table.column("statuscode").and_then(|status| {
                choices(status)
                    .iter()
                    .find(|(s, _)| state_of_status(table, *s) == Some(value))
                    .map(|(s, _)| *s)
            });
            out.insert(
                "@odata.type".into(),
                Json::String(format!("#{NAMESPACE}StateOptionMetadata")),
            );
            out.insert("DefaultStatus".into(), json!(default_status));
            let invariant = table
                .column("statecode")
                .and_then(|c| choices(c).iter().find(|(v, _)| *v == value))
                .map(|(_, text)| text.clone());
            out.insert("InvariantName".into(), json!(invariant));
        }
        AttributeKind::Status => {
            out.insert(
                "@odata.type".into(),
                Json::String(format!("#{NAMESPACE}StatusOptionMetadata")),
            );
            out.insert("State".into(), json!(state_of_status(table, value)));
            out.insert("TransitionData".into(), Json::Null);
        }
        _ => {}
    }
    out
}

/// The state a status value belongs to: System Jobs by their own state
/// machine; other tables pair the n-th status with the n-th state.
fn state_of_status(table: &Table, status: i64) -> Option<i64> {
    if table.logical_name == "asyncoperation" {
        return JobStatus::from_code(status).map(|s| s.state().code());
    }
    let states = choices(table.column("statecode")?);
    let statuses = choices(table.column("statuscode")?);
    if states.len() != statuses.len() {
        return None;
    }
    let position = statuses.iter().position(|(v, _)| *v == status)?;
    states.get(position).map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::Schema;

    fn set(schema: &Schema, table: &str, column: &str) -> Option<Map<String, Json>> {
        let t = schema.table(table).expect("table");
        option_set_json(t, t.column(column).expect("column"))
    }

    #[test]
    fn choices_booleans_states_and_statuses() {
        let schema = Schema::build(&[]).expect("schema");
        let industry = set(&schema, "account", "industrycode").expect("picklist");
        assert_eq!(industry["OptionSetType"], "Picklist");
        assert_eq!(industry["IsGlobal"], false);
        assert_eq!(industry["Options"][0]["Value"], 1);
        assert_eq!(
            industry["Options"][0]["Label"]["UserLocalizedLabel"]["Label"],
            "Accounting"
        );
        let flag = set(&schema, "account", "creditonhold").expect("boolean");
        assert_eq!(
            flag["TrueOption"]["Label"]["LocalizedLabels"][0]["Label"],
            "Yes"
        );
        assert_eq!(flag["FalseOption"]["Value"], 0);
        let state = set(&schema, "account", "statecode").expect("state");
        assert_eq!(state["Options"][1]["DefaultStatus"], 2);
        assert_eq!(state["Options"][1]["InvariantName"], "Inactive");
        let job_status = set(&schema, "asyncoperation", "statuscode").expect("status");
        let canceled = job_status["Options"]
            .as_array()
            .and_then(|o| o.iter().find(|x| x["Value"] == 32))
            .expect("Canceled");
        assert_eq!(canceled["State"], 3);
        assert!(set(&schema, "account", "name").is_none());
    }

    #[test]
    fn the_shape_lists_exactly_the_properties_served() {
        let schema = Schema::build(&[]).expect("schema");
        for (table, column) in [("account", "industrycode"), ("account", "creditonhold")] {
            let t = schema.table(table).expect("table");
            let c = t.column(column).expect("column");
            let json = option_set_json(t, c).expect("set");
            let keys: Vec<&str> = json
                .keys()
                .map(String::as_str)
                .filter(|k| !k.starts_with('@'))
                .collect();
            let names: Vec<&str> = shape(AttributeKind::of(c))
                .properties
                .iter()
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(keys, names);
        }
    }
}
