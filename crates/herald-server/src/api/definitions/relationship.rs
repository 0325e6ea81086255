//! Relationship metadata: every lookup column is a one-to-many
//! relationship (`OneToManyRelationshipMetadata`; seen from the many side
//! it is a many-to-one); the many-to-many relationships made through the
//! metadata API are `ManyToManyRelationshipMetadata`; and the shape of
//! alternate keys (`EntityKeyMetadata`), so `$select`/`$filter` on them are
//! checked.

use herald_core::fixed_ids::fixed_id;
use herald_core::schema::{ManyToManyDefinition, Relationship};
use herald_core::Schema;
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use super::attribute::NAMESPACE;
use super::entity::is_custom;
use super::label::managed;
use super::path::Key;
use super::query::{Kind, Shape};

/// A relationship as metadata describes it.
#[derive(Debug, Clone)]
pub struct Described {
    pub relationship: Relationship,
    /// The relationship's name (unique: herald names the system lookups'
    /// relationships per table, `lk_<table>_createdby`).
    pub schema_name: String,
}

impl Described {
    /// Stable id, from the lookup that makes the relationship.
    pub fn metadata_id(&self) -> Uuid {
        fixed_id(
            "relationshipmetadata",
            &format!(
                "{}.{}",
                self.relationship.many_table, self.relationship.lookup_column
            ),
        )
    }
}

/// Every relationship of the schema.
pub fn describe_all(schema: &Schema) -> Vec<Described> {
    schema
        .relationships()
        .into_iter()
        .map(|relationship| Described {
            schema_name: relationship.name.clone(),
            relationship,
        })
        .collect()
}

/// The properties of `OneToManyRelationshipMetadata`, in response order.
pub fn one_to_many_shape() -> Shape {
    use Kind::*;
    Shape {
        type_name: "OneToManyRelationshipMetadata",
        properties: vec![
            ("MetadataId", Guid),
            ("HasChanged", Bool),
            ("SchemaName", Text),
            ("RelationshipType", Enum),
            ("IsCustomRelationship", Bool),
            ("IsManaged", Bool),
            ("IsValidForAdvancedFind", Bool),
            ("IsHierarchical", Bool),
            ("IsCustomizable", Complex),
            ("SecurityTypes", Enum),
            ("IntroducedVersion", Text),
            ("ReferencedAttribute", Text),
            ("ReferencedEntity", Text),
            ("ReferencingAttribute", Text),
            ("ReferencingEntity", Text),
            ("ReferencedEntityNavigationPropertyName", Text),
            ("ReferencingEntityNavigationPropertyName", Text),
            ("RelationshipBehavior", Int),
            ("CascadeConfiguration", Complex),
            ("AssociatedMenuConfiguration", Complex),
        ],
        navigations: &[],
    }
}

/// The properties of `ManyToManyRelationshipMetadata`, in response order.
pub fn many_to_many_shape() -> Shape {
    use Kind::*;
    Shape {
        type_name: "ManyToManyRelationshipMetadata",
        properties: vec![
            ("MetadataId", Guid),
            ("HasChanged", Bool),
            ("SchemaName", Text),
            ("RelationshipType", Enum),
            ("IsCustomRelationship", Bool),
            ("IsManaged", Bool),
            ("IsValidForAdvancedFind", Bool),
            ("IsCustomizable", Complex),
            ("SecurityTypes", Enum),
            ("IntroducedVersion", Text),
            ("Entity1LogicalName", Text),
            ("Entity2LogicalName", Text),
            ("Entity1IntersectAttribute", Text),
            ("Entity2IntersectAttribute", Text),
            ("IntersectEntityName", Text),
            ("Entity1NavigationPropertyName", Text),
            ("Entity2NavigationPropertyName", Text),
        ],
        navigations: &[],
    }
}

/// The properties of `EntityKeyMetadata` (herald models no alternate keys).
pub fn key_shape() -> Shape {
    use Kind::*;
    Shape {
        type_name: "EntityKeyMetadata",
        properties: vec![
            ("MetadataId", Guid),
            ("HasChanged", Bool),
            ("LogicalName", Text),
            ("SchemaName", Text),
            ("EntityLogicalName", Text),
            ("KeyAttributes", Complex),
            ("DisplayName", Complex),
            ("EntityKeyIndexStatus", Enum),
            ("IsManaged", Bool),
        ],
        navigations: &[],
    }
}

/// The `OneToManyRelationshipMetadata` of a relationship. herald does not
/// cascade: deleting a referenced row leaves the lookups pointing at it,
/// which is closest to Dataverse's `RemoveLink` without the clearing.
pub fn one_to_many_json(schema: &Schema, described: &Described) -> Map<String, Json> {
    let r = &described.relationship;
    let one = schema.table(&r.one_table);
    let many = schema.table(&r.many_table);
    let lookup = many.and_then(|t| t.column(&r.lookup_column));
    let custom = many.is_some_and(is_custom);
    let cascade = json!({
        "Assign": "NoCascade",
        "Delete": "RemoveLink",
        "Merge": "NoCascade",
        "Reparent": "NoCascade",
        "Share": "NoCascade",
        "Unshare": "NoCascade",
        "RollupView": "NoCascade",
        "Archive": "NoCascade",
    });
    let body = json!({
        "@odata.type": format!("#{NAMESPACE}OneToManyRelationshipMetadata"),
        "MetadataId": described.metadata_id(),
        "HasChanged": null,
        "SchemaName": described.schema_name,
        "RelationshipType": "OneToManyRelationship",
        "IsCustomRelationship": custom,
        "IsManaged": false,
        "IsValidForAdvancedFind": true,
        "IsHierarchical": r.one_table == r.many_table,
        "IsCustomizable": managed(custom, false, "iscustomizable"),
        "SecurityTypes": "None",
        "IntroducedVersion": "1.0",
        "ReferencedAttribute": one.map(|t| t.primary_id.clone()),
        "ReferencedEntity": r.one_table,
        "ReferencingAttribute": r.lookup_column,
        "ReferencingEntity": r.many_table,
        "ReferencedEntityNavigationPropertyName": r.name,
        "ReferencingEntityNavigationPropertyName": lookup.map(|c| c.navigation_name().to_string()),
        "RelationshipBehavior": 0,
        "CascadeConfiguration": cascade,
        "AssociatedMenuConfiguration": {
            "Behavior": "UseCollectionName",
            "Group": "Details",
            "Label": super::label::empty_label(),
            "Order": null,
        },
    });
    match body {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

/// The stable `MetadataId` of a many-to-many relationship (UUID v5 of
/// its schema name).
pub fn many_to_many_id(m: &ManyToManyDefinition) -> Uuid {
    fixed_id(
        "relationshipmetadata",
        &format!("manytomany:{}", m.schema_name),
    )
}

/// The many-to-many relationship a key names: its MetadataId or its
/// `SchemaName`.
pub fn find_many_to_many<'s>(schema: &'s Schema, key: &Key) -> Option<&'s ManyToManyDefinition> {
    schema.many_to_many().find(|m| match key {
        Key::Id(id) => many_to_many_id(m) == *id,
        Key::Named { property, value } => property == "SchemaName" && &m.schema_name == value,
    })
}

/// The `ManyToManyRelationshipMetadata` of a relationship made through
/// the metadata API.
pub fn many_to_many_json(m: &ManyToManyDefinition) -> Map<String, Json> {
    let body = json!({
        "@odata.type": format!("#{NAMESPACE}ManyToManyRelationshipMetadata"),
        "MetadataId": many_to_many_id(m),
        "HasChanged": null,
        "SchemaName": m.schema_name,
        "RelationshipType": "ManyToManyRelationship",
        "IsCustomRelationship": true,
        "IsManaged": false,
        "IsValidForAdvancedFind": true,
        "IsCustomizable": managed(true, false, "iscustomizable"),
        "SecurityTypes": "None",
        "IntroducedVersion": "1.0",
        "Entity1LogicalName": m.entity1,
        "Entity2LogicalName": m.entity2,
        "Entity1IntersectAttribute": m.entity1_attribute,
        "Entity2IntersectAttribute": m.entity2_attribute,
        "IntersectEntityName": m.intersect,
        "Entity1NavigationPropertyName": m.entity1_navigation,
        "Entity2NavigationPropertyName": m.entity2_navigation,
    });
    match body {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn relationships_have_unique_names_and_ids() {
        let schema = Schema::build(&[]).expect("schema");
        let all = describe_all(&schema);
        let names: BTreeSet<&str> = all.iter().map(|d| d.schema_name.as_str()).collect();
        assert_eq!(names.len(), all.len(), "schema names are unique");
        let ids: BTreeSet<Uuid> = all.iter().map(Described::metadata_id).collect();
        assert_eq!(ids.len(), all.len(), "ids are unique");
        assert!(names.contains("lk_account_createdby"));
        assert!(names.contains("contact_customer_accounts"));
    }

    #[test]
    fn many_to_many_shape_matches_the_json() {
        let m = ManyToManyDefinition {
            schema_name: "new_a_b".into(),
            intersect: "new_a_b".into(),
            entity1: "account".into(),
            entity2: "contact".into(),
            entity1_attribute: "accountid".into(),
            entity2_attribute: "contactid".into(),
            entity1_navigation: "new_a_b".into(),
            entity2_navigation: "new_a_b".into(),
            object_type_code: 20_000,
        };
        let json = many_to_many_json(&m);
        let keys: Vec<&str> = json
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with('@'))
            .collect();
        let names: Vec<&str> = many_to_many_shape()
            .properties
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(keys, names);
        assert_eq!(json["IntersectEntityName"], "new_a_b");
    }

    #[test]
    fn one_to_many_shape_matches_the_json() {
        let schema = Schema::build(&[]).expect("schema");
        let all = describe_all(&schema);
        let d = all
            .iter()
            .find(|d| d.schema_name == "contact_customer_accounts")
            .expect("relationship");
        let json = one_to_many_json(&schema, d);
        assert_eq!(json["ReferencedEntity"], "account");
        assert_eq!(json["ReferencedAttribute"], "accountid");
        assert_eq!(json["ReferencingEntity"], "contact");
        assert_eq!(json["ReferencingAttribute"], "parentcustomerid");
        assert_eq!(
            json["ReferencingEntityNavigationPropertyName"],
            "parentcustomerid_account"
        );
        let keys: Vec<&str> = json
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with('@'))
            .collect();
        let names: Vec<&str> = one_to_many_shape()
            .properties
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(keys, names);
    }
}
