//! Standard Webhooks signatures, verified by the `standardwebhooks` crate
//! (an independent implementation of the spec), including secret rotation.

mod common;

use std::time::Duration;

use common::{odata_error, register, TestServer};
use herald_testkit::{Captured, Receiver};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(requests_are_signed_and_rotation_keeps_the_old_secret);

fn verify(secret: &str, r: &Captured) -> bool {
    let mut headers = http::HeaderMap::new();
    for (k, v) in &r.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            headers.append(name, value);
        }
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&r.body, &headers)
        .is_ok()
}

async fn requests_are_signed_and_rotation_keeps_the_old_secret(s: TestServer) {
    let rx = Receiver::start().await;
    let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let new = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let hook = s
        .create("serviceendpoints", json!({"name": "signed", "url": rx.url(), "authtype": 5,
            "authvalue": "<settings><setting name=\"X-K\" value=\"v\" /></settings>", "herald_signingsecret": old}))
        .await;
    let (_, body) = s.get(&format!("serviceendpoints({hook})")).await;
    assert_eq!(body["herald_issigningsecretset"], true);
    assert!(
        body.get("herald_signingsecret").is_none(),
        "the secret is write-only"
    );
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;

    s.create("accounts", json!({"name": "one"})).await;
    let r = rx.wait_for(1, Duration::from_secs(5)).await.remove(0);
    assert!(r.header("webhook-id").unwrap().starts_with("msg_"));
    assert!(r.header("webhook-signature").unwrap().starts_with("v1,"));
    assert!(verify(old, &r), "verifies with the secret");
    assert!(!verify(new, &r), "does not verify with another secret");

    let (st, _) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"herald_signingsecret": new}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    rx.clear();
    s.create("accounts", json!({"name": "two"})).await;
    let r = rx.wait_for(1, Duration::from_secs(5)).await.remove(0);
    assert_eq!(
        r.header("webhook-signature").unwrap().split(' ').count(),
        2,
        "both signatures during the grace period"
    );
    assert!(verify(new, &r) && verify(old, &r));

    let (st, _) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"herald_signingsecret": null}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    rx.clear();
    s.create("accounts", json!({"name": "three"})).await;
    let r = rx.wait_for(1, Duration::from_secs(5)).await.remove(0);
    assert!(r.header("webhook-signature").is_none());

    let (st, _, body) = s.post("serviceendpoints", json!({"name": "bad", "url": rx.url(), "authtype": 4, "authvalue": "k", "herald_signingsecret": "secret"})).await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("whsec_"));
}
