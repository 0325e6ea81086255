//! Bodies over 256 KB: flagged with `x-ms-dynamics-msg-size-exceeded` and
//! sent without the four properties Dataverse removes, for synchronous
//! steps, System Jobs (whose stored context stays whole) and `herald_Notify`.

use std::time::Duration;

use herald_testkit::Receiver;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::golden;
use super::notify::notify;
use super::HEADERS;
use crate::common::{job_of, register, TestServer};

both_backends!(
    payload_over_256kb_is_trimmed,
    async_payload_over_256kb_is_trimmed,
    notify_payload_over_256kb_is_trimmed,
);

/// A request whose body went over 256 KB: flagged, and without the four
/// properties Dataverse removes — the keys are gone, the others in order.
fn assert_trimmed(r: &herald_testkit::Captured, message: &str) {
    assert_eq!(r.header("x-ms-dynamics-msg-size-exceeded"), Some("true"));
    assert!(r.body.len() < 262_144, "{} bytes", r.body.len());
    let body = r.body_json();
    let removed = [
        "ParentContext",
        "InputParameters",
        "PreEntityImages",
        "PostEntityImages",
    ];
    let expected: Vec<String> = golden::seed_000()
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !removed.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let got: Vec<String> = body
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(
        got, expected,
        "the four properties are removed, nothing else"
    );
    assert_eq!(body["MessageName"], message);
}

async fn payload_over_256kb_is_trimmed(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    register::image(&s, &step, 1, "post", "name").await;
    s.create("accounts", json!({"name": "small"})).await;
    let big = s
        .create(
            "accounts",
            json!({"name": "big", "description": "x".repeat(300_000)}),
        )
        .await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert!(got[0].header("x-ms-dynamics-msg-size-exceeded").is_none());
    let small = got[0].body_json();
    assert!(small["ParentContext"].is_object() && small["PostEntityImages"][0].is_object());
    assert_trimmed(&got[1], "Create");
    assert_eq!(got[1].body_json()["PrimaryEntityId"], big);
    assert_eq!(got[1].body_json()["OutputParameters"][0]["value"], big);
}

async fn async_payload_over_256kb_is_trimmed(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Update", "account", 40, 1, json!({})).await;
    register::image(&s, &step, 2, "both", "").await;
    let a = s.create("accounts", json!({"name": "a"})).await;
    let (st, _) = s
        .patch(
            &format!("accounts({a})"),
            json!({"description": "y".repeat(300_000)}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let got = rx.wait_for(1, Duration::from_secs(20)).await;
    assert_trimmed(&got[0], "Update");
    assert_eq!(got[0].body_json()["Mode"], 1);
    // The System Job succeeded; its stored context is the whole one.
    let job = job_of(&s, &step, 30).await;
    let id = job["asyncoperationid"].as_str().unwrap_or_default();
    let (_, row) = s.get(&format!("asyncoperations({id})?$select=data")).await;
    let data: Value =
        serde_json::from_str(row["data"].as_str().unwrap_or("null")).unwrap_or_default();
    assert!(
        data["ParentContext"].is_object(),
        "the job keeps the full context"
    );
    assert_eq!(data["PostEntityImages"][0]["key"], "both");
}

async fn notify_payload_over_256kb_is_trimmed(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "fn", &rx.url(), 4, "k").await;
    let mut ctx = golden::seed_000();
    ctx["InputParameters"][0]["value"]["Attributes"][0]["value"] = json!("z".repeat(300_000));
    let (st, _, body) = notify(&s, &hook, ctx.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_trimmed(&got[0], "Update");
    let mut expected = ctx;
    if let Some(m) = expected.as_object_mut() {
        for k in [
            "ParentContext",
            "InputParameters",
            "PreEntityImages",
            "PostEntityImages",
        ] {
            m.shift_remove(k);
        }
    }
    golden::assert_same_ordered(&got[0].body_json(), &expected, "$");
    // A small context goes as it was sent.
    rx.clear();
    let small = golden::seed_000();
    let (st, _, _) = s
        .post(
            &format!("serviceendpoints({hook})/herald_Notify"),
            small.clone(),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert!(got[0].header("x-ms-dynamics-msg-size-exceeded").is_none());
    golden::assert_same_ordered(&got[0].body_json(), &small, "$");
}
