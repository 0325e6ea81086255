//! Bulk messages: CreateMultiple / UpdateMultiple / UpsertMultiple as one
//! transaction — Create/Update steps fire per record, a step on the bulk
//! message fires once with `Targets`, and a failing sync step rolls every
//! record back.

use std::time::Duration;

use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::batch::HEADERS;
use crate::common::{register, TestServer};

both_backends!(
    create_multiple_fires_create_steps_per_record_and_its_own_step_once,
    a_failing_sync_step_rolls_back_all_500_records,
    update_and_upsert_multiple,
    create_multiple_with_a_taken_or_repeated_id_writes_nothing,
    create_multiple_of_records_of_different_shapes,
);

fn targets(records: Vec<Value>) -> Value {
    let targets: Vec<Value> = records
        .into_iter()
        .map(|mut r| {
            r["@odata.type"] = json!("Microsoft.Dynamics.CRM.account");
            r
        })
        .collect();
    json!({ "Targets": targets })
}

async fn count(s: &TestServer, set: &str) -> usize {
    let (_, b) = s.get(set).await;
    b["value"].as_array().map(Vec::len).unwrap_or(0)
}

async fn create_multiple_fires_create_steps_per_record_and_its_own_step_once(s: TestServer) {
    let per_record = Receiver::start().await;
    let once = Receiver::start().await;
    let h1 = register::webhook(&s, "per", &per_record.url(), 5, HEADERS).await;
    let h2 = register::webhook(&s, "once", &once.url(), 5, HEADERS).await;
    register::step(&s, &h1, "Create", "account", 40, 1, json!({})).await;
    register::step(&s, &h2, "CreateMultiple", "account", 40, 0, json!({})).await;
    let (st, _, body) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            targets(vec![
                json!({"name": "a"}),
                json!({"name": "b"}),
                json!({"name": "c"}),
            ]),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(
        body["@odata.context"]
            .as_str()
            .is_some_and(|c| c.ends_with("#Microsoft.Dynamics.CRM.CreateMultipleResponse")),
        "{body}"
    );
    let ids = body["Ids"].as_array().expect("Ids").clone();
    assert_eq!(ids.len(), 3);
    assert_eq!(count(&s, "accounts").await, 3);
    let calls = once.requests();
    assert_eq!(calls.len(), 1, "the CreateMultiple step fires once");
    let ctx = calls[0].body_json();
    assert_eq!(ctx["MessageName"], "CreateMultiple");
    let targets = ctx["InputParameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["key"] == "Targets"))
        .expect("Targets")["value"]
        .clone();
    assert!(
        targets["__type"]
            .as_str()
            .unwrap_or("")
            .starts_with("EntityCollection:"),
        "{targets}"
    );
    assert_eq!(
        targets["Entities"].as_array().map(Vec::len),
        Some(3),
        "{targets}"
    );
    assert_eq!(targets["EntityName"], "account");
    let got = per_record.wait_for(3, Duration::from_secs(10)).await;
    assert!(got.iter().all(|c| c.body_json()["MessageName"] == "Create"));
}

async fn a_failing_sync_step_rolls_back_all_500_records(s: TestServer) {
    let rx = Receiver::start_with(Behavior::statuses(vec![200; 300], Behavior::status(500))).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "account", 20, 0, json!({})).await;
    let records = (0..500).map(|n| json!({"name": format!("r{n}")})).collect();
    let (st, _, body) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            targets(records),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(
        rx.requests().len(),
        301,
        "the step ran per record until it failed"
    );
    assert_eq!(count(&s, "accounts").await, 0, "all 500 rolled back");
}

async fn update_and_upsert_multiple(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Update", "account", 40, 0, json!({})).await;
    let a = s.create("accounts", json!({"name": "a"})).await;
    let b = s.create("accounts", json!({"name": "b"})).await;
    let (st, _, body) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
            targets(vec![
                json!({"accountid": a, "name": "A"}),
                json!({"accountid": b, "name": "B"}),
            ]),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(rx.requests().len(), 2, "an Update step per record");
    let (_, got) = s.get(&format!("accounts({a})?$select=name")).await;
    assert_eq!(got["name"], "A");
    let fresh = "00000000-0000-0000-0000-0000000000aa";
    let (st, _, body) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
            targets(vec![
                json!({"accountid": a, "name": "AA"}),
                json!({"accountid": fresh, "name": "new"}),
            ]),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["Results"][0]["RecordCreated"], false, "{body}");
    assert_eq!(body["Results"][1]["RecordCreated"], true, "{body}");
    assert_eq!(count(&s, "accounts").await, 3);
    // Without the primary id, UpdateMultiple is refused and nothing changes.
    let (st, _, _) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
            targets(vec![json!({"name": "no id"})]),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _, _) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.DeleteMultiple",
            json!({"Targets": []}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

/// The records' rows are read ahead in one query, and their inserts share
/// multi-row statements: an id that exists already, or that the request
/// repeats, still fails the whole request with a 4xx and writes nothing.
async fn create_multiple_with_a_taken_or_repeated_id_writes_nothing(s: TestServer) {
    let taken = s.create("accounts", json!({"name": "taken"})).await;
    let (st, _, body) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            targets(vec![
                json!({"name": "new"}),
                json!({"accountid": taken, "name": "again"}),
            ]),
        )
        .await;
    assert!(st.is_client_error(), "{st} {body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert_eq!(
        count(&s, "accounts").await,
        1,
        "the new record rolled back too"
    );
    let twice = "00000000-0000-0000-0000-0000000000bb";
    let (st, _, body) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            targets(vec![
                json!({"accountid": twice, "name": "one"}),
                json!({"name": "other"}),
                json!({"accountid": twice, "name": "two"}),
            ]),
        )
        .await;
    assert!(st.is_client_error(), "{st} {body}");
    assert_eq!(count(&s, "accounts").await, 1);
    let (_, got) = s.get(&format!("accounts({taken})?$select=name")).await;
    assert_eq!(got["name"], "taken");
}

/// Records with different columns go into different multi-row statements;
/// each gets exactly its own values.
async fn create_multiple_of_records_of_different_shapes(s: TestServer) {
    let (st, _, body) = s
        .post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            targets(vec![
                json!({"name": "a"}),
                json!({"name": "b", "telephone1": "555-0102"}),
                json!({"name": "c"}),
                json!({"telephone1": "555-0104", "name": "d"}),
            ]),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let ids = body["Ids"].as_array().expect("Ids").clone();
    assert_eq!(ids.len(), 4);
    let want = [
        ("a", Value::Null),
        ("b", json!("555-0102")),
        ("c", Value::Null),
        ("d", json!("555-0104")),
    ];
    for (id, (name, phone)) in ids.iter().zip(want) {
        let id = id.as_str().expect("an id");
        let (_, got) = s
            .get(&format!("accounts({id})?$select=name,telephone1"))
            .await;
        assert_eq!(got["name"], name, "{got}");
        assert_eq!(got["telephone1"], phone, "{got}");
    }
}
