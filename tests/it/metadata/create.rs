//! Tables created at run time (`POST EntityDefinitions`, `CreateEntities`,
//! `DELETE EntityDefinitions(...)`) over HTTP on both stores: usable at
//! once through the data API, FetchXML, `$metadata` and steps (a webhook
//! step on the new table is delivered), refused when the name has no
//! prefix or is taken, kept across a restart, and deleted only when no
//! step or lookup points at it.

use std::time::Duration;

use herald_testkit::receiver::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{enc, odata_error, register, Backend, TestServer};

use super::ok;

pub(super) fn label(text: &str) -> Value {
    json!({"@odata.type": "Microsoft.Dynamics.CRM.Label",
           "LocalizedLabels": [{"@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", "Label": text, "LanguageCode": 1033}]})
}

/// The body Dataverse's documentation creates a table with.
pub(super) fn project_body() -> Value {
    json!({
        "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
        "SchemaName": "new_Project",
        "DisplayName": label("Project"),
        "DisplayCollectionName": label("Projects"),
        "Description": label("Projects of the test"),
        "OwnershipType": "UserOwned",
        "HasActivities": false,
        "HasNotes": false,
        "IsActivity": false,
        "Attributes": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "new_Name",
                "AttributeType": "String",
                "RequiredLevel": {"Value": "None"},
                "MaxLength": 100,
                "FormatName": {"Value": "Text"},
                "DisplayName": label("Project name"),
                "IsPrimaryName": true
            },
            {
                "@odata.type": "Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
                "SchemaName": "new_Budget",
                "DisplayName": label("Budget")
            }
        ]
    })
}

/// `POST EntityDefinitions`; returns the `OData-EntityId`.
pub(super) async fn create_table(s: &TestServer, body: Value) -> String {
    let (status, headers, b) = s.post("EntityDefinitions", body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "create table: {b}");
    headers
        .get("odata-entityid")
        .and_then(|v| v.to_str().ok())
        .expect("OData-EntityId")
        .to_string()
}

/// The id inside the last `(...)` of an `OData-EntityId`.
pub(super) fn id_of(entity_id: &str) -> String {
    entity_id
        .rsplit('(')
        .next()
        .unwrap_or_default()
        .trim_end_matches(')')
        .to_string()
}

async fn a_created_table_is_usable_at_once(s: TestServer) {
    let entity_id = create_table(&s, project_body()).await;
    let table = ok(&s, "EntityDefinitions(LogicalName='new_project')").await;
    assert_eq!(
        entity_id,
        format!(
            "{}/EntityDefinitions({})",
            s.api,
            table["MetadataId"].as_str().unwrap()
        )
    );
    assert_eq!(table["SchemaName"], "new_Project");
    assert_eq!(table["EntitySetName"], "new_projects");
    assert_eq!(table["LogicalCollectionName"], "new_projects");
    assert_eq!(table["PrimaryIdAttribute"], "new_projectid");
    assert_eq!(table["PrimaryNameAttribute"], "new_name");
    assert_eq!(table["IsCustomEntity"], true);
    assert_eq!(table["OwnershipType"], "UserOwned");
    assert_eq!(
        table["DisplayCollectionName"]["UserLocalizedLabel"]["Label"],
        "Projects"
    );
    assert!(table["ObjectTypeCode"]
        .as_i64()
        .is_some_and(|c| c >= 20_000));
    let name = ok(&s, "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_name')/Microsoft.Dynamics.CRM.StringAttributeMetadata").await;
    assert_eq!(name["SchemaName"], "new_Name");
    assert_eq!(name["IsPrimaryName"], true);
    assert_eq!(name["IsCustomAttribute"], true);
    assert_eq!(name["MaxLength"], 100);
    assert_eq!(
        name["DisplayName"]["UserLocalizedLabel"]["Label"],
        "Project name"
    );
    let resolved = ok(
        &s,
        &format!(
            "EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute&$filter={}",
            enc("LogicalName eq 'new_project'")
        ),
    )
    .await;
    assert_eq!(resolved["value"][0]["EntitySetName"], "new_projects");

    // A webhook step on the new table (its sdkmessagefilter rows exist).
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "projects", &rx.url(), 4, "key").await;
    let step = register::step(&s, &hook, "Create", "new_project", 40, 1, json!({})).await;

    let id = s
        .create(
            "new_projects",
            json!({"new_name": "Apollo", "new_budget": 12.5}),
        )
        .await;
    let row = ok(
        &s,
        &format!("new_projects({id})?$select=new_name,new_budget,statecode"),
    )
    .await;
    assert_eq!(row["new_name"], "Apollo");
    assert_eq!(row["new_budget"], 12.5);
    assert_eq!(row["statecode"], 0);
    let fetch = enc("<fetch><entity name='new_project'><attribute name='new_name'/><filter><condition attribute='new_name' operator='eq' value='Apollo'/></filter></entity></fetch>");
    let fetched = ok(&s, &format!("new_projects?fetchXml={fetch}")).await;
    assert_eq!(
        fetched["value"].as_array().map(Vec::len),
        Some(1),
        "{fetched}"
    );
    let got = rx.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "the async step on the new table ran");
    let context: Value = serde_json::from_slice(&got[0].body).expect("context JSON");
    assert_eq!(context["PrimaryEntityName"], "new_project");

    let (status, body) = s.get("$metadata").await;
    assert_eq!(status, StatusCode::OK);
    let csdl = body.as_str().unwrap_or_default();
    assert!(
        csdl.contains(r#"<EntityType Name="new_project" BaseType="mscrm.crmbaseentity">"#),
        "$metadata has the table"
    );
    assert!(
        csdl.contains(r#"<EntitySet Name="new_projects""#),
        "$metadata has its set"
    );

    // Not while a step is registered on it.
    let path = format!("EntityDefinitions({})", id_of(&entity_id));
    let (status, _, body) = s.send(s.request(Method::DELETE, &path)).await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("step"), "{message}");
    assert_eq!(
        s.delete(&format!("sdkmessageprocessingsteps({step})"))
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.delete(&path).await, StatusCode::NO_CONTENT);
    let (status, body) = s.get("EntityDefinitions(LogicalName='new_project')").await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = s.get("new_projects").await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    let filters = ok(
        &s,
        &format!(
            "sdkmessagefilters?$filter={}",
            enc("primaryobjecttypecode eq 'new_project'")
        ),
    )
    .await;
    assert_eq!(
        filters["value"].as_array().map(Vec::len),
        Some(0),
        "its filters went with it"
    );
    // And it can be made again.
    create_table(&s, project_body()).await;
    let (status, body) = s.get("new_projects").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn bad_tables_are_refused(s: TestServer) {
    let mut no_prefix = project_body();
    no_prefix["SchemaName"] = json!("Project");
    let (status, _, body) = s.post("EntityDefinitions", no_prefix).await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("prefix"), "{message}");

    let mut no_primary = project_body();
    no_primary["Attributes"][0]["IsPrimaryName"] = json!(false);
    let (status, _, body) = s.post("EntityDefinitions", no_primary).await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("primary name"), "{message}");

    create_table(&s, project_body()).await;
    let (status, _, body) = s.post("EntityDefinitions", project_body()).await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "0x80040237", "{body}");
    assert!(message.contains("already exists"), "{message}");

    let account = ok(
        &s,
        "EntityDefinitions(LogicalName='account')?$select=MetadataId",
    )
    .await;
    let path = format!(
        "EntityDefinitions({})",
        account["MetadataId"].as_str().unwrap()
    );
    let (status, _, body) = s.send(s.request(Method::DELETE, &path)).await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("system table"), "{message}");
    let (status, _, body) = s
        .send(
            s.request(Method::POST, "EntityDefinitions(LogicalName='new_project')")
                .json(&json!({})),
        )
        .await;
    odata_error(status, &body, StatusCode::METHOD_NOT_ALLOWED);
}

/// Microsoft's Python client creates tables with the `CreateEntities`
/// action and `Complex…` attribute types.
async fn create_entities_makes_tables(s: TestServer) {
    let mut complex = project_body();
    complex["@odata.type"] = json!("Microsoft.Dynamics.CRM.ComplexEntityMetadata");
    complex["Attributes"][0]["@odata.type"] =
        json!("Microsoft.Dynamics.CRM.ComplexStringAttributeMetadata");
    complex["Attributes"][1]["@odata.type"] =
        json!("Microsoft.Dynamics.CRM.ComplexDecimalAttributeMetadata");
    let (status, _, body) = s
        .post("CreateEntities", json!({"Entities": [complex]}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let budget = ok(&s, "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_budget')?$select=AttributeType").await;
    assert_eq!(budget["AttributeType"], "Decimal");
}

both_backends!(
    a_created_table_is_usable_at_once,
    bad_tables_are_refused,
    create_entities_makes_tables,
    table_changes_need_metadata_privileges,
);

/// A created table (its rows, its MetadataId) is there after a restart.
async fn a_created_table_survives_a_restart(backend: Backend, test: &str) {
    let data = tempfile::tempdir().expect("data dir");
    let dir = data.path().to_path_buf();
    let first_dir = dir.clone();
    let pg = matches!(backend, Backend::Postgres);
    let Some(first) = TestServer::start_with(backend, &format!("{test}::first"), move |c| {
        c.server.data_dir = first_dir;
    })
    .await
    else {
        return;
    };
    let entity_id = create_table(&first, project_body()).await;
    let row = first
        .create("new_projects", json!({"new_name": "Kept"}))
        .await;
    let database_url = first.state.config.store.database_url.clone();
    drop(first);
    let restarted = super::restart(pg, test, dir, database_url, |_| {}).await;
    let table = ok(
        &restarted,
        "EntityDefinitions(LogicalName='new_project')?$select=MetadataId",
    )
    .await;
    assert_eq!(
        table["MetadataId"].as_str(),
        Some(id_of(&entity_id).as_str())
    );
    let kept = ok(&restarted, &format!("new_projects({row})?$select=new_name")).await;
    assert_eq!(kept["new_name"], "Kept");
    let filters = ok(
        &restarted,
        &format!(
            "sdkmessagefilters?$filter={}",
            enc("primaryobjecttypecode eq 'new_project'")
        ),
    )
    .await;
    assert!(filters["value"].as_array().is_some_and(|v| !v.is_empty()));
}

both_backends!(starts_own: a_created_table_survives_a_restart);

/// Two nodes on one PostgreSQL database: a table made on one is used on
/// the other at once (no restart, no wait), and two nodes creating the
/// same table at once make one table and one clear error.
async fn a_table_made_on_one_node_is_used_on_another(backend: Backend, test: &str) {
    if !matches!(backend, Backend::Postgres) {
        return; // one process owns a SQLite file
    }
    let Some(a) = TestServer::start(Backend::Postgres, &format!("{test}::a")).await else {
        return;
    };
    let url = a.state.config.store.database_url.clone();
    let b = TestServer::start_with(Backend::Postgres, &format!("{test}::b"), move |c| {
        c.store.database_url = url;
    })
    .await
    .expect("second node");
    // b has served a request (its schema is loaded) before a changes it.
    let (status, _) = b.get("new_projects").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    create_table(&a, project_body()).await;
    let id = b
        .create("new_projects", json!({"new_name": "Made on a"}))
        .await;
    let row = ok(&a, &format!("new_projects({id})?$select=new_name")).await;
    assert_eq!(row["new_name"], "Made on a");
    let on_b = ok(
        &b,
        "EntityDefinitions(LogicalName='new_project')?$select=EntitySetName",
    )
    .await;
    assert_eq!(on_b["EntitySetName"], "new_projects");

    // A column added on b is written through a at once.
    let (status, _, body) = b
        .post(
            "EntityDefinitions(LogicalName='new_project')/Attributes",
            json!({"@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata", "SchemaName": "new_Size"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = a
        .patch(&format!("new_projects({id})"), json!({"new_size": 3}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Both nodes create the same table at once.
    let mut other = project_body();
    other["SchemaName"] = json!("new_Twin");
    other["Attributes"] = json!([{
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "SchemaName": "new_Name", "IsPrimaryName": true
    }]);
    let (first, second) = tokio::join!(
        a.post("EntityDefinitions", other.clone()),
        b.post("EntityDefinitions", other)
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::BAD_REQUEST]);
    let refused = if first.0 == StatusCode::BAD_REQUEST {
        &first.2
    } else {
        &second.2
    };
    assert_eq!(refused["error"]["code"], "0x80040237", "{refused}");
    let twins = ok(
        &a,
        &format!(
            "EntityDefinitions?$select=LogicalName&$filter={}",
            enc("LogicalName eq 'new_twin'")
        ),
    )
    .await;
    assert_eq!(twins["value"].as_array().map(Vec::len), Some(1));
    let (status, body) = b.get("new_twins").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

both_backends!(starts_own: a_table_made_on_one_node_is_used_on_another);

/// A Basic User has no metadata privileges; a System Customizer does; the
/// new table's own privileges exist at once (granted as at start).
async fn table_changes_need_metadata_privileges(s: TestServer) {
    let mut keys = Vec::new();
    for (name, roles) in [
        ("basic", json!([])),
        ("customizer", json!(["System Customizer"])),
    ] {
        let user = s
            .create(
                "systemusers",
                json!({"firstname": name, "lastname": "Tester", "domainname": format!("{name}@example.com")}),
            )
            .await;
        let mut body = json!({"user": user, "name": name});
        if roles.as_array().is_some_and(|r| !r.is_empty()) {
            body["roles"] = roles;
        }
        let (status, _, added) = s
            .send(
                s.request(Method::POST, &format!("{}/api/herald/keys", s.base))
                    .json(&body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{added}");
        keys.push(added["key"].as_str().unwrap_or_default().to_string());
    }
    let as_key = |key: &str, method: Method, path: &str| {
        s.client
            .request(method, format!("{}/{path}", s.api))
            .bearer_auth(key.to_string())
    };
    let (status, _, body) = s
        .send(as_key(&keys[0], Method::POST, "EntityDefinitions").json(&project_body()))
        .await;
    let message = odata_error(status, &body, StatusCode::FORBIDDEN);
    assert!(message.contains("prvCreateEntity"), "{message}");
    let (status, _, body) = s
        .send(as_key(&keys[1], Method::POST, "EntityDefinitions").json(&project_body()))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The new table's privileges exist at once: the admin (a System
    // Administrator) writes to it.
    s.create("new_projects", json!({"new_name": "By the admin"}))
        .await;
}
