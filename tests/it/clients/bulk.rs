//! The calls real integration code leans on, sent by the real clients
//! unchanged over HTTPS (issue 13): npm `dynamics-web-api`'s `executeBatch`
//! (a change set with a Content-ID reference, a GET beside it, and a change
//! set that fails and leaves nothing), `fetchAll` over 5 FetchXML pages and
//! `associateSingleValued` / `disassociateSingleValued` (`$ref`); Microsoft's
//! `PowerPlatform-Dataverse-Client`'s `records.create` with a list
//! (CreateMultiple), `records.update` with a list (UpdateMultiple),
//! `query.sql`, FetchXML `execute_pages` and `records.delete` with a list
//! (BulkDelete, a System Job). Webhook steps watch the writes: each bulk
//! record fires its per-record step, as a single write does.

use std::time::Duration;

use herald_testkit::Receiver;
use serde_json::{json, Value};

use super::harness::{https_server, Clients};
use crate::common::{eventually, register, TestServer};

/// Async Create, Update and Delete steps on `table`, delivered to `rx`.
async fn watch(s: &TestServer, rx: &Receiver, table: &str) {
    let hook = register::webhook(
        s,
        &format!("{table}-hook"),
        &rx.url(),
        5,
        r#"<settings><setting name="X-Client-Test" value="1" /></settings>"#,
    )
    .await;
    for message in ["Create", "Update", "Delete"] {
        register::step(s, &hook, message, table, 40, 1, json!({})).await;
    }
}

/// How many deliveries of `message` the receiver has, once `total` arrived.
async fn delivered(rx: &Receiver, total: usize, message: &str) -> usize {
    rx.wait_for(total, Duration::from_secs(30))
        .await
        .iter()
        .filter(|c| c.body_json()["MessageName"] == message)
        .count()
}

async fn names(s: &TestServer, filter: &str) -> Vec<String> {
    let (_, b) = s
        .get(&format!(
            "accounts?$select=name&$orderby=name&$filter={filter}"
        ))
        .await;
    b["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamics_web_api_batch_fetch_all_and_single_valued_refs() {
    let test = "clients::bulk::dynamics_web_api";
    let Some(clients) = Clients::installed(test).await else {
        return;
    };
    let s = https_server(test).await;
    let rx = Receiver::start().await;
    watch(&s, &rx, "account").await;
    let out = clients.node(&s, "batch.mjs").await;

    let batch = out.step("executeBatch");
    assert_eq!(batch["count"], 3, "two creates and a GET: {batch}");
    assert_eq!(
        batch["contactParent"], batch["account"],
        "the contact bound by Content-ID: {batch}"
    );
    assert_eq!(
        batch["retrieved"],
        json!(["Batch Co (node)"]),
        "the GET after the change set sees it"
    );

    let rolled_back = out.step("executeBatchRolledBack");
    assert_eq!(
        rolled_back["responses"],
        json!([{"status": 404, "code": "0x80040217"}]),
        "a failed change set answers with the failing request alone: {rolled_back}"
    );
    assert_eq!(
        rolled_back["never"], 0,
        "nothing of the failed change set was written"
    );
    assert!(names(&s, "name eq 'Never (node)'").await.is_empty());

    let fetched = out.step("fetchAll");
    assert_eq!(
        fetched["names"],
        json!([
            "Fetch 1 (node)",
            "Fetch 2 (node)",
            "Fetch 3 (node)",
            "Fetch 4 (node)",
            "Fetch 5 (node)"
        ]),
        "every row over 5 pages of 1: {fetched}"
    );

    let refs = out.step("associateSingleValued");
    assert_eq!(
        refs["parent"], refs["account"],
        "associateSingleValued set the lookup: {refs}"
    );
    assert_eq!(
        refs["after"],
        Value::Null,
        "disassociateSingleValued cleared it: {refs}"
    );

    // Account creates: Batch Co, 5 Fetch, Parent = 7 (none from the failed
    // change set); each is one async Create delivery.
    assert_eq!(delivered(&rx, 7, "Create").await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerplatform_dataverse_client_bulk_sql_fetchxml_and_bulk_delete() {
    let test = "clients::bulk::powerplatform_dataverse_client";
    let Some(clients) = Clients::installed(test).await else {
        return;
    };
    let s = https_server(test).await;
    let rx = Receiver::start().await;
    watch(&s, &rx, "account").await;
    let out = clients.python(&s, "bulk.py").await;

    let ids: Vec<String> = out.step("createMultiple")["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("an id").to_string())
        .collect();
    assert_eq!(ids.len(), 5, "CreateMultiple answered every id");

    let updated = out.step("updateMultiple");
    assert_eq!(
        updated["telephones"],
        json!(vec!["555-0142"; 5]),
        "broadcast UpdateMultiple: {updated}"
    );
    assert_eq!(
        updated["employees"],
        json!([20, 30, 10, 10, 10]),
        "paired UpdateMultiple: {updated}"
    );

    let sql = out.step("sql");
    assert_eq!(
        sql["names"],
        json!(["Bulk 1 (python)", "Bulk 2 (python)"]),
        "{sql}"
    );
    assert_eq!(sql["employees"], json!([20, 30]), "{sql}");
    assert_eq!(
        out.step("sqlAggregate")["rows"],
        json!([{"n": 5, "employees": 80}])
    );

    let pages = out.step("fetchxmlPages");
    assert_eq!(
        pages["pages"],
        json!([
            ["Bulk 1 (python)", "Bulk 2 (python)"],
            ["Bulk 3 (python)", "Bulk 4 (python)"],
            ["Bulk 5 (python)"]
        ]),
        "FetchXML pages of 2 over 5 records: {pages}"
    );

    // records.delete with a list is a BulkDelete: its job deletes the three
    // records through the pipeline (a Delete step fires for each).
    let job = out.step("bulkDelete")["job"]
        .as_str()
        .expect("a JobId")
        .to_string();
    let done = eventually(
        Duration::from_secs(30),
        "the bulk delete completes",
        || async {
            let (_, b) = s.get(&format!("asyncoperations({job})")).await;
            (b["statecode"] == 3).then_some(b)
        },
    )
    .await;
    assert_eq!(
        (done["operationtype"].as_i64(), done["statuscode"].as_i64()),
        (Some(13), Some(30)),
        "{done}"
    );
    let (_, op) = s.get(&format!("bulkdeleteoperations({job})")).await;
    assert_eq!(
        (op["successcount"].as_i64(), op["failurecount"].as_i64()),
        (Some(3), Some(0)),
        "{op}"
    );
    assert_eq!(
        names(&s, "startswith(name,'Bulk')").await,
        ["Bulk 4 (python)", "Bulk 5 (python)"]
    );

    // 5 creates, 5 + 2 updates, 3 deletes: each record's own step fired.
    let total = 5 + 7 + 3;
    assert_eq!(delivered(&rx, total, "Create").await, 5);
    assert_eq!(delivered(&rx, total, "Update").await, 7);
    assert_eq!(delivered(&rx, total, "Delete").await, 3);
}
