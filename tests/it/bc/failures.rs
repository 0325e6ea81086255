//! BC notifications that fail: retryable answers are retried on the
//! 1 min / 10 min / 100 min … steps (Retry-After honoured), other answers
//! and redirects delete the subscription at once, no answer is retried, and
//! 36 hours of failures delete the subscription.

use std::time::{Duration, Instant};

use herald_testkit::{Behavior, Receiver, Reply};
use reqwest::StatusCode;
use serde_json::json;

use super::harness::{error_message, notifications, values, Bc};
use crate::common::Backend;

both_backends!(
    starts_own: retryable_failures_are_retried_until_delivered,
    other_failures_delete_the_subscription_at_once,
    no_answer_is_retried_not_deleted,
    a_redirect_deletes_the_subscription,
    subscription_is_deleted_after_36_hours_of_failures,
);

async fn retryable_failures_are_retried_until_delivered(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::statuses(
        [503, 500, 408],
        Behavior::status(200),
    )))
    .await;
    s.subscribe(&rx.url(), "customers", None).await;
    s.create("customers", json!({"displayName": "A"})).await;
    let r = s.after_window().await;
    assert_eq!((r.posts, r.retrying), (1, 1), "{r:?}");
    assert_eq!(s.tick().await.posts, 0, "not before the first delay");
    s.advance(chrono::Duration::seconds(59));
    assert_eq!(s.tick().await.posts, 0);
    s.advance(chrono::Duration::seconds(1));
    assert_eq!(s.tick().await.retrying, 1, "after 1 min");
    s.advance(chrono::Duration::minutes(9));
    assert_eq!(s.tick().await.posts, 0);
    s.advance(chrono::Duration::minutes(1));
    assert_eq!(s.tick().await.retrying, 1, "after 10 min more");
    // A change meanwhile joins the pending batch.
    s.create("customers", json!({"displayName": "B"})).await;
    s.advance(chrono::Duration::minutes(100));
    let r = s.tick().await;
    assert_eq!((r.posts, r.delivered), (1, 2), "after 100 min more: {r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 4);
    assert_eq!(
        values(&got[0]),
        values(&got[2]),
        "the same batch is sent again"
    );
    let (_, subs) = s.get("subscriptions").await;
    assert_eq!(
        subs["value"].as_array().unwrap().len(),
        1,
        "still subscribed"
    );
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);

    // Retry-After is honoured.
    rx.respond(Behavior::sequence(
        [Behavior::Reply(
            Reply::status(429).with_header("Retry-After", "300"),
        )],
        Behavior::status(200),
    ));
    s.create("customers", json!({"displayName": "C"})).await;
    assert_eq!(s.after_window().await.retrying, 1);
    s.advance(chrono::Duration::minutes(4));
    assert_eq!(
        s.tick().await.posts,
        0,
        "Retry-After: 300 beats the 1 min step"
    );
    s.advance(chrono::Duration::minutes(1));
    assert_eq!(s.tick().await.delivered, 1);
}

async fn other_failures_delete_the_subscription_at_once(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::status(404))).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let keep = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&keep.url(), "customers", None).await;
    s.create("customers", json!({"displayName": "A"})).await;
    let r = s.after_window().await;
    assert_eq!((r.posts, r.removed, r.delivered), (2, 1, 1), "{r:?}");
    let (st, e) = s
        .get(&format!(
            "subscriptions('{}')",
            sub["subscriptionId"].as_str().unwrap()
        ))
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    s.create("customers", json!({"displayName": "B"})).await;
    s.after_window().await;
    assert_eq!(notifications(&rx).len(), 1, "nothing more after the 404");
    assert_eq!(notifications(&keep).len(), 2);
}

/// A subscriber that never answers (`bc.notification_timeout` passes), or
/// closes the connection without a status, is retried like a 5xx — the
/// subscription stays — and gets the batch once it answers.
async fn no_answer_is_retried_not_deleted(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |c| {
        c.bc.notification_timeout = Duration::from_millis(300)
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::Hang)).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let path = format!(
        "subscriptions('{}')",
        sub["subscriptionId"].as_str().unwrap()
    );
    s.create("customers", json!({"displayName": "A"})).await;
    let started = Instant::now();
    let r = s.after_window().await;
    assert_eq!(
        (r.posts, r.retrying, r.removed, r.delivered),
        (1, 1, 0, 0),
        "{r:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the notification timeout bounds the wait"
    );
    assert_eq!(notifications(&rx).len(), 1, "the POST was made");
    assert_eq!(s.get(&path).await.0, StatusCode::OK, "still subscribed");
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 1);

    // A connection closed without an answer is no answer too.
    rx.respond(Behavior::Close);
    s.advance(chrono::Duration::minutes(1));
    let r = s.tick().await;
    assert_eq!((r.posts, r.retrying, r.removed), (1, 1, 0), "{r:?}");
    assert_eq!(s.get(&path).await.0, StatusCode::OK, "still subscribed");

    rx.respond(Behavior::status(200));
    s.advance(chrono::Duration::minutes(10));
    let r = s.tick().await;
    assert_eq!((r.posts, r.delivered, r.removed), (1, 1, 0), "{r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 3);
    assert_eq!(
        values(&got[0]),
        values(&got[2]),
        "the same batch, delivered"
    );
    assert_eq!(s.get(&path).await.0, StatusCode::OK);
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);
}

/// A 302 to a notification is an answer that is not 2xx and not
/// retryable: the redirect is not followed and the subscription is deleted.
async fn a_redirect_deletes_the_subscription(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let elsewhere = Receiver::start().await;
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::redirect(
        elsewhere.url_for("/moved"),
    )))
    .await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let path = format!(
        "subscriptions('{}')",
        sub["subscriptionId"].as_str().unwrap()
    );
    s.create("customers", json!({"displayName": "A"})).await;
    let r = s.after_window().await;
    assert_eq!(
        (r.posts, r.removed, r.retrying, r.delivered),
        (1, 1, 0, 0),
        "{r:?}"
    );
    assert_eq!(notifications(&rx).len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was not followed"
    );
    let (st, e) = s.get(&path).await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);
    s.create("customers", json!({"displayName": "B"})).await;
    assert_eq!(s.after_window().await.posts, 0, "nothing more is sent");
}

async fn subscription_is_deleted_after_36_hours_of_failures(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::status(503))).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let path = format!(
        "subscriptions('{}')",
        sub["subscriptionId"].as_str().unwrap()
    );
    s.create("customers", json!({"displayName": "A"})).await;
    s.after_window().await;
    let first_failure = s.now();
    let mut removed_at = None;
    for _ in 0..20 {
        s.advance(chrono::Duration::hours(3));
        let r = s.tick().await;
        if r.removed > 0 {
            removed_at = Some(s.now());
            break;
        }
        assert_eq!(
            s.get(&path).await.0,
            StatusCode::OK,
            "still there at {}",
            s.now() - first_failure
        );
    }
    let removed_at = removed_at.expect("the subscription is deleted");
    let after = removed_at - first_failure;
    assert!(
        after >= chrono::Duration::hours(36) && after <= chrono::Duration::hours(39),
        "deleted after {after}"
    );
    assert_eq!(s.get(&path).await.0, StatusCode::NOT_FOUND);
    let posts = notifications(&rx).len();
    assert!(
        (6..=13).contains(&posts),
        "{posts} attempts (one per 3-hour tick once the steps reach 6 h)"
    );
    assert_eq!(
        s.state.store.bc_pending_notifications().await.unwrap(),
        0,
        "the batch is dropped"
    );
}
