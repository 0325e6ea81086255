//! BC subscription expiry: an expired subscription hears nothing, is
//! hidden from the API and not counted under the cap at once, and is then
//! removed by the notifier with its pending notifications.

use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::harness::{error_message, handshakes, notifications, values, Bc};
use crate::common::Backend;

both_backends!(
    starts_own: expired_subscriptions_get_nothing_and_are_removed,
    expired_subscriptions_are_hidden_and_not_counted,
);

async fn expired_subscriptions_get_nothing_and_are_removed(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let renewed = s.subscribe(&rx.url(), "vendors", None).await;
    s.advance(chrono::Duration::days(2));
    let path = format!(
        "subscriptions('{}')",
        renewed["subscriptionId"].as_str().unwrap()
    );
    let (st, _, body) = s
        .send(Method::PATCH, &path, None, &[("If-Match", "*")])
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    s.advance(chrono::Duration::days(1) - chrono::Duration::seconds(10));
    s.create("customers", json!({"displayName": "late"})).await;
    s.create("vendors", json!({"displayName": "late"})).await;
    let r = s.after_window().await;
    assert_eq!(r.expired, 1, "{r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 1);
    let v = values(&got[0]);
    assert_eq!(v.len(), 1, "only the renewed subscription hears: {v:?}");
    assert_eq!(v[0]["subscriptionId"], renewed["subscriptionId"]);
    let (st, e) = s
        .get(&format!(
            "subscriptions('{}')",
            sub["subscriptionId"].as_str().unwrap()
        ))
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    // Pending notifications of a subscription that expires are dropped too.
    rx.respond(Behavior::status(503));
    s.create("vendors", json!({"displayName": "again"})).await;
    assert_eq!(s.after_window().await.retrying, 1);
    s.advance(chrono::Duration::days(3));
    let r = s.tick().await;
    assert_eq!((r.expired, r.posts), (1, 0), "{r:?}");
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);
}

/// A subscription whose expiry has passed is gone for the API at once —
/// not listed, 404 by id, not renewable, not counted against
/// `bc.max_subscriptions` — even before the notifier removes it.
async fn expired_subscriptions_are_hidden_and_not_counted(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |c| c.bc.max_subscriptions = 2).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let old = s.subscribe(&rx.url(), "customers", None).await;
    let old_path = format!(
        "subscriptions('{}')",
        old["subscriptionId"].as_str().unwrap()
    );
    s.advance(chrono::Duration::days(1));
    let young = s.subscribe(&rx.url(), "vendors", None).await;
    let (st, e) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": s.resource("items")}),
        )
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("maximum"));

    // Just before its expiry it is there; just after, it is not.
    s.advance(chrono::Duration::days(2) - chrono::Duration::seconds(1));
    assert_eq!(s.get(&old_path).await.0, StatusCode::OK);
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    s.advance(chrono::Duration::seconds(1));
    let (st, e) = s.get(&old_path).await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    let (st, list) = s.get("subscriptions").await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<&Value> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["subscriptionId"])
        .collect();
    assert_eq!(ids, vec![&young["subscriptionId"]], "{list}");
    let handshakes_before = handshakes(&rx).len();
    let (st, _, e) = s
        .send(Method::PATCH, &old_path, None, &[("If-Match", "*")])
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    assert_eq!(
        handshakes(&rx).len(),
        handshakes_before,
        "no handshake to renew an expired subscription"
    );
    let (st, _, e) = s
        .send(Method::DELETE, &old_path, None, &[("If-Match", "*")])
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);

    // The expired one no longer takes a place under the cap.
    let third = s.subscribe(&rx.url(), "items", None).await;
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2, "{list}");
    let (st, e) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": s.resource("employees")}),
        )
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST)
        .contains("maximum number of subscriptions (2)"));

    // The notifier then removes the row; what the API shows does not change.
    assert_eq!(s.tick().await.expired, 1);
    let (_, list) = s.get("subscriptions").await;
    let mut ids: Vec<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["subscriptionId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = vec![
        young["subscriptionId"].as_str().unwrap().to_string(),
        third["subscriptionId"].as_str().unwrap().to_string(),
    ];
    want.sort();
    assert_eq!(ids, want);
}
