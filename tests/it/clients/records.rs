//! Record calls of the real clients, unchanged, against a herald on HTTPS
//! (its self-signed certificate), with webhook steps registered on
//! `account`: Python `PowerPlatform-Dataverse-Client`
//! (`records.create/get/update/delete` and a paged query) and npm
//! `dynamics-web-api` (`create`, `retrieve`, `update`, `retrieveMultiple`
//! following `@odata.nextLink`, `deleteRecord`). Each test checks what the
//! program printed, herald's rows, and the deliveries the steps made.

use std::time::Duration;

use herald_testkit::{Captured, Receiver};
use serde_json::{json, Value};

use super::harness::{https_server, Clients, Steps};
use crate::common::{register, TestServer};

/// Webhook steps on account: Create asynchronous (a System Job), Update and
/// Delete synchronous post-operation.
async fn watch_accounts(s: &TestServer, rx: &Receiver) {
    let hook = register::webhook(
        s,
        "client-hook",
        &rx.url(),
        5,
        r#"<settings><setting name="X-Client-Test" value="1" /></settings>"#,
    )
    .await;
    register::step(s, &hook, "Create", "account", 40, 1, json!({})).await;
    register::step(s, &hook, "Update", "account", 40, 0, json!({})).await;
    register::step(s, &hook, "Delete", "account", 40, 0, json!({})).await;
}

/// The installed clients, a herald on HTTPS and a receiver watching
/// accounts; `None` when the clients are SKIPPED.
async fn start(test: &str) -> Option<(Clients, TestServer, Receiver)> {
    let clients = Clients::installed(test).await?;
    let s = https_server(test).await;
    let rx = Receiver::start().await;
    watch_accounts(&s, &rx).await;
    Some((clients, s, rx))
}

/// The (message, record id) of each delivery, once `n` have arrived.
async fn deliveries(rx: &Receiver, n: usize) -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = rx
        .wait_for(n, Duration::from_secs(30))
        .await
        .iter()
        .map(|c: &Captured| {
            let b = c.body_json();
            (
                b["MessageName"].as_str().unwrap_or_default().to_string(),
                b["PrimaryEntityId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    seen.sort();
    seen
}

/// What both programs do, checked the same way: two accounts created, the
/// first read, updated and read again, a paged query over both, the second
/// deleted. `steps` names each program's steps.
async fn check_the_record_story(
    s: &TestServer,
    rx: &Receiver,
    out: &Steps,
    steps: [&str; 5],
    suffix: &str,
) {
    let [create, get, update, query, delete] = steps;
    let ids: Vec<String> = out.step(create)["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("an id").to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let (first, second) = (&ids[0], &ids[1]);
    let contoso = format!("Contoso ({suffix})");
    let fabrikam = format!("Fabrikam ({suffix})");
    assert_eq!(out.step(get)["id"], json!(first));
    assert_eq!(out.step(get)["name"], json!(contoso));
    assert_eq!(out.step(get)["telephone1"], "555-0100");
    assert_eq!(out.step(update)["telephone1"], "555-0199");
    assert_eq!(out.step(query)["names"], json!([contoso, fabrikam]));
    assert_eq!(out.step(delete)["remaining"], json!([contoso]));

    let (_, rows) = s.get("accounts?$select=name,telephone1").await;
    let rows: Vec<(Value, Value)> = rows["value"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["name"].clone(), r["telephone1"].clone()))
        .collect();
    assert_eq!(rows, [(json!(contoso), json!("555-0199"))]);

    let mut expected = vec![
        ("Create".to_string(), first.clone()),
        ("Create".to_string(), second.clone()),
        ("Update".to_string(), first.clone()),
        ("Delete".to_string(), second.clone()),
    ];
    expected.sort();
    assert_eq!(deliveries(rx, 4).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamics_web_api_record_calls_over_https() {
    let test = "clients::records::dynamics_web_api";
    let Some((clients, s, rx)) = start(test).await else {
        return;
    };
    let out = clients.node(&s, "records.mjs").await;
    let links = out.step("retrieveMultiple")["nextLinks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(links.len(), 1, "one page per record, page size 1");
    assert!(links[0]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/api/data/v9.2/", s.base)));
    check_the_record_story(
        &s,
        &rx,
        &out,
        [
            "create",
            "retrieve",
            "update",
            "retrieveMultiple",
            "deleteRecord",
        ],
        "node",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerplatform_dataverse_client_record_calls_over_https() {
    let test = "clients::records::powerplatform_dataverse_client";
    let Some((clients, s, rx)) = start(test).await else {
        return;
    };
    let out = clients.python(&s, "records.py").await;
    assert_eq!(
        out.step("query")["pages"],
        2,
        "page size 1 over two records"
    );
    check_the_record_story(
        &s,
        &rx,
        &out,
        ["create", "get", "update", "query", "delete"],
        "python",
    )
    .await;
}
