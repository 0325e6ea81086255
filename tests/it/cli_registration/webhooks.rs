//! `herald webhook add|list|show|remove`, each auth kind, checked through
//! the Web API.

use reqwest::StatusCode;
use serde_json::Value;

use super::{count, only};
use crate::common::cli::herald;
use crate::common::TestServer;

both_backends!(webhooks_add_list_show_remove,);

async fn webhooks_add_list_show_remove(s: TestServer) {
    let id = herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "requestbin",
            "--url",
            "https://example.com/hook",
            "--auth",
            "header",
            "X-Test1: test1",
            "--auth",
            "header",
            "X-Test2: test2",
            "--description",
            "logs requests",
        ],
    )
    .await
    .printed();
    let (st, row) = s.get(&format!("serviceendpoints({id})")).await;
    assert_eq!(st, StatusCode::OK, "{row}");
    assert_eq!(row["name"], "requestbin");
    assert_eq!(row["url"], "https://example.com/hook");
    assert_eq!(row["contract"], 8);
    assert_eq!(row["authtype"], 5);
    assert_eq!(row["messageformat"], 2);
    assert_eq!(row["isauthvalueset"], true);
    assert_eq!(row["description"], "logs requests");
    assert!(
        row.get("authvalue").is_none_or(Value::is_null),
        "authvalue is write-only: {row}"
    );

    let key_id = herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "azure-fn",
            "--url",
            "https://example.com/api/fn",
            "--auth",
            "webhookkey",
            "s3cret",
        ],
    )
    .await
    .printed();
    let row = only(&s, "serviceendpoints", "name eq 'azure-fn'").await;
    assert_eq!(
        (
            row["serviceendpointid"].as_str(),
            row["authtype"].as_i64(),
            row["isauthvalueset"].as_bool()
        ),
        (Some(key_id.as_str()), Some(4), Some(true))
    );
    herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "query",
            "--url",
            "https://example.com/q",
            "--auth",
            "query",
            "a=1",
            "--auth",
            "query",
            "b=2",
        ],
    )
    .await
    .success();
    let row = only(&s, "serviceendpoints", "name eq 'query'").await;
    assert_eq!(
        (row["authtype"].as_i64(), row["isauthvalueset"].as_bool()),
        (Some(6), Some(true))
    );

    // list: a table with every webhook, and JSON that parses.
    let table = herald(&s, &["webhook", "list"]).await.success().stdout;
    let header = table.lines().next().unwrap_or_default();
    for col in ["NAME", "ID", "AUTHTYPE", "URL"] {
        assert!(header.contains(col), "header {header:?}");
    }
    for needle in [
        "requestbin",
        id.as_str(),
        "HttpHeader",
        "https://example.com/hook",
        "azure-fn",
        "WebhookKey",
        "HttpQueryString",
    ] {
        assert!(
            table.contains(needle),
            "webhook list should show {needle}:\n{table}"
        );
    }
    let listed = herald(&s, &["webhook", "list", "--output", "json"])
        .await
        .success()
        .json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 3, "{listed:?}");
    let bin = listed
        .iter()
        .find(|w| w["name"] == "requestbin")
        .expect("requestbin listed");
    assert_eq!(
        (
            bin["id"].as_str(),
            bin["authtype"].as_str(),
            bin["url"].as_str()
        ),
        (
            Some(id.as_str()),
            Some("HttpHeader"),
            Some("https://example.com/hook")
        )
    );

    // show, by name and by id.
    let shown = herald(&s, &["webhook", "show", "requestbin", "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(
        (shown["id"].as_str(), shown["authvalueset"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    let shown = herald(&s, &["webhook", "show", &id]).await.success().stdout;
    assert!(
        shown.contains("requestbin") && shown.contains("logs requests"),
        "{shown}"
    );

    // Names are unique; the server's reason is passed on.
    herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "requestbin",
            "--url",
            "https://example.com/other",
            "--auth",
            "webhookkey",
            "k",
        ],
    )
    .await
    .failure(&["server said 412", "already exists"]);

    // remove by name and by id.
    herald(&s, &["webhook", "remove", "requestbin"])
        .await
        .success();
    let (st, _) = s.get(&format!("serviceendpoints({id})")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    herald(&s, &["webhook", "remove", &key_id]).await.success();
    assert_eq!(count(&s, "serviceendpoints").await, 1);
    herald(&s, &["webhook", "remove", "requestbin"])
        .await
        .failure(&["unknown webhook 'requestbin'"]);
}
