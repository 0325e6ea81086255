//! Metadata calls of npm `dynamics-web-api`, unchanged, against a herald on
//! HTTPS: `retrieveEntity` (by LogicalName and MetadataId),
//! `retrieveEntities` with `$filter`, `retrieveAttributes` with a type cast,
//! `createEntity`, `updateEntity` (the whole definition, `mergeLabels`),
//! `createAttribute` (a choice, read back with `$expand=OptionSet`),
//! `createRelationship` (one-to-many with its lookup, many-to-many) with
//! `retrieveRelationships` and a cast, and `retrieveGlobalOptionSet(s)`.
//! The test checks what the program printed and what herald holds.

use reqwest::StatusCode;

use super::harness::{https_server, Clients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamics_web_api_metadata_calls_over_https() {
    let test = "clients::metadata::dynamics_web_api";
    let Some(clients) = Clients::installed(test).await else {
        return;
    };
    let s = https_server(test).await;
    let out = clients.node(&s, "metadata.mjs").await;

    let account = out.step("retrieveEntity");
    assert_eq!(account["logical"], "account");
    assert_eq!(account["set"], "accounts");
    assert_eq!(account["primary"], "accountid");
    assert_eq!(account["byId"], "account");

    let entities = out.step("retrieveEntities");
    assert_eq!(entities["hasAccount"], true);
    assert_eq!(entities["anyCustom"], false);
    assert!(
        entities["count"].as_u64().is_some_and(|n| n > 10),
        "{entities}"
    );

    let strings = out.step("retrieveAttributes");
    assert!(strings["name"].as_u64().is_some_and(|n| n > 0), "{strings}");
    assert_eq!(strings["allStrings"], true);

    let created = out.step("createEntity");
    assert_eq!(created["set"], "new_gizmos");
    assert_eq!(created["display"], "Gizmo");
    let id = created["metadataId"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 36, "{created}");

    let updated = out.step("updateEntity");
    assert_ne!(
        updated["result"], false,
        "updateEntity was refused: {updated}"
    );
    assert_eq!(updated["display"], "Widget");
    assert_eq!(updated["collection"], "Widgets");
    assert_eq!(updated["description"], "Gizmos of the node test");
    assert_eq!(updated["schema"], "new_Gizmo");

    let attribute = out.step("createAttribute");
    assert_eq!(
        attribute["options"],
        serde_json::json!(["Small", "Large"]),
        "{attribute}"
    );

    let relationships = out.step("createRelationship");
    assert_eq!(
        relationships["oneToMany"],
        serde_json::json!([{"schema": "new_account_new_gizmo", "attribute": "new_accountid"}])
    );
    assert_eq!(
        relationships["nn"],
        serde_json::json!([{"schema": "new_gizmo_contact", "intersect": "new_gizmo_contact", "one": "new_gizmo", "two": "contact"}])
    );

    let sets = out.step("retrieveGlobalOptionSets");
    assert_eq!(sets["count"], 0);
    assert_eq!(sets["missing"]["status"], 404, "{sets}");

    // What the client made is there.
    let (status, body) = s
        .get("EntityDefinitions(LogicalName='new_gizmo')?$select=DisplayName")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["DisplayName"]["UserLocalizedLabel"]["Label"], "Widget");
    let (status, body) = s.get("new_gizmo_contactset").await;
    assert_eq!(status, StatusCode::OK, "the intersect table: {body}");
}
