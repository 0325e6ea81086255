//! When the endpoint fails: a synchronous failure or timeout rolls the write
//! back (PreValidation stops it before it happens), only 502/503/504 get
//! one more attempt, and asynchronous failures are System Jobs one can
//! query (succeeded jobs of an asyncautodelete step are deleted).

use std::time::Duration;

use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::json;

use super::HEADERS;
use crate::common::{eventually, odata_error, register, TestServer};

both_backends!(
    sync_failure_rolls_the_write_back,
    prevalidation_failure_stops_the_write,
    retry_only_on_502_503_504,
    async_failures_are_queryable_as_system_jobs,
    sync_steps_among_concurrent_writes_fail_or_succeed_alone,
);

async fn sync_failure_rolls_the_write_back(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(500)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "lead", 40, 0, json!({})).await;
    let (st, _, body) = s.post("leads", json!({"subject": "never stored"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(msg.starts_with("Endpoint unavailable"), "{msg}");
    assert!(msg.contains("500"), "{msg}");
    let (_, list) = s.get("leads?$count=true").await;
    assert_eq!(list["@odata.count"], 0, "the record was rolled back");

    // Pre-operation failures stop the write before it happens; connection refused is explained.
    let port = herald_testkit::free_port();
    let dead = register::webhook(&s, "dead", &port.url(), 5, HEADERS).await;
    register::step(&s, &dead, "Create", "incident", 20, 0, json!({})).await;
    let (st, _, body) = s.post("incidents", json!({"title": "x"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(
        msg.starts_with("Endpoint unavailable") && msg.to_lowercase().contains("connect"),
        "{msg}"
    );
    let (_, list) = s.get("incidents?$count=true").await;
    assert_eq!(list["@odata.count"], 0);
}

/// Writes with sync steps in the middle of a stream of concurrent writes
/// (on SQLite those share their commits): the ones whose step fails are
/// rolled back alone, the ones whose step answers slowly commit, and so
/// does every plain write around them.
async fn sync_steps_among_concurrent_writes_fail_or_succeed_alone(s: TestServer) {
    let failing = Receiver::start_with(Behavior::status(500)).await;
    let slow = Receiver::start_with(Behavior::delay(Duration::from_millis(200), 200)).await;
    let bad = register::webhook(&s, "bad", &failing.url(), 5, HEADERS).await;
    let ok = register::webhook(&s, "slow", &slow.url(), 5, HEADERS).await;
    register::step(&s, &bad, "Create", "lead", 40, 0, json!({})).await;
    register::step(&s, &ok, "Create", "incident", 20, 0, json!({})).await;
    let writes: Vec<_> = (0..60)
        .map(|i| {
            let (set, body) = match i % 10 {
                3 => ("leads", json!({"subject": format!("lead {i}")})),
                7 => ("incidents", json!({"title": format!("incident {i}")})),
                _ => ("accounts", json!({"name": format!("account {i}")})),
            };
            let request = s.request(reqwest::Method::POST, set).json(&body);
            tokio::spawn(async move { (set, request.send().await.map(|r| r.status())) })
        })
        .collect();
    for w in writes {
        let (set, status) = w.await.unwrap();
        let want = if set == "leads" {
            StatusCode::BAD_GATEWAY
        } else {
            StatusCode::NO_CONTENT
        };
        assert_eq!(status.unwrap(), want, "{set}");
    }
    for (set, n) in [("leads", 0), ("incidents", 6), ("accounts", 48)] {
        let (_, list) = s.get(&format!("{set}?$count=true")).await;
        assert_eq!(list["@odata.count"], n, "{set}");
    }
    assert_eq!(failing.requests().len(), 6);
    assert_eq!(slow.requests().len(), 6);
}

async fn prevalidation_failure_stops_the_write(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(503)).await;
    let hook = register::webhook(&s, "validate", &rx.url_for("/stage10"), 5, HEADERS).await;
    let later = register::webhook(&s, "later", &rx.url_for("/stage40"), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "lead", 10, 0, json!({})).await;
    register::step(&s, &later, "Create", "lead", 40, 0, json!({})).await;
    let (st, _, body) = s.post("leads", json!({"subject": "stopped at 10"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(
        msg.starts_with("Endpoint unavailable") && msg.contains("503"),
        "{msg}"
    );
    let (_, list) = s.get("leads?$count=true").await;
    assert_eq!(list["@odata.count"], 0, "no record was written");
    let got = rx.requests();
    assert!(
        got.iter().all(|r| r.path == "/stage10"),
        "stage 40 never ran"
    );
    assert_eq!(got.len(), 2, "503 got exactly one more attempt");
    let b = got[0].body_json();
    assert_eq!(b["Stage"], 10);
    assert_eq!(
        b["IsInTransaction"], false,
        "PreValidation runs outside the transaction"
    );
    assert_eq!(b["OutputParameters"], json!([]));

    // Once the endpoint accepts, the same write goes through both stages.
    rx.clear();
    rx.respond(Behavior::status(200));
    let id = s.create("leads", json!({"subject": "passes"})).await;
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/stage10", "/stage40"]);
    assert_eq!(got[1].body_json()["PrimaryEntityId"], id);
}

/// A synchronous step whose endpoint never answers, with the delivery
/// timeout configured to 300 ms: the write fails with a message naming the
/// timeout, after about that long, and is rolled back (Create and Update).
async fn sync_timeout_rolls_the_write_back(s: TestServer) {
    let rx = Receiver::start_with(Behavior::Hang).await;
    let hook = register::webhook(&s, "slow", &rx.url(), 5, HEADERS).await;
    let c = s.create("contacts", json!({"lastname": "Before"})).await;
    register::step(&s, &hook, "Create", "contact", 40, 0, json!({})).await;
    register::step(&s, &hook, "Update", "contact", 20, 0, json!({})).await;

    let started = std::time::Instant::now();
    let (st, _, body) = s.post("contacts", json!({"lastname": "Never"})).await;
    let took = started.elapsed();
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(msg.starts_with("Endpoint unavailable"), "{msg}");
    assert!(msg.contains("timeout") && msg.contains("300"), "{msg}");
    assert!(took >= Duration::from_millis(300), "gave up after {took:?}");
    assert!(
        took < Duration::from_secs(10),
        "the configured timeout applies: {took:?}"
    );
    assert_eq!(rx.requests().len(), 1, "a timeout is not retried");
    let (_, list) = s
        .get("contacts?$filter=lastname eq 'Never'&$count=true")
        .await;
    assert_eq!(list["@odata.count"], 0, "the create was rolled back");

    let (st, body) = s
        .patch(&format!("contacts({c})"), json!({"lastname": "After"}))
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(msg.contains("timeout"), "{msg}");
    let (_, row) = s.get(&format!("contacts({c})?$select=lastname")).await;
    assert_eq!(row["lastname"], "Before", "the update was rolled back");
}

fn short_timeout(c: &mut herald_server::config::Config) {
    c.delivery.timeout = Duration::from_millis(300);
}

both_backends!(tweak = short_timeout; sync_timeout_rolls_the_write_back);

async fn retry_only_on_502_503_504(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "opportunity", 40, 0, json!({})).await;
    for status in [502u16, 503, 504] {
        rx.clear();
        rx.respond(Behavior::statuses([status], Behavior::status(200)));
        s.create("opportunities", json!({"name": format!("after {status}")}))
            .await;
        assert_eq!(
            rx.requests().len(),
            2,
            "{status} gets exactly one more attempt"
        );
        rx.clear();
        rx.respond(Behavior::status(status));
        let (st, _, body) = s.post("opportunities", json!({"name": "fails"})).await;
        odata_error(st, &body, StatusCode::BAD_GATEWAY);
        assert_eq!(rx.requests().len(), 2, "{status} twice and then give up");
    }
    rx.clear();
    rx.respond(Behavior::status(500));
    let (st, _, body) = s.post("opportunities", json!({"name": "fails"})).await;
    odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert_eq!(rx.requests().len(), 1, "500 is not retried");
}

async fn async_failures_are_queryable_as_system_jobs(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(503)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(
        &s,
        &hook,
        "Create",
        "contact",
        40,
        1,
        json!({"name": "failing step"}),
    )
    .await;
    let ok_step = register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        1,
        json!({"name": "autodeleted", "asyncautodelete": true}),
    )
    .await;
    let c = s.create("contacts", json!({"lastname": "Async"})).await;
    // The seed's query, verbatim.
    let url = format!("asyncoperations?$orderby=completedon desc&$filter=statuscode eq 31 and _owningextensionid_value eq @stepid&$select=name,friendlymessage,errorcode,message,completedon?@stepid={step}");
    let failed = eventually(Duration::from_secs(10), "a failed job", || async {
        let (st, b) = s.get(&url).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        b["value"].as_array().and_then(|v| v.first().cloned())
    })
    .await;
    assert_eq!(failed["name"], "failing step");
    assert!(
        failed["message"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    assert!(failed["friendlymessage"].is_string());
    assert!(failed["errorcode"].is_i64());
    assert_eq!(rx.requests().len(), 2, "503 got exactly one more attempt");
    // Succeeded jobs of an asyncautodelete step are deleted.
    rx.respond(Behavior::status(200));
    s.patch(&format!("contacts({c})"), json!({"firstname": "x"}))
        .await;
    rx.wait_for(3, Duration::from_secs(10)).await;
    eventually(
        Duration::from_secs(10),
        "the succeeded job to be deleted",
        || async {
            let (_, b) = s
                .get(&format!(
                    "asyncoperations?$filter=_owningextensionid_value eq {ok_step}&$count=true"
                ))
                .await;
            (b["@odata.count"] == 0).then_some(())
        },
    )
    .await;
}
