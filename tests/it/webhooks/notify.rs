//! The bound `herald_Notify` action: invoke a webhook with a context of the
//! caller's, without a step, and get the receiver's answer back.

use std::time::Duration;

use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{odata_error, register, TestServer};

both_backends!(notify_invokes_a_webhook_without_a_step);

/// The bound `herald_Notify` action: invoke the webhook with `ctx`.
pub async fn notify(
    s: &TestServer,
    hook: &str,
    ctx: Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    s.post(
        &format!("serviceendpoints({hook})/Microsoft.Dynamics.CRM.herald_Notify"),
        ctx,
    )
    .await
}

async fn notify_invokes_a_webhook_without_a_step(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status_with_body(200, "handled: 42")).await;
    let hook = register::webhook(&s, "fn", &rx.url_for("/api/fn"), 4, "secret-key").await;
    let ctx = json!({"CorrelationId": "b374239d-4233-41a9-8b17-a86cb4f737b5", "MessageName": "Update", "PrimaryEntityName": "contact", "Depth": 1});
    let (st, _, body) = notify(&s, &hook, ctx.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "handled: 42");
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].query_param("code").as_deref(), Some("secret-key"));
    assert_eq!(got[0].header("x-ms-dynamics-request-name"), Some("update"));
    assert_eq!(
        got[0].header("x-ms-correlation-request-id"),
        Some("b374239d-4233-41a9-8b17-a86cb4f737b5")
    );
    assert_eq!(got[0].body_json(), ctx);
    rx.respond(Behavior::status(504));
    let (st, _, body) = s
        .post(&format!("serviceendpoints({hook})/herald_Notify"), ctx)
        .await;
    assert!(odata_error(st, &body, StatusCode::BAD_GATEWAY).starts_with("Endpoint unavailable"));
    assert_eq!(rx.requests().len(), 3, "504 got one more attempt");
    let (st, _, body) = s
        .post(
            &format!("serviceendpoints({})/herald_Notify", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    odata_error(st, &body, StatusCode::NOT_FOUND);
}
