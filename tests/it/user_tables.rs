//! A user table declared in a real TOML file given to `herald serve
//! --config`: every column type round-trips through the Web API (create,
//! read, filter, order, update, clear) on SQLite and PostgreSQL.

use crate::common::node::{Api, Node, ADMIN_KEY};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CONFIG: &str = r#"
[server]
organization = "gadgets"

[[tables]]
logical_name = "new_gadget"
primary_name = "new_name"
[tables.columns]
new_name = "string(100)"
new_notes = "memo"
new_count = "integer"
new_ratio = "decimal"
new_price = "money"
new_active = "boolean"
new_due = "datetime"
new_ref = "uniqueidentifier"
new_accountid = "lookup(account)"
new_stage = "choice(1:Draft,2:Live)"
"#;

/// Start `herald serve --config <file>` on a fresh data dir (and database).
fn serve(dir: &std::path::Path, database_url: Option<&str>) -> Node {
    let file = dir.join("herald.toml");
    std::fs::write(&file, CONFIG).expect("write the config file");
    let file = file.to_string_lossy().into_owned();
    Node::start(
        "user-tables",
        &dir.join("data"),
        database_url,
        &[("HERALD_CONFIG", file.as_str())],
    )
}

async fn send(api: &Api, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut rb = api
        .http
        .request(method, format!("{}/{path}", api.api))
        .bearer_auth(ADMIN_KEY);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.expect("request sent");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn every_column_type_round_trips(node: Node) {
    let api = node.client();
    let account = api.create("accounts", json!({"name": "Owner"})).await;
    let reference = "6D81597F-0F9F-E711-8122-000D3AA2331C";
    let notes = format!("line one\nline two — ünïcödé ✓\n{}", "x".repeat(5000));
    let id = api
        .create(
            "new_gadgets",
            json!({
                "new_name": "Sprocket",
                "new_notes": notes,
                "new_count": -2147483648i64,
                "new_ratio": 1234.5678,
                "new_price": 19.99,
                "new_active": true,
                "new_due": "2024-05-01T12:30:00+02:00",
                "new_ref": reference,
                "new_accountid@odata.bind": format!("/accounts({account})"),
                "new_stage": 2,
            }),
        )
        .await;
    api.create(
        "new_gadgets",
        json!({"new_name": "Widget", "new_count": 2147483647i64, "new_ratio": -0.5,
               "new_active": false, "new_due": "2023-01-01", "new_stage": 1}),
    )
    .await;

    let (st, row) = send(&api, Method::GET, &format!("new_gadgets({id})"), None).await;
    assert_eq!(st, StatusCode::OK, "{row}");
    assert_eq!(row["new_gadgetid"], id);
    assert_eq!(row["new_name"], "Sprocket");
    assert_eq!(row["new_notes"], notes.as_str());
    assert_eq!(row["new_count"], -2147483648i64);
    assert_eq!(row["new_ratio"], 1234.5678);
    assert_eq!(row["new_price"], 19.99);
    assert_eq!(row["new_active"], true);
    assert_eq!(row["new_due"], "2024-05-01T10:30:00Z");
    assert_eq!(row["new_ref"], reference.to_lowercase());
    assert_eq!(row["_new_accountid_value"], account);
    assert_eq!(row["new_stage"], 2);
    assert_eq!(row["versionnumber"], 1);
    assert!(row["createdon"].is_string(), "{row}");

    // Each type in a filter.
    let filter = format!(
        "new_gadgets?$select=new_name&$filter=new_count eq -2147483648 and new_ratio gt 1234.5 \
         and new_price eq 19.99 and new_active eq true and new_due eq 2024-05-01T10:30:00Z \
         and new_ref eq {reference} and _new_accountid_value eq {account} and new_stage eq 2 \
         and contains(new_notes,'ünïcödé')"
    );
    let (st, body) = send(&api, Method::GET, &filter, None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["value"][0]["new_gadgetid"], id);
    // Ordering by a decimal and by a date-time.
    for (order, first) in [
        ("new_ratio", "Widget"),
        ("new_due desc", "Sprocket"),
        ("new_active desc", "Sprocket"),
    ] {
        let (_, body) = send(
            &api,
            Method::GET,
            &format!("new_gadgets?$select=new_name&$orderby={order}"),
            None,
        )
        .await;
        assert_eq!(body["value"][0]["new_name"], first, "{order}: {body}");
    }

    // Update every column, then clear every nullable one.
    let (st, body) = send(
        &api,
        Method::PATCH,
        &format!("new_gadgets({id})"),
        Some(
            json!({"new_notes": "short", "new_count": 7, "new_ratio": 0.25, "new_price": 0,
                    "new_active": false, "new_due": "2025-12-31T23:59:59Z",
                    "new_ref": "00000000-0000-0000-0000-000000000001", "new_stage": 1}),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (_, row) = send(&api, Method::GET, &format!("new_gadgets({id})"), None).await;
    assert_eq!(
        (
            &row["new_notes"],
            &row["new_count"],
            &row["new_ratio"],
            &row["new_price"],
            &row["new_active"],
            &row["new_due"],
            &row["new_ref"],
            &row["new_stage"],
            &row["versionnumber"]
        ),
        (
            &json!("short"),
            &json!(7),
            &json!(0.25),
            &json!(0.0),
            &json!(false),
            &json!("2025-12-31T23:59:59Z"),
            &json!("00000000-0000-0000-0000-000000000001"),
            &json!(1),
            &json!(2)
        ),
        "{row}"
    );
    let cleared: serde_json::Map<String, Value> = [
        "new_notes",
        "new_count",
        "new_ratio",
        "new_price",
        "new_active",
        "new_due",
        "new_ref",
        "new_stage",
        "new_accountid@odata.bind",
    ]
    .iter()
    .map(|k| (k.to_string(), Value::Null))
    .collect();
    let (st, body) = send(
        &api,
        Method::PATCH,
        &format!("new_gadgets({id})"),
        Some(Value::Object(cleared)),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (_, row) = send(&api, Method::GET, &format!("new_gadgets({id})"), None).await;
    for k in [
        "new_notes",
        "new_count",
        "new_ratio",
        "new_price",
        "new_active",
        "new_due",
        "new_ref",
        "new_stage",
        "_new_accountid_value",
    ] {
        assert!(row[k].is_null(), "{k} should be null: {row}");
    }
    assert_eq!(row["new_name"], "Sprocket");

    // A wrong value for each type is a 400 naming the column.
    for (col, bad) in [
        ("new_name", json!("x".repeat(101))),
        ("new_count", json!(2147483648i64)),
        ("new_count", json!("7")),
        ("new_ratio", json!("lots")),
        ("new_price", json!(true)),
        ("new_active", json!("yes")),
        ("new_due", json!("tomorrow")),
        ("new_ref", json!("not-a-guid")),
        ("new_stage", json!(3)),
        ("new_notes", json!(5)),
    ] {
        let (st, body) = send(
            &api,
            Method::POST,
            "new_gadgets",
            Some(json!({ (col): bad.clone() })),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{col} = {bad}: {body}");
        let msg = body["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(col), "{col} = {bad}: {msg}");
    }
    let (_, body) = send(&api, Method::GET, "new_gadgets?$count=true", None).await;
    assert_eq!(body["@odata.count"], 2, "nothing half-written: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_type_from_a_toml_config_file_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    every_column_type_round_trips(serve(dir.path(), None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_type_from_a_toml_config_file_on_postgres() {
    let Some(url) = herald_store::testing::fresh_postgres_url(concat!(
        module_path!(),
        "::every_column_type_from_a_toml_config_file_on_postgres"
    ))
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    every_column_type_round_trips(serve(dir.path(), Some(&url))).await;
}
