//! Table calls of Microsoft's Python `PowerPlatform-Dataverse-Client`,
//! unchanged, against a herald on HTTPS: `tables.create` (through the
//! `CreateEntities` action), `get`, `add_columns`, `create_lookup_field`,
//! `create_alternate_key`, records in the new table,
//! `create_many_to_many_relationship` (with `get_relationship` and
//! `delete_relationship`), `remove_columns` and `delete`. The test checks what the program printed and what herald
//! holds afterwards.

use reqwest::StatusCode;

use super::harness::{https_server, Clients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerplatform_dataverse_client_table_calls_over_https() {
    let test = "clients::tables::powerplatform_dataverse_client";
    let Some(clients) = Clients::installed(test).await else {
        return;
    };
    let s = https_server(test).await;
    let out = clients.python(&s, "tables.py").await;
    let created = out.step("create");
    assert_eq!(created["logical"], "new_project");
    assert_eq!(created["entity_set"], "new_projects");
    assert_eq!(created["primary_name"], "new_name");
    assert_eq!(created["primary_id"], "new_projectid");
    assert_eq!(out.step("get")["schema_name"], "new_Project");
    assert_eq!(
        out.step("add_columns")["added"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(out.step("lookup")["lookup"], "new_AccountId");
    let record = out.step("record");
    assert_eq!(record["name"], "Apollo");
    assert_eq!(
        record["phase"], 100000001,
        "the label Build became its value"
    );
    assert_eq!(record["budget"], 12.5);
    assert_eq!(record["account"], record["expected_account"]);
    let m2m = out.step("many_to_many");
    assert_eq!(m2m["schema"], "new_project_contact");
    assert_eq!(m2m["type"], "many_to_many");
    assert!(m2m["id"].as_str().is_some_and(|id| id.len() == 36), "{m2m}");
    assert_eq!(m2m["found_id"], m2m["id"], "get_relationship finds it");
    assert_eq!(m2m["found_type"], "many_to_many");
    assert!(out.step("delete_relationship")["after"].is_null());
    let (status, _) = s
        .get("EntityDefinitions(LogicalName='new_project_contact')")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the intersect table is gone");
    assert_eq!(
        out.step("remove_columns")["removed"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(
        out.step("delete")["after"].is_null(),
        "{:?}",
        out.step("delete")
    );
    let (status, _) = s.get("EntityDefinitions(LogicalName='new_project')").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the table is gone");
}
