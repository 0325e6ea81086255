//! A custom table's own labels changed over HTTP on both stores, as
//! Dataverse clients change them: `PUT EntityDefinitions(...)` with the
//! whole `EntityMetadata` and `MSCRM.MergeLabels: true` (and `PATCH`),
//! immutable properties and built-in tables refused with an OData 400,
//! the change kept across a restart and seen on a second PostgreSQL node.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{odata_error, Backend, TestServer};

use super::create::{create_table, label, project_body};
use super::ok;

const PROJECT: &str = "EntityDefinitions(LogicalName='new_project')";

fn text_of(table: &Value, property: &str) -> Value {
    table[property]["UserLocalizedLabel"]["Label"].clone()
}

/// `PUT` `body` to `path` with `MSCRM.MergeLabels: true`.
async fn put_merged(s: &TestServer, path: &str, body: &Value) -> (StatusCode, Value) {
    let (status, _, body) = s
        .send(
            s.request(Method::PUT, path)
                .header("MSCRM.MergeLabels", "true")
                .json(body),
        )
        .await;
    (status, body)
}

/// What a client does: GET the whole definition, change its labels, PUT
/// it back.
async fn relabel(s: &TestServer) {
    let mut full = ok(s, PROJECT).await;
    full["DisplayName"] = label("Venture");
    full["DisplayCollectionName"] = label("Ventures");
    full["Description"] = label("What the team works on");
    let (status, body) = put_merged(s, PROJECT, &full).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn assert_relabelled(s: &TestServer) {
    let table = ok(s, PROJECT).await;
    assert_eq!(text_of(&table, "DisplayName"), "Venture", "{table}");
    assert_eq!(text_of(&table, "DisplayCollectionName"), "Ventures");
    assert_eq!(text_of(&table, "Description"), "What the team works on");
    assert_eq!(table["LogicalName"], "new_project");
}

async fn a_custom_table_can_be_relabelled(s: TestServer) {
    create_table(&s, project_body()).await;
    let created = ok(&s, PROJECT).await;
    assert_eq!(text_of(&created, "Description"), "Projects of the test");
    relabel(&s).await;
    assert_relabelled(&s).await;
    let listed = ok(
        &s,
        "EntityDefinitions?$select=LogicalName,DisplayName&$filter=LogicalName%20eq%20'new_project'",
    )
    .await;
    assert_eq!(text_of(&listed["value"][0], "DisplayName"), "Venture");

    // Merged labels: a label sent without text keeps the one there is.
    let mut full = ok(&s, PROJECT).await;
    full["Description"] = json!({"LocalizedLabels": [], "UserLocalizedLabel": null});
    let (status, body) = put_merged(&s, PROJECT, &full).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        text_of(&ok(&s, PROJECT).await, "Description"),
        "What the team works on"
    );
    // Without MergeLabels it clears it (the description is then empty).
    let (status, _, body) = s.send(s.request(Method::PUT, PROJECT).json(&full)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let cleared = ok(&s, PROJECT).await;
    assert_eq!(cleared["Description"]["LocalizedLabels"], json!([]));
    assert_eq!(text_of(&cleared, "DisplayName"), "Venture");

    // PATCH with only what changes; by MetadataId too.
    let id = cleared["MetadataId"]
        .as_str()
        .expect("MetadataId")
        .to_string();
    let (status, body) = s
        .patch(
            &format!("EntityDefinitions({id})"),
            json!({"DisplayName": label("Undertaking")}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        text_of(&ok(&s, PROJECT).await, "DisplayName"),
        "Undertaking"
    );

    // The data API is unchanged by a relabel.
    let row = s
        .create("new_projects", json!({"new_name": "Still here"}))
        .await;
    let got = ok(&s, &format!("new_projects({row})?$select=new_name")).await;
    assert_eq!(got["new_name"], "Still here");
    let (status, _, _) = s.send(s.request(Method::GET, "$metadata")).await;
    assert_eq!(status, StatusCode::OK);

    // Names and shape cannot change: a clear 400 naming the property.
    for (property, value) in [
        ("SchemaName", json!("new_Venture")),
        ("LogicalName", json!("new_venture")),
        ("EntitySetName", json!("new_ventures")),
        ("PrimaryNameAttribute", json!("new_budget")),
        ("OwnershipType", json!("OrganizationOwned")),
        ("IsActivity", json!(true)),
    ] {
        let mut full = ok(&s, PROJECT).await;
        full[property] = value;
        let (status, body) = put_merged(&s, PROJECT, &full).await;
        let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
        assert!(message.contains(property), "{property}: {message}");
    }
    assert_eq!(
        ok(&s, &format!("{PROJECT}?$select=SchemaName")).await["SchemaName"],
        "new_Project"
    );
    let (status, body) = s
        .patch(PROJECT, json!({"DisplayName": "not a label"}))
        .await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);

    // Built-in tables are not the API's to relabel.
    let mut account = ok(&s, "EntityDefinitions(LogicalName='account')").await;
    account["DisplayName"] = label("Customer");
    let (status, body) = put_merged(&s, "EntityDefinitions(LogicalName='account')", &account).await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("system table"), "{message}");
    let account = ok(&s, "EntityDefinitions(LogicalName='account')").await;
    assert_eq!(text_of(&account, "DisplayName"), "Account");
    let (status, body) = s
        .patch(
            "EntityDefinitions(LogicalName='new_nosuch')",
            json!({"DisplayName": label("X")}),
        )
        .await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
}

both_backends!(a_custom_table_can_be_relabelled);

/// A relabel is seen at once on a second node (PostgreSQL) and is kept
/// across a restart (both stores).
async fn a_relabel_reaches_other_nodes_and_survives_a_restart(backend: Backend, test: &str) {
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
    create_table(&first, project_body()).await;
    let database_url = first.state.config.store.database_url.clone();
    if pg {
        let url = database_url.clone();
        let other =
            TestServer::start_with(Backend::Postgres, &format!("{test}::other"), move |c| {
                c.store.database_url = url;
            })
            .await
            .expect("second node");
        // The second node has the table (with its first labels) loaded.
        let before = ok(&other, PROJECT).await;
        assert_eq!(text_of(&before, "DisplayName"), "Project");
        relabel(&first).await;
        assert_relabelled(&other).await;
    } else {
        relabel(&first).await;
    }
    drop(first);
    let restarted = super::restart(pg, test, dir, database_url, |_| {}).await;
    assert_relabelled(&restarted).await;
}

both_backends!(starts_own: a_relabel_reaches_other_nodes_and_survives_a_restart);
