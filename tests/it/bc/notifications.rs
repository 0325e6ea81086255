//! BC notifications that arrive: changes held for the delay window and
//! coalesced per record, one request per notification URL, many changes
//! become one `collection` entry, the background notifier on the real
//! clock, and pending notifications surviving a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_server::bc;
use herald_server::config::Config;
use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::{notifications, values, Bc};
use crate::common::Backend;

both_backends!(
    starts_own: changes_are_held_and_coalesced,
    subscriptions_sharing_a_url_share_a_request,
    many_changes_become_one_collection_notification,
    pending_notifications_survive_a_restart,
);

async fn changes_are_held_and_coalesced(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let before_sub = s.create("customers", json!({"displayName": "Old"})).await;
    let old_id = before_sub["id"].as_str().unwrap().to_string();
    let sub = s
        .subscribe(&rx.url_for("/notify"), "customers", Some("cs"))
        .await;

    for i in 0..5 {
        s.patch("customers", &old_id, json!({"city": format!("City {i}")}))
            .await;
    }
    let fresh = s.create("customers", json!({"displayName": "New"})).await;
    let fresh_id = fresh["id"].as_str().unwrap().to_string();
    s.patch("customers", &fresh_id, json!({"city": "X"})).await;
    let gone = s.create("customers", json!({"displayName": "Gone"})).await;
    let gone_id = gone["id"].as_str().unwrap().to_string();
    let (st, _, _) = s
        .send(
            Method::DELETE,
            &format!("{}({gone_id})", s.collection("customers")),
            None,
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // Another table, unwatched: nothing captured for it.
    s.create("items", json!({"displayName": "Bike"})).await;

    // Held for the delay window.
    let r = s.tick().await;
    assert_eq!((r.windows, r.posts), (0, 0), "{r:?}");
    s.advance(chrono::Duration::seconds(20));
    assert_eq!(s.tick().await.posts, 0);
    assert!(notifications(&rx).is_empty());
    s.advance(chrono::Duration::seconds(11));
    let r = s.tick().await;
    assert_eq!((r.windows, r.posts, r.delivered), (1, 1, 3), "{r:?}");

    let got = notifications(&rx);
    assert_eq!(got.len(), 1);
    let n = &got[0];
    assert_eq!(n.path, "/notify");
    assert!(n
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert!(n
        .header("x-ms-correlation-id")
        .is_some_and(|c| !c.is_empty()));
    let v = values(n);
    let by = |id: &str| {
        v.iter()
            .find(|e| {
                e["resource"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("customers({id})"))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no entry for {id}: {v:?}"))
    };
    let c = s.company();
    let old = by(&old_id);
    assert_eq!(old["changeType"], "updated", "update x5 is one 'updated'");
    assert_eq!(
        old["resource"],
        format!("api/v2.0/companies({c})/customers({old_id})")
    );
    assert_eq!(old["subscriptionId"], sub["subscriptionId"]);
    assert_eq!(old["clientState"], "cs");
    assert_eq!(old["expirationDateTime"], sub["expirationDateTime"]);
    assert!(old["lastModifiedDateTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        by(&fresh_id)["changeType"],
        "created",
        "create-then-update stays 'created'"
    );
    assert_eq!(
        by(&gone_id)["changeType"],
        "deleted",
        "anything-then-delete is 'deleted'"
    );
    assert_eq!(v.len(), 3);

    // Nothing more is due; the next change starts a new window.
    assert_eq!(s.tick().await.posts, 0);
    s.patch("customers", &old_id, json!({"city": "Again"}))
        .await;
    s.after_window().await;
    let got = notifications(&rx);
    assert_eq!(got.len(), 2);
    assert_eq!(values(&got[1]).len(), 1);
    assert_eq!(values(&got[1])[0]["changeType"], "updated");
}

async fn subscriptions_sharing_a_url_share_a_request(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let other = Receiver::start_with(Behavior::echo_validation_token()).await;
    let a = s.subscribe(&rx.url(), "customers", Some("a")).await;
    let b2 = s.subscribe(&rx.url(), "vendors", Some("b")).await;
    s.subscribe(&other.url(), "vendors", None).await;
    s.create("customers", json!({"displayName": "C"})).await;
    s.create("vendors", json!({"displayName": "V"})).await;
    let r = s.after_window().await;
    assert_eq!((r.windows, r.posts), (2, 2), "{r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 1, "one request for both subscriptions");
    let v = values(&got[0]);
    assert_eq!(v.len(), 2);
    let mut ids: Vec<&str> = v
        .iter()
        .map(|e| e["subscriptionId"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![
        a["subscriptionId"].as_str().unwrap(),
        b2["subscriptionId"].as_str().unwrap(),
    ];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(notifications(&other).len(), 1);
    assert_eq!(values(&notifications(&other)[0]).len(), 1);
}

async fn many_changes_become_one_collection_notification(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |c| c.bc.collection_threshold = 10).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&rx.url(), "salesInvoices", None).await;
    let v1 = Receiver::start_with(Behavior::echo_validation_token()).await;
    let (st, body) = s.post("/api/v1.0/subscriptions", json!({"notificationUrl": v1.url(), "resource": format!("/api/v1.0/companies({})/salesInvoices", s.company())})).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    for i in 0..11 {
        s.create("salesInvoices", json!({"number": format!("S-{i}")}))
            .await;
    }
    let r = s.after_window().await;
    assert_eq!(r.queued, 2, "{r:?}");
    let v = values(&notifications(&rx)[0]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["changeType"], "collection");
    let resource = v[0]["resource"].as_str().unwrap().to_string();
    let prefix = format!(
        "/api/v2.0/companies({})/salesInvoices?$filter=lastModifiedDateTime%20gt%20",
        s.company()
    );
    assert!(resource.starts_with(&prefix), "{resource}");
    // The subscriber can read the collection back with that very filter.
    let (st, back) = s.get(&resource.replace("%20", " ")).await;
    assert_eq!(st, StatusCode::OK, "{back}");
    assert_eq!(back["value"].as_array().unwrap().len(), 11);
    let v1_entry = &values(&notifications(&v1)[0])[0];
    assert!(
        v1_entry["resource"]
            .as_str()
            .unwrap()
            .contains("?$filter=lastDateTimeModified%20gt%20"),
        "{v1_entry}"
    );

    // At the threshold itself, records are notified one by one.
    for i in 0..10 {
        s.create("salesInvoices", json!({"number": format!("T-{i}")}))
            .await;
    }
    s.after_window().await;
    let v = values(&notifications(&rx)[1]);
    assert_eq!(v.len(), 10);
    assert!(v.iter().all(|e| e["changeType"] == "created"));

    // The threshold counts distinct records after coalescing, not changes:
    // 1 record changed 16 times is 1 record.
    let one = s.create("salesInvoices", json!({"number": "U-0"})).await;
    let id = one["id"].as_str().unwrap().to_string();
    for i in 0..15 {
        s.patch("salesInvoices", &id, json!({"status": format!("S{i}")}))
            .await;
    }
    s.after_window().await;
    let v = values(&notifications(&rx)[2]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["changeType"], "created");
    assert!(v[0]["resource"]
        .as_str()
        .unwrap()
        .ends_with(&format!("salesInvoices({id})")));
}

/// The default threshold (1000): 1 001 inserts give one `collection`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_threshold_1001_inserts_give_one_collection() {
    let s = Bc::start(Backend::Sqlite, "collection_1001", |_| {})
        .await
        .unwrap();
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&rx.url(), "items", None).await;
    let s = Arc::new(s);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.spawn(async move {
            for i in (w..1001).step_by(8) {
                s.create("items", json!({"number": format!("I-{i}")})).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let r = s.after_window().await;
    assert_eq!((r.queued, r.delivered), (1, 1), "{r:?}");
    let v = values(&notifications(&rx)[0]);
    assert_eq!(v[0]["changeType"], "collection");
    assert!(v[0]["resource"]
        .as_str()
        .unwrap()
        .contains("/items?$filter=lastModifiedDateTime%20gt%20"));
}

/// With the real clock and the background task (not held), a change is
/// delivered on its own once the delay passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_notifier_delivers_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = dir.path().to_path_buf();
    config.server.allow_private_targets = true;
    config.server.admin_key = Some("k".into());
    config.bc.notification_delay = Duration::from_millis(300);
    let running = herald_server::server::start(config).await.unwrap();
    let base = format!("http://{}/api/v2.0", running.addr);
    let (tx, rx_stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(running.serve(async move {
        let _ = rx_stop.await;
    }));
    let http = reqwest::Client::new();
    let company = bc::default_company_id();
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let resp = http
        .post(format!("{base}/subscriptions"))
        .bearer_auth("k")
        .json(&json!({"notificationUrl": rx.url(), "resource": format!("/api/v2.0/companies({company})/vendors")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let started = Instant::now();
    let resp = http
        .post(format!("{base}/companies({company})/vendors"))
        .bearer_auth("k")
        .json(&json!({"displayName": "V"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "held for the delay"
    );
    assert_eq!(values(&got[1])[0]["changeType"], "created");
    let _ = tx.send(());
}

async fn pending_notifications_survive_a_restart(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&rx.url(), "customers", None).await;
    for i in 0..3 {
        s.create("customers", json!({"displayName": format!("R{i}")}))
            .await;
    }
    assert_eq!(s.state.store.bc_pending_changes().await.unwrap(), 3);
    let s = s.restart().await;
    let r = s.after_window().await;
    assert_eq!(r.delivered, 3, "{r:?}");
    let v = values(&notifications(&rx)[0]);
    assert!(v.iter().all(|e| e["changeType"] == "created"));

    // A batch waiting for its retry survives too.
    rx.respond(Behavior::status(500));
    s.create("customers", json!({"displayName": "R3"})).await;
    assert_eq!(s.after_window().await.retrying, 1);
    let s = s.restart().await;
    rx.respond(Behavior::status(200));
    s.advance(chrono::Duration::minutes(1));
    assert_eq!(s.tick().await.delivered, 1);
}
