//! Columns, lookups and alternate keys made through the metadata API over
//! HTTP on both stores: `POST …/Attributes` of every type herald models,
//! `PUT`/`PATCH` of labels, length and requirement, `DELETE` of a custom
//! column (refused for herald's own), `POST RelationshipDefinitions`
//! (navigation in `$expand` and `@odata.bind`), and alternate keys
//! (`POST …/Keys`, then GET/PATCH/DELETE and upsert by the key).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{odata_error, TestServer};

use super::create::{create_table, id_of, label, project_body};
use super::{named, ok};

const PROJECT: &str = "EntityDefinitions(LogicalName='new_project')";

async fn add(s: &TestServer, table: &str, body: Value) -> String {
    let (status, headers, b) = s
        .post(
            &format!("EntityDefinitions(LogicalName='{table}')/Attributes"),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "add column: {b}");
    headers
        .get("odata-entityid")
        .and_then(|v| v.to_str().ok())
        .expect("OData-EntityId")
        .to_string()
}

fn attribute(kind: &str, schema: &str) -> Value {
    json!({"@odata.type": format!("Microsoft.Dynamics.CRM.{kind}AttributeMetadata"),
           "SchemaName": schema, "DisplayName": label(schema)})
}

async fn every_column_type_can_be_added(s: TestServer) {
    create_table(&s, project_body()).await;
    let mut picklist = attribute("Picklist", "new_Phase");
    picklist["OptionSet"] = json!({"@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata", "IsGlobal": false,
        "Options": [{"Value": 100000000, "Label": label("Plan")}, {"Value": 100000001, "Label": label("Build")}]});
    let mut text = attribute("String", "new_Code");
    text["MaxLength"] = json!(20);
    let columns = [
        (text, "String"),
        (attribute("Memo", "new_Notes"), "Memo"),
        (attribute("Integer", "new_Size"), "Integer"),
        (attribute("Decimal", "new_Ratio"), "Decimal"),
        (attribute("Money", "new_Cost"), "Money"),
        (attribute("Boolean", "new_Done"), "Boolean"),
        (attribute("DateTime", "new_Due"), "DateTime"),
        (picklist, "Picklist"),
        (
            attribute("UniqueIdentifier", "new_External"),
            "Uniqueidentifier",
        ),
    ];
    for (body, _) in &columns {
        let entity_id = add(&s, "new_project", body.clone()).await;
        assert!(entity_id.contains("/Attributes("), "{entity_id}");
    }
    let all = ok(
        &s,
        &format!(
            "{PROJECT}/Attributes?$select=LogicalName,SchemaName,AttributeType,IsCustomAttribute"
        ),
    )
    .await;
    for (body, ty) in &columns {
        let schema = body["SchemaName"].as_str().unwrap();
        let a = named(&all, &schema.to_lowercase());
        assert_eq!(a["AttributeType"], *ty, "{schema}");
        assert_eq!(a["SchemaName"], schema);
        assert_eq!(a["IsCustomAttribute"], true);
    }
    let options = ok(&s, &format!("{PROJECT}/Attributes(LogicalName='new_phase')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet($select=Options)")).await;
    assert_eq!(options["OptionSet"]["Options"][1]["Value"], 100000001);

    let id = s
        .create(
            "new_projects",
            json!({"new_name": "All", "new_code": "C-1", "new_notes": "long", "new_size": 3, "new_ratio": 0.5,
                   "new_cost": 9.99, "new_done": true, "new_due": "2026-01-02T03:04:05Z", "new_phase": 100000001,
                   "new_external": "6d81597f-0f9f-e711-8122-000d3aa2331c"}),
        )
        .await;
    let row = ok(
        &s,
        &format!("new_projects({id})?$select=new_code,new_size,new_done,new_phase,new_due"),
    )
    .await;
    assert_eq!(row["new_code"], "C-1");
    assert_eq!(row["new_size"], 3);
    assert_eq!(row["new_done"], true);
    assert_eq!(row["new_phase"], 100000001);
    assert_eq!(row["new_due"], "2026-01-02T03:04:05Z");
    let (status, body) = s
        .patch(
            &format!("new_projects({id})"),
            json!({"new_code": "x".repeat(21)}),
        )
        .await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);

    // Columns on a built-in table, too.
    add(&s, "account", attribute("Integer", "new_Rank")).await;
    let account = s
        .create("accounts", json!({"name": "Ranked", "new_rank": 7}))
        .await;
    let row = ok(&s, &format!("accounts({account})?$select=new_rank")).await;
    assert_eq!(row["new_rank"], 7);

    let (status, _, body) = s
        .post(
            &format!("{PROJECT}/Attributes"),
            attribute("Image", "new_Photo"),
        )
        .await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
    let (status, _, body) = s
        .post(
            &format!("{PROJECT}/Attributes"),
            attribute("Integer", "new_Size"),
        )
        .await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "0x80040237");
    let (status, _, body) = s
        .post(
            "EntityDefinitions(LogicalName='sdkmessageprocessingstep')/Attributes",
            attribute("Integer", "new_X"),
        )
        .await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
}

async fn columns_can_be_changed_and_removed(s: TestServer) {
    create_table(&s, project_body()).await;
    let mut code = attribute("String", "new_Code");
    code["MaxLength"] = json!(10);
    add(&s, "new_project", code).await;
    // What Microsoft's Python client does: GET the full definition, PUT it back changed.
    let path = format!("{PROJECT}/Attributes(LogicalName='new_code')/Microsoft.Dynamics.CRM.StringAttributeMetadata");
    let mut full = ok(&s, &path).await;
    let id = full["MetadataId"].as_str().unwrap().to_string();
    full["MaxLength"] = json!(40);
    full["DisplayName"] = label("Project code");
    full["RequiredLevel"] = json!({"Value": "ApplicationRequired"});
    let put = format!("{PROJECT}/Attributes({id})");
    let (status, _, body) = s.send(s.request(Method::PUT, &put).json(&full)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let changed = ok(&s, &path).await;
    assert_eq!(changed["MaxLength"], 40);
    assert_eq!(
        changed["DisplayName"]["UserLocalizedLabel"]["Label"],
        "Project code"
    );
    assert_eq!(changed["RequiredLevel"]["Value"], "ApplicationRequired");
    let (status, body) = s
        .patch(&put, json!({"RequiredLevel": {"Value": "None"}}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let row = s
        .create(
            "new_projects",
            json!({"new_name": "P", "new_code": "x".repeat(40)}),
        )
        .await;
    let (status, body) = s
        .patch(
            &put,
            json!({"@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata"}),
        )
        .await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);

    assert_eq!(s.delete(&put).await, StatusCode::NO_CONTENT);
    let (status, body) = s
        .get(&format!("new_projects({row})?$select=new_code"))
        .await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
    let (status, body) = s
        .get(&format!("{PROJECT}/Attributes(LogicalName='new_code')"))
        .await;
    odata_error(status, &body, StatusCode::NOT_FOUND);

    let (status, _, body) = s
        .send(s.request(
            Method::DELETE,
            "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')",
        ))
        .await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("not a custom attribute"), "{message}");
    let (status, _, body) = s
        .send(s.request(
            Method::DELETE,
            &format!("{PROJECT}/Attributes(LogicalName='new_name')"),
        ))
        .await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("primary name"), "{message}");
}

fn relationship_body() -> Value {
    json!({
        "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        "SchemaName": "new_account_new_project",
        "ReferencedEntity": "account",
        "ReferencedAttribute": "accountid",
        "ReferencingEntity": "new_project",
        "CascadeConfiguration": {"Assign": "NoCascade", "Delete": "RemoveLink", "Merge": "NoCascade",
                                 "Reparent": "NoCascade", "Share": "NoCascade", "Unshare": "NoCascade"},
        "Lookup": {"@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", "AttributeType": "Lookup",
                   "SchemaName": "new_AccountId", "DisplayName": label("Account"),
                   "RequiredLevel": {"Value": "None"}}
    })
}

async fn lookups_navigate(s: TestServer) {
    create_table(&s, project_body()).await;
    let (status, headers, body) = s.post("RelationshipDefinitions", relationship_body()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let entity_id = headers["odata-entityid"].to_str().unwrap().to_string();
    let rel = ok(
        &s,
        &format!("RelationshipDefinitions({})", id_of(&entity_id)),
    )
    .await;
    assert_eq!(rel["SchemaName"], "new_account_new_project");
    assert_eq!(rel["ReferencingAttribute"], "new_accountid");
    let lookup = ok(&s, &format!("{PROJECT}/Attributes(LogicalName='new_accountid')/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=Targets")).await;
    assert_eq!(lookup["Targets"], json!(["account"]));

    let account = s.create("accounts", json!({"name": "Acme"})).await;
    let project = s
        .create("new_projects", json!({"new_name": "Linked", "new_AccountId@odata.bind": format!("/accounts({account})")}))
        .await;
    let row = ok(&s, &format!("new_projects({project})?$select=_new_accountid_value&$expand=new_AccountId($select=name)")).await;
    assert_eq!(row["_new_accountid_value"], account.as_str());
    assert_eq!(row["new_AccountId"]["name"], "Acme");
    let from_account = ok(
        &s,
        &format!(
            "accounts({account})?$select=name&$expand=new_account_new_project($select=new_name)"
        ),
    )
    .await;
    assert_eq!(
        from_account["new_account_new_project"][0]["new_name"],
        "Linked"
    );
    let (status, body) = s.get("$metadata").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body
        .as_str()
        .unwrap_or_default()
        .contains(r#"NavigationProperty Name="new_account_new_project""#));

    // The table looked up from elsewhere cannot go; the relationship can.
    let mut other = project_body();
    other["SchemaName"] = json!("new_Task");
    create_table(&s, other).await;
    let mut to_project = relationship_body();
    to_project["SchemaName"] = json!("new_project_new_task");
    to_project["ReferencedEntity"] = json!("new_project");
    to_project["ReferencingEntity"] = json!("new_task");
    to_project["Lookup"]["SchemaName"] = json!("new_ProjectId");
    let (status, _, body) = s.post("RelationshipDefinitions", to_project).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = s.send(s.request(Method::DELETE, PROJECT)).await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("new_task.new_projectid"), "{message}");
    assert_eq!(
        s.delete("RelationshipDefinitions(SchemaName='new_project_new_task')")
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.delete(PROJECT).await, StatusCode::NO_CONTENT);
}

async fn alternate_keys_address_rows(s: TestServer) {
    let (status, body) = s.get("accounts(accountnumber='A-1')").await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("alternate key"), "{message}");
    let first = s
        .create("accounts", json!({"name": "One", "accountnumber": "A-1"}))
        .await;
    let (status, headers, body) = s
        .post(
            "EntityDefinitions(LogicalName='account')/Keys",
            json!({"SchemaName": "new_AccountNumberKey", "DisplayName": label("Account number"), "KeyAttributes": ["accountnumber"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let key_id = id_of(headers["odata-entityid"].to_str().unwrap());
    let keys = ok(&s, "EntityDefinitions(LogicalName='account')/Keys").await;
    assert_eq!(keys["value"][0]["KeyAttributes"], json!(["accountnumber"]));
    assert_eq!(keys["value"][0]["MetadataId"], key_id.as_str());

    let row = ok(&s, "accounts(accountnumber='A-1')?$select=name").await;
    assert_eq!(row["name"], "One");
    assert_eq!(row["accountid"], first.as_str());
    let (status, body) = s
        .patch("accounts(accountnumber='A-1')", json!({"name": "One!"}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        ok(&s, &format!("accounts({first})?$select=name")).await["name"],
        "One!"
    );
    // Upsert: a key no row has creates the row, with the key's value.
    let (status, headers, body) = s
        .send(
            s.request(Method::PATCH, "accounts(accountnumber='A-2')")
                .json(&json!({"name": "Two"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(headers.get("odata-entityid").is_some());
    let two = ok(
        &s,
        "accounts(accountnumber='A-2')?$select=name,accountnumber",
    )
    .await;
    assert_eq!(two["name"], "Two");
    assert_eq!(two["accountnumber"], "A-2");
    // The key is unique.
    let (status, _, body) = s
        .post("accounts", json!({"name": "Again", "accountnumber": "A-2"}))
        .await;
    assert_eq!(body["error"]["code"], "0x80040237", "{status} {body}");
    assert_eq!(
        s.delete("accounts(accountnumber='A-2')").await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = s.get("accounts(accountnumber='A-2')").await;
    let message = odata_error(status, &body, StatusCode::NOT_FOUND);
    assert!(
        message.contains("specified key values does not exist"),
        "{message}"
    );
    // Not on values that already repeat; and it goes away.
    s.create("accounts", json!({"name": "Dup", "telephone1": "1"}))
        .await;
    s.create("accounts", json!({"name": "Dup", "telephone1": "1"}))
        .await;
    let (status, _, body) = s
        .post(
            "EntityDefinitions(LogicalName='account')/Keys",
            json!({"SchemaName": "new_PhoneKey", "KeyAttributes": ["telephone1"]}),
        )
        .await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("same values"), "{message}");
    assert_eq!(
        s.delete(&format!(
            "EntityDefinitions(LogicalName='account')/Keys({key_id})"
        ))
        .await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = s.get("accounts(accountnumber='A-1')").await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
}

both_backends!(
    every_column_type_can_be_added,
    columns_can_be_changed_and_removed,
    lookups_navigate,
    alternate_keys_address_rows,
);
