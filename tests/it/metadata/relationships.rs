//! Relationships (`ManyToOne`, `OneToMany`, `ManyToMany`,
//! `RelationshipDefinitions`), alternate keys and global option sets.

use crate::common::{odata_error, TestServer};
use reqwest::StatusCode;
use serde_json::json;

use super::{enc, names, ok};

async fn relationships_of_a_table(s: TestServer) {
    let many_to_one = ok(
        &s,
        "EntityDefinitions(LogicalName='contact')/ManyToOneRelationships",
    )
    .await;
    let parent = many_to_one["value"]
        .as_array()
        .and_then(|v| {
            v.iter()
                .find(|r| r["SchemaName"] == "contact_customer_accounts")
        })
        .expect("contact_customer_accounts");
    for (k, v) in [
        (
            "@odata.type",
            json!("#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata"),
        ),
        ("RelationshipType", json!("OneToManyRelationship")),
        ("ReferencedEntity", json!("account")),
        ("ReferencedAttribute", json!("accountid")),
        ("ReferencingEntity", json!("contact")),
        ("ReferencingAttribute", json!("parentcustomerid")),
        (
            "ReferencingEntityNavigationPropertyName",
            json!("parentcustomerid_account"),
        ),
        (
            "ReferencedEntityNavigationPropertyName",
            json!("contact_customer_accounts"),
        ),
        ("IsCustomRelationship", json!(false)),
    ] {
        assert_eq!(parent[k], v, "{k}");
    }
    let one_to_many = ok(
        &s,
        &format!(
            "EntityDefinitions(LogicalName='serviceendpoint')/OneToManyRelationships?$select=SchemaName,ReferencingEntity&$filter={}",
            enc("ReferencingEntity eq 'sdkmessageprocessingstep'")
        ),
    )
    .await;
    assert_eq!(
        names(&one_to_many, "SchemaName"),
        ["serviceendpoint_sdkmessageprocessingstep"]
    );
    for empty in ["ManyToManyRelationships", "Keys"] {
        let body = ok(
            &s,
            &format!("EntityDefinitions(LogicalName='account')/{empty}"),
        )
        .await;
        assert_eq!(body["value"], json!([]), "{empty}");
    }
    let key = "EntityDefinitions(LogicalName='account')/Keys(00000000-0000-0000-0000-000000000001)";
    let (status, body) = s.get(key).await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    // What the Python client asks for when listing a table's relationships.
    let (status, _) = s
        .get("EntityDefinitions(LogicalName='account')/ManyToManyRelationships?$select=SchemaName")
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn relationship_definitions(s: TestServer) {
    let all = ok(&s, "RelationshipDefinitions?$select=SchemaName").await;
    let names_all = names(&all, "SchemaName");
    assert!(names_all.contains(&"lk_account_createdby"));
    assert!(names_all.contains(&"lk_contact_createdby"));
    // The Python client's `_build_get_relationship`.
    let one = ok(
        &s,
        &format!(
            "RelationshipDefinitions?$filter={}",
            enc("SchemaName eq 'account_primary_contact'")
        ),
    )
    .await;
    assert_eq!(one["value"][0]["ReferencedEntity"], "contact");
    let id = one["value"][0]["MetadataId"]
        .as_str()
        .expect("id")
        .to_string();
    let by_id = ok(
        &s,
        &format!("RelationshipDefinitions({id})?$select=SchemaName"),
    )
    .await;
    assert_eq!(by_id["SchemaName"], "account_primary_contact");
    let by_name = ok(
        &s,
        "RelationshipDefinitions(SchemaName='account_primary_contact')",
    )
    .await;
    assert_eq!(by_name["ReferencingAttribute"], "primarycontactid");
    let typed = ok(
        &s,
        &format!(
            "RelationshipDefinitions?$select=SchemaName&$filter={}",
            enc("RelationshipType eq Microsoft.Dynamics.CRM.RelationshipType'OneToManyRelationship' and ReferencedEntity eq 'serviceendpoint'")
        ),
    )
    .await;
    assert_eq!(
        names(&typed, "SchemaName"),
        ["serviceendpoint_sdkmessageprocessingstep"]
    );
    // dynamics-web-api's retrieveRelationships casts the collection.
    let cast = ok(
        &s,
        &format!(
            "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata?$select=SchemaName&$filter={}",
            enc("SchemaName eq 'account_primary_contact'")
        ),
    )
    .await;
    assert_eq!(names(&cast, "SchemaName"), ["account_primary_contact"]);
    let many = ok(
        &s,
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
    )
    .await;
    assert_eq!(many["value"], json!([]));
    let (status, body) = s.get("RelationshipDefinitions(SchemaName='nope')").await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
}

async fn global_option_sets(s: TestServer) {
    let body = ok(&s, "GlobalOptionSetDefinitions?$select=Name").await;
    assert_eq!(body["value"], json!([]));
    let (status, body) = s.get("GlobalOptionSetDefinitions(Name='x')").await;
    let message = odata_error(status, &body, StatusCode::NOT_FOUND);
    assert!(message.contains("no global option sets"), "{message}");
}

both_backends!(
    relationships_of_a_table,
    relationship_definitions,
    global_option_sets
);
