//! Standard Webhooks signatures, verified by the `standardwebhooks` crate
//! (an independent implementation of the spec), including secret rotation.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{job_of, odata_error, register, Backend, TestServer};
use herald_core::clock::ManualClock;
use herald_testkit::{Behavior, Captured, Receiver};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(requests_are_signed_and_rotation_keeps_the_old_secret);

both_backends!(
    starts_own: async_deliveries_are_signed_with_one_webhook_id_across_retries,
    after_the_grace_period_only_the_new_secret_signs,
);

const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

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

/// A signed webhook with an async (System Job) step on account Create.
async fn signed_async_step(s: &TestServer, url: &str, secret: &str) -> (String, String) {
    let hook = s
        .create("serviceendpoints", json!({"name": "signed-async", "url": url, "authtype": 5,
            "authvalue": "<settings><setting name=\"X-K\" value=\"v\" /></settings>", "herald_signingsecret": secret}))
        .await;
    let step = register::step(s, &hook, "Create", "account", 40, 1, json!({})).await;
    (hook, step)
}

/// The signatures (`v1,…`) of a request's `webhook-signature` header.
fn signatures(r: &Captured) -> Vec<String> {
    r.header("webhook-signature")
        .unwrap_or_else(|| panic!("no webhook-signature: {:?}", r.headers))
        .split(' ')
        .map(str::to_string)
        .collect()
}

async fn async_deliveries_are_signed_with_one_webhook_id_across_retries(b: Backend, test: &str) {
    let Some(s) = TestServer::start(b, test).await else {
        return;
    };
    // Two 503s: the job's one in-run retry fails too, so the job fails;
    // then the endpoint recovers for the user's retry.
    let rx = Receiver::start_with(Behavior::statuses([503, 503], Behavior::status(200))).await;
    let (_, step) = signed_async_step(&s, &rx.url(), OLD).await;
    s.create("accounts", json!({"name": "retried"})).await;
    let failed = job_of(&s, &step, 31).await;
    let job = failed["asyncoperationid"].as_str().unwrap().to_string();
    let job_uuid = uuid::Uuid::parse_str(&job).unwrap();
    let expected_id = format!("msg_{}", job_uuid.simple());
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "503 gets exactly one more try");

    let (st, _, body) = s
        .post(
            &format!("asyncoperations({job})/Microsoft.Dynamics.CRM.herald_Retry"),
            json!({}),
        )
        .await;
    assert!(st.is_success(), "retry: {st} {body}");
    job_of(&s, &step, 30).await;
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(
            r.header("webhook-id"),
            Some(expected_id.as_str()),
            "request #{} carries the job's message id",
            i + 1
        );
        assert!(r.header("webhook-timestamp").is_some());
        assert_eq!(signatures(r).len(), 1);
        assert!(
            verify(OLD, r),
            "request #{} verifies with standardwebhooks",
            i + 1
        );
        assert!(!verify(NEW, r), "not with another secret");
    }
    // What was signed is what was sent: the context of this job.
    assert_eq!(
        got[2].body_json()["OperationId"],
        json!(job),
        "{}",
        got[2].body_text()
    );
}

async fn after_the_grace_period_only_the_new_secret_signs(b: Backend, test: &str) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    // A short grace so the advanced clock stays within the verifier's
    // ±5 min timestamp tolerance.
    let Some(s) = TestServer::start_with_clock(b, test, clock.clone(), |c| {
        c.delivery.secret_rotation_grace = Duration::from_secs(60)
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start().await;
    let (hook, step) = signed_async_step(&s, &rx.url(), OLD).await;
    let (st, _) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"herald_signingsecret": NEW}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    // Within the grace period: both secrets sign.
    s.create("accounts", json!({"name": "during"})).await;
    let r = rx.wait_for(1, Duration::from_secs(15)).await.remove(0);
    assert_eq!(signatures(&r).len(), 2, "both signatures during the grace");
    assert!(verify(NEW, &r) && verify(OLD, &r));
    job_of(&s, &step, 30).await;

    // Past it (on the server's clock): only the new secret.
    clock.advance(chrono::Duration::seconds(90));
    rx.clear();
    s.create("accounts", json!({"name": "after"})).await;
    let r = rx.wait_for(1, Duration::from_secs(15)).await.remove(0);
    assert!(r.body_text().contains("after"), "{}", r.body_text());
    assert_eq!(signatures(&r).len(), 1, "one signature after the grace");
    assert!(verify(NEW, &r), "the new secret signs");
    assert!(!verify(OLD, &r), "the old secret no longer does");
    let ts: i64 = r
        .header("webhook-timestamp")
        .and_then(|t| t.parse().ok())
        .expect("webhook-timestamp");
    assert!(
        ts >= clock_now(&clock) - 5,
        "the timestamp comes from the server's clock"
    );
}

fn clock_now(clock: &ManualClock) -> i64 {
    use herald_core::clock::Clock;
    clock.now().timestamp()
}
