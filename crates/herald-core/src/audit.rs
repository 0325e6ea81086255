//! The audit trail's pure part: what an `audit` row says, in Dataverse's
//! words. [`AuditOperation`] and [`AuditAction`] are the two choices
//! (`operation`, `action`) with Dataverse's values; [`changes`] builds the
//! `attributemask` and the `changedata` JSON of a write from the row before
//! and after it (the shape `RetrieveAuditDetails` shows:
//! `{"changedAttributes":[{"logicalName","oldValue","newValue"}]}`), and
//! [`relationship_change`] the one of an associate or disassociate
//! (`{"relationshipName","targetRecords":[…]}`). A secret (write-only)
//! column never appears with its value: both values are [`MASK`] when set.

use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::schema::{Access, Table};
use crate::Value;

/// What a secret column's value is written as in `changedata`.
pub const MASK: &str = "***";

/// The system columns a change carries but an audit row does not list
/// (Dataverse's audit leaves them out too).
const NOT_AUDITED: [&str; 5] = [
    "createdon",
    "modifiedon",
    "createdby",
    "modifiedby",
    "versionnumber",
];

/// `audit.operation`: the kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOperation {
    Create,
    Update,
    Delete,
    Access,
}

impl AuditOperation {
    pub const ALL: [AuditOperation; 4] = [
        AuditOperation::Create,
        AuditOperation::Update,
        AuditOperation::Delete,
        AuditOperation::Access,
    ];

    pub fn code(self) -> i64 {
        match self {
            AuditOperation::Create => 1,
            AuditOperation::Update => 2,
            AuditOperation::Delete => 3,
            AuditOperation::Access => 4,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuditOperation::Create => "Create",
            AuditOperation::Update => "Update",
            AuditOperation::Delete => "Delete",
            AuditOperation::Access => "Access",
        }
    }

    pub fn of_code(code: i64) -> Option<AuditOperation> {
        AuditOperation::ALL.into_iter().find(|o| o.code() == code)
    }
}

/// `audit.action`: what was done (a subset of Dataverse's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    /// Two records linked through a many-to-many relationship.
    Associate,
    /// Such a link removed.
    Disassociate,
}

impl AuditAction {
    pub const ALL: [AuditAction; 5] = [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
        AuditAction::Associate,
        AuditAction::Disassociate,
    ];

    /// Dataverse's value (`33` Associate Entities, `34` Disassociate Entities).
    pub fn code(self) -> i64 {
        match self {
            AuditAction::Create => 1,
            AuditAction::Update => 2,
            AuditAction::Delete => 3,
            AuditAction::Associate => 33,
            AuditAction::Disassociate => 34,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuditAction::Create => "Create",
            AuditAction::Update => "Update",
            AuditAction::Delete => "Delete",
            AuditAction::Associate => "Associate Entities",
            AuditAction::Disassociate => "Disassociate Entities",
        }
    }

    pub fn of_code(code: i64) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The operation an action is recorded under: a link changes the
    /// record it is audited on, so it is an Update.
    pub fn operation(self) -> AuditOperation {
        match self {
            AuditAction::Create => AuditOperation::Create,
            AuditAction::Update | AuditAction::Associate | AuditAction::Disassociate => {
                AuditOperation::Update
            }
            AuditAction::Delete => AuditOperation::Delete,
        }
    }
}

/// The `attributemask` and `changedata` of one audited write.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// The changed columns' numbers (their 1-based place in the table),
    /// comma-separated with a leading and trailing comma, as Dataverse
    /// writes it (`,3,7,`); empty when nothing is listed.
    pub attribute_mask: String,
    pub change_data: Json,
}

fn lookup<'a>(values: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    values.iter().find(|(c, _)| c == name).map(|(_, v)| v)
}

/// The columns a write changed, with their old and new values: on a Create
/// every column set, on a Delete every column that held a value, on an
/// Update the columns whose value differs. `before` is the row before the
/// write (none for a Create), `after` the row after it (none for a Delete).
pub fn changes(
    table: &Table,
    before: Option<&[(String, Value)]>,
    after: Option<&[(String, Value)]>,
) -> Changes {
    let mut numbers = Vec::new();
    let mut listed = Vec::new();
    for (n, column) in table.columns.iter().enumerate() {
        if NOT_AUDITED.contains(&column.name.as_str()) || column.name == table.primary_id {
            continue;
        }
        let old = before
            .and_then(|b| lookup(b, &column.name))
            .unwrap_or(&Value::Null);
        let new = after
            .and_then(|a| lookup(a, &column.name))
            .unwrap_or(&Value::Null);
        let changed = match (before, after) {
            (None, _) | (_, None) => !old.is_null() || !new.is_null(),
            // An update lists only what it touched.
            (Some(_), Some(a)) => lookup(a, &column.name).is_some() && old != new,
        };
        if !changed {
            continue;
        }
        let shown = |v: &Value| {
            if column.access == Access::WriteOnly && !v.is_null() {
                Json::String(MASK.to_string())
            } else {
                v.to_json()
            }
        };
        numbers.push((n + 1).to_string());
        listed.push(json!({
            "logicalName": column.name,
            "oldValue": shown(old),
            "newValue": shown(new),
        }));
    }
    Changes {
        attribute_mask: if numbers.is_empty() {
            String::new()
        } else {
            format!(",{},", numbers.join(","))
        },
        change_data: json!({ "changedAttributes": listed }),
    }
}

/// The `changedata` of an associate or disassociate: the relationship and
/// the record at its other end.
pub fn relationship_change(relationship: &str, target_table: &str, target_id: Uuid) -> Json {
    json!({
        "relationshipName": relationship,
        "targetRecords": [{ "logicalName": target_table, "id": target_id.to_string() }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schema;

    fn v(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn an_update_lists_what_changed_and_masks_secrets() {
        let schema = Schema::build(&[]).unwrap();
        let t = schema.table("serviceendpoint").unwrap();
        let before = v(&[
            ("name", Value::String("hook".into())),
            ("url", Value::String("http://127.0.0.1:9/a".into())),
            ("authvalue", Value::String("old-secret".into())),
        ]);
        let after = v(&[
            ("name", Value::String("hook".into())),
            ("url", Value::String("http://127.0.0.1:9/b".into())),
            ("authvalue", Value::String("new-secret".into())),
            ("versionnumber", Value::Int(2)),
        ]);
        let c = changes(t, Some(&before), Some(&after));
        let text = c.change_data.to_string();
        assert!(!text.contains("secret"), "{text}");
        let listed = c.change_data["changedAttributes"].as_array().unwrap();
        let names: Vec<&str> = listed
            .iter()
            .map(|a| a["logicalName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["url", "authvalue"]);
        assert_eq!(listed[0]["oldValue"], "http://127.0.0.1:9/a");
        assert_eq!(listed[0]["newValue"], "http://127.0.0.1:9/b");
        assert_eq!(listed[1]["newValue"], MASK);
        let url_no = t.columns.iter().position(|c| c.name == "url").unwrap() + 1;
        assert!(c.attribute_mask.starts_with(&format!(",{url_no},")));
        assert!(c.attribute_mask.ends_with(','));
    }

    #[test]
    fn create_and_delete_list_the_values_held() {
        let schema = Schema::build(&[]).unwrap();
        let t = schema.table("role").unwrap();
        let row = v(&[
            ("name", Value::String("Auditors".into())),
            ("description", Value::Null),
        ]);
        let created = changes(t, None, Some(&row));
        assert_eq!(
            created.change_data["changedAttributes"][0]["newValue"],
            "Auditors"
        );
        assert_eq!(
            created.change_data["changedAttributes"][0]["oldValue"],
            Json::Null
        );
        assert_eq!(
            created.change_data["changedAttributes"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let deleted = changes(t, Some(&row), None);
        assert_eq!(
            deleted.change_data["changedAttributes"][0]["oldValue"],
            "Auditors"
        );
        assert_eq!(AuditAction::Associate.operation(), AuditOperation::Update);
        assert_eq!(AuditAction::of_code(34), Some(AuditAction::Disassociate));
    }
}
