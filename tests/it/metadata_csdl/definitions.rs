//! `$metadata` agrees with `EntityDefinitions` for every table, as a
//! client reading either would expect: the same tables, entity sets and
//! keys; a property of the matching Edm type for every attribute valid for
//! read (and none for the others); and each one-to-many relationship as
//! the collection on the referenced table and the lookup (with its
//! referential constraint) on the referencing one.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use super::reader::{navigations, properties, unwrap_collection, Csdl, EDM};
use crate::common::{enc, Backend, TestServer};

async fn ok(s: &TestServer, path: &str) -> Value {
    let (status, body) = s.get(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

fn values(body: &Value) -> &[Value] {
    body["value"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// The Edm type an attribute of this `AttributeType` is read as.
fn edm(attribute_type: &str) -> &'static str {
    match attribute_type {
        "String" | "Memo" => "Edm.String",
        "Integer" | "Picklist" | "State" | "Status" => "Edm.Int32",
        "BigInt" => "Edm.Int64",
        "Decimal" | "Money" => "Edm.Decimal",
        "Boolean" => "Edm.Boolean",
        "DateTime" => "Edm.DateTimeOffset",
        "Uniqueidentifier" | "Lookup" | "Owner" | "Customer" => "Edm.Guid",
        other => panic!("an AttributeType $metadata has no type for: {other}"),
    }
}

fn key_of<'a>(ty: roxmltree::Node<'a, '_>) -> Option<&'a str> {
    ty.descendants()
        .find(|n| n.has_tag_name((EDM, "PropertyRef")))
        .and_then(|n| n.attribute("Name"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csdl_agrees_with_entity_definitions() {
    let s = super::start(Backend::Sqlite, "metadata_csdl::definitions")
        .await
        .expect("server");
    let xml = super::metadata(&s).await;
    let doc = roxmltree::Document::parse(&xml).expect("XML");
    let csdl = Csdl::read(&doc);
    let sets = csdl.entity_sets();
    let entities = ok(
        &s,
        &format!(
            "EntityDefinitions?$select={}",
            enc("LogicalName,EntitySetName,PrimaryIdAttribute")
        ),
    )
    .await;
    let logical: BTreeSet<String> = values(&entities)
        .iter()
        .map(|e| format!("Microsoft.Dynamics.CRM.{}", text(e, "LogicalName")))
        .collect();
    // The abstract crmbaseentity is a base type, not a table.
    let types: BTreeSet<String> = csdl
        .entity_types
        .iter()
        .filter(|(_, t)| t.attribute("Abstract") != Some("true"))
        .map(|(q, _)| q.clone())
        .collect();
    assert_eq!(logical, types, "the same tables");
    assert!(logical.contains("Microsoft.Dynamics.CRM.new_project"));

    for e in values(&entities) {
        let name = text(e, "LogicalName");
        let q = format!("mscrm.{name}");
        let ty = csdl.entity_type(&q).expect("entity type");
        let primary = text(e, "PrimaryIdAttribute");
        assert_eq!(key_of(ty), Some(primary), "{name}: key");
        let set = sets
            .get(text(e, "EntitySetName"))
            .unwrap_or_else(|| panic!("{name}: no entity set {}", text(e, "EntitySetName")));
        assert_eq!(set.attribute("EntityType"), Some(q.as_str()), "{name}");

        let attributes = ok(
            &s,
            &format!(
                "EntityDefinitions(LogicalName='{name}')/Attributes?$select={}",
                enc("LogicalName,AttributeType,IsValidForRead")
            ),
        )
        .await;
        let props = properties(ty);
        let mut readable = BTreeSet::new();
        for a in values(&attributes) {
            let column = text(a, "LogicalName");
            let kind = text(a, "AttributeType");
            let property = match kind {
                "Lookup" | "Owner" | "Customer" if column != primary => format!("_{column}_value"),
                _ => column.to_string(),
            };
            if a["IsValidForRead"] == false {
                assert!(
                    !props.contains_key(property.as_str()),
                    "{name}.{property}: not valid for read, yet in $metadata"
                );
                continue;
            }
            let p = props
                .get(property.as_str())
                .unwrap_or_else(|| panic!("{name}: attribute {column} has no property {property}"));
            assert_eq!(
                p.attribute("Type"),
                Some(edm(kind)),
                "{name}.{property} ({kind})"
            );
            readable.insert(property);
        }
        let described: BTreeSet<String> = props.keys().map(|p| p.to_string()).collect();
        assert_eq!(
            described, readable,
            "{name}: properties = readable attributes"
        );

        let one_to_many = ok(
            &s,
            &format!(
                "EntityDefinitions(LogicalName='{name}')/OneToManyRelationships?$select={}",
                enc("SchemaName,ReferencingEntity,ReferencingAttribute,ReferencedEntityNavigationPropertyName,ReferencingEntityNavigationPropertyName")
            ),
        )
        .await;
        let many_to_many = ok(
            &s,
            &format!(
                "EntityDefinitions(LogicalName='{name}')/ManyToManyRelationships?$select={}",
                enc("SchemaName,Entity1LogicalName,Entity2LogicalName,Entity1NavigationPropertyName,Entity2NavigationPropertyName")
            ),
        )
        .await;
        let navs = navigations(ty);
        let collections: BTreeSet<&str> = navs
            .iter()
            .filter(|(_, n)| unwrap_collection(n.attribute("Type").unwrap_or_default()).0)
            .map(|(k, _)| *k)
            .collect();
        let mut listed = BTreeSet::new();
        for r in values(&one_to_many) {
            let collection = text(r, "ReferencedEntityNavigationPropertyName");
            let many = text(r, "ReferencingEntity");
            let nav = navs.get(collection).unwrap_or_else(|| {
                panic!(
                    "{name}: relationship {} has no collection {collection}",
                    text(r, "SchemaName")
                )
            });
            assert_eq!(
                nav.attribute("Type"),
                Some(format!("Collection(mscrm.{many})").as_str()),
                "{name}/{collection}"
            );
            let lookup_name = text(r, "ReferencingEntityNavigationPropertyName");
            let many_ty = csdl
                .entity_type(&format!("mscrm.{many}"))
                .expect("referencing type");
            let many_navs = navigations(many_ty);
            let lookup = many_navs
                .get(lookup_name)
                .unwrap_or_else(|| panic!("{many}: no navigation property {lookup_name}"));
            assert_eq!(
                lookup.attribute("Type"),
                Some(q.as_str()),
                "{many}/{lookup_name}"
            );
            assert_eq!(
                lookup.attribute("Partner"),
                Some(collection),
                "{many}/{lookup_name}"
            );
            let constraint = lookup
                .children()
                .find(|n| n.has_tag_name((EDM, "ReferentialConstraint")))
                .and_then(|n| n.attribute("Property"));
            let value = format!("_{}_value", text(r, "ReferencingAttribute"));
            assert_eq!(constraint, Some(value.as_str()), "{many}/{lookup_name}");
            listed.insert(collection);
        }
        // A many-to-many relationship: a collection on each side.
        for r in values(&many_to_many) {
            for (this, nav_name, other) in [
                (
                    "Entity1LogicalName",
                    "Entity1NavigationPropertyName",
                    "Entity2LogicalName",
                ),
                (
                    "Entity2LogicalName",
                    "Entity2NavigationPropertyName",
                    "Entity1LogicalName",
                ),
            ] {
                if text(r, this) != name {
                    continue;
                }
                let collection = text(r, nav_name);
                let nav = navs
                    .get(collection)
                    .unwrap_or_else(|| panic!("{name}: no collection {collection}"));
                assert_eq!(
                    nav.attribute("Type"),
                    Some(format!("Collection(mscrm.{})", text(r, other)).as_str()),
                    "{name}/{collection}"
                );
                listed.insert(collection);
            }
        }
        assert_eq!(
            collections, listed,
            "{name}: collections = one-to-many and many-to-many relationships"
        );
    }
}
