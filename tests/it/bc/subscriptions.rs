//! BC subscriptions: the validation handshake and the fields of a
//! subscription, failed handshakes, input checks and the cap, renewal and
//! deletion with If-Match, and `herald subscription list|show|delete`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald_testkit::{free_port, Behavior, Receiver, Reply};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::harness::{error_message, handshakes, Bc};
use crate::common::cli::herald_command;
use crate::common::Backend;

both_backends!(
    starts_own: subscription_handshake_and_fields,
    failed_handshakes_store_nothing,
    subscription_input_is_checked,
    renew_and_delete_need_if_match,
    cli_lists_shows_and_deletes_subscriptions,
);

async fn subscription_handshake_and_fields(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let url = rx.url_for("/hook?tenant=a");
    let before = s.now();
    let (st, h, sub) = s
        .send(Method::POST, "subscriptions", Some(json!({"notificationUrl": url, "resource": s.resource("customers"), "clientState": "secret-1"})), &[])
        .await;
    assert_eq!(st, StatusCode::CREATED, "{sub}");
    assert!(h.get("etag").is_some());
    let hs = handshakes(&rx);
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].method, "POST");
    assert_eq!(hs[0].path, "/hook");
    assert_eq!(
        hs[0].query_param("tenant").as_deref(),
        Some("a"),
        "the URL's own query is kept, the token appended with &"
    );
    assert_eq!(hs[0].header("content-length"), Some("0"));
    assert_eq!(hs[0].header("clientstate"), Some("secret-1"));
    assert!(hs[0].body.is_empty());

    let id = sub["subscriptionId"].as_str().unwrap().to_string();
    assert_eq!(sub["notificationUrl"], url);
    assert_eq!(sub["resource"], s.resource("customers"));
    assert_eq!(sub["clientState"], "secret-1");
    assert_eq!(sub["userId"].as_str().unwrap().len(), 36);
    assert!(sub["@odata.etag"].is_string());
    assert!(sub["lastModifiedDateTime"].is_string());
    let expires = DateTime::parse_from_rfc3339(sub["expirationDateTime"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let three_days = before + chrono::Duration::days(3);
    assert!(
        (expires - three_days).num_seconds().abs() <= 1,
        "{expires} vs {three_days}"
    );

    let (st, list) = s.get("subscriptions").await;
    assert_eq!(
        (st, list["value"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    for path in [
        format!("subscriptions('{id}')"),
        format!("subscriptions({id})"),
    ] {
        let (st, one) = s.get(&path).await;
        assert_eq!(
            (st, one["subscriptionId"].clone()),
            (StatusCode::OK, json!(id)),
            "{path}"
        );
    }
    let (st, body) = s.get("subscriptions('nope')").await;
    error_message(st, &body, StatusCode::NOT_FOUND);

    let (st, supported) = s.get("webhookSupportedEntities").await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = supported["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 22);
    for n in [
        "customers",
        "items",
        "vendors",
        "salesInvoices",
        "generalLedgerEntries",
        "companyInformation",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    // An absolute resource and the v1.0 endpoint work too. The resource is
    // only parsed for its company and entity; notifications go to the
    // loopback receiver's notificationUrl.
    let abs = format!(
        "https://api.businesscentral.dynamics.com/v2.0/t/prod/api/v2.0/companies({})/items",
        s.company()
    );
    let (st, body) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": abs}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = s.post("/api/v1.0/subscriptions", json!({"notificationUrl": rx.url(), "resource": format!("/api/v1.0/companies({})/vendors", s.company()), "clientState": "x".repeat(250)})).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
}

async fn failed_handshakes_store_nothing(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |c| {
        c.bc.handshake_timeout = Duration::from_millis(300)
    })
    .await
    else {
        return;
    };
    let body = |url: String| json!({"notificationUrl": url, "resource": s.resource("customers")});

    let wrong = Receiver::start_with(Behavior::status_with_body(200, "not-the-token")).await;
    let (st, e) = s.post("subscriptions", body(wrong.url())).await;
    let m = error_message(st, &e, StatusCode::BAD_REQUEST);
    assert!(
        m.contains("validationToken") && m.contains("not-the-token"),
        "{m}"
    );

    let status = Receiver::start_with(Behavior::status(404)).await;
    let (st, e) = s.post("subscriptions", body(status.url())).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("404"));

    let redirect = Receiver::start_with(Behavior::redirect("https://example.com/")).await;
    let (st, e) = s.post("subscriptions", body(redirect.url())).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("302"));

    let slow = Receiver::start_with(Behavior::Delay {
        delay: Duration::from_secs(3),
        reply: Reply::status(200),
    })
    .await;
    let started = Instant::now();
    let (st, e) = s.post("subscriptions", body(slow.url())).await;
    let m = error_message(st, &e, StatusCode::BAD_REQUEST);
    assert!(m.contains("no answer within 300 ms"), "{m}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the handshake timeout applies"
    );

    let nobody = free_port();
    let (st, e) = s.post("subscriptions", body(nobody.url())).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("could not be reached"));

    let (_, list) = s.get("subscriptions").await;
    assert_eq!(
        list["value"],
        json!([]),
        "nothing is stored after a failed handshake"
    );
}

async fn subscription_input_is_checked(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |c| c.bc.max_subscriptions = 2).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let c = s.company();
    for (body, needle) in [
        (
            json!({"notificationUrl": rx.url(), "resource": format!("/api/v2.0/companies({c})/widgets")}),
            "does not support webhooks",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": format!("/api/v2.0/companies({})/customers", uuid::Uuid::new_v4())}),
            "does not exist",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": "customers"}),
            "not a Business Central API path",
        ),
        (json!({"notificationUrl": rx.url()}), "resource is required"),
        (
            json!({"resource": s.resource("items")}),
            "notificationUrl is required",
        ),
        (
            json!({"notificationUrl": "ftp://x/", "resource": s.resource("items")}),
            "http",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": s.resource("items"), "clientState": "x".repeat(2049)}),
            "2048",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": s.resource("items"), "color": 1}),
            "color",
        ),
    ] {
        let (st, e) = s.post("subscriptions", body.clone()).await;
        let m = error_message(st, &e, StatusCode::BAD_REQUEST);
        assert!(m.contains(needle), "{body}: {m}");
    }
    let (st, e) = s.post("/api/v1.0/subscriptions", json!({"notificationUrl": rx.url(), "resource": s.resource("items"), "clientState": "x".repeat(251)})).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("250"));
    assert!(
        handshakes(&rx).is_empty(),
        "invalid input never reaches the subscriber"
    );

    // The cap.
    s.subscribe(&rx.url(), "items", None).await;
    s.subscribe(&rx.url(), "vendors", Some(&"x".repeat(2048)))
        .await;
    let (st, e) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": s.resource("customers")}),
        )
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST)
        .contains("maximum number of subscriptions (2)"));
    assert_eq!(handshakes(&rx).len(), 2);
}

async fn renew_and_delete_need_if_match(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", Some("one")).await;
    let id = sub["subscriptionId"].as_str().unwrap().to_string();
    let etag = sub["@odata.etag"].as_str().unwrap().to_string();
    let path = format!("subscriptions('{id}')");

    let (st, _, e) = s.send(Method::PATCH, &path, Some(json!({})), &[]).await;
    error_message(st, &e, StatusCode::PRECONDITION_REQUIRED);
    let (st, _, e) = s
        .send(
            Method::PATCH,
            &path,
            Some(json!({})),
            &[("If-Match", "W/\"99\"")],
        )
        .await;
    error_message(st, &e, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        handshakes(&rx).len(),
        1,
        "no handshake without a matching If-Match"
    );

    s.advance(chrono::Duration::days(2));
    let (st, _, renewed) = s
        .send(Method::PATCH, &path, Some(json!({"notificationUrl": rx.url(), "resource": s.resource("customers"), "clientState": "two"})), &[("If-Match", &etag)])
        .await;
    assert_eq!(st, StatusCode::OK, "{renewed}");
    let hs = handshakes(&rx);
    assert_eq!(hs.len(), 2, "renewal handshakes again");
    assert_eq!(hs[1].header("clientstate"), Some("two"));
    assert_eq!(renewed["clientState"], "two");
    assert_ne!(renewed["@odata.etag"], json!(etag));
    let expires = DateTime::parse_from_rfc3339(renewed["expirationDateTime"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        (expires - (s.now() + chrono::Duration::days(3)))
            .num_seconds()
            .abs()
            <= 1
    );

    // A renewal whose handshake fails keeps the subscription as it was.
    rx.respond(Behavior::status(500));
    let new_etag = renewed["@odata.etag"].as_str().unwrap().to_string();
    let (st, _, e) = s
        .send(Method::PATCH, &path, None, &[("If-Match", &new_etag)])
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("500"));
    let (_, now) = s.get(&path).await;
    assert_eq!(now["expirationDateTime"], renewed["expirationDateTime"]);

    let (st, _, e) = s.send(Method::DELETE, &path, None, &[]).await;
    error_message(st, &e, StatusCode::PRECONDITION_REQUIRED);
    let (st, _, e) = s
        .send(Method::DELETE, &path, None, &[("If-Match", &etag)])
        .await;
    error_message(st, &e, StatusCode::PRECONDITION_FAILED);
    let (st, _, _) = s
        .send(Method::DELETE, &path, None, &[("If-Match", &new_etag)])
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = s.get(&path).await;
    error_message(st, &e, StatusCode::NOT_FOUND);
}

async fn cli_lists_shows_and_deletes_subscriptions(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", Some("cs")).await;
    let id = sub["subscriptionId"].as_str().unwrap().to_string();
    let base = s.base.clone();
    let run = move |args: &[&str]| {
        let out = herald_command()
            .args(["--url", &base, "--key", "test-admin-key"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let run = Arc::new(run);
    let r = run.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || r(&["subscription", "list"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains(&id) && out.contains("customers") && out.to_uppercase().contains("EXPIRES"),
        "{out}"
    );
    let r = run.clone();
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || r(&["subscription", "list", "--output", "json"]))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["subscriptionId"], json!(id));
    let (r, i) = (run.clone(), id.clone());
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || r(&["subscription", "show", &i, "-o", "json"]))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["clientState"], "cs");
    let r = run.clone();
    let (ok, _, err) = tokio::task::spawn_blocking(move || r(&["subscription", "show", "nope"]))
        .await
        .unwrap();
    assert!(!ok && err.contains("nope"), "{err}");
    let (r, i) = (run.clone(), id.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || r(&["subscription", "delete", &i]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains(&id) || err.contains(&id), "{out}{err}");
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"], json!([]));
}
