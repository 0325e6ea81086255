//! Targets checked at registration (issue 15 item 6): with private targets
//! refused, a webhook, a step on a webhook that points at a forbidden
//! address, or a Business Central subscription's notificationUrl is a 400
//! that says why, for every spelling of a loopback or private address; a
//! webhook registered while they were allowed is still refused at delivery.
//! Every URL here is loopback or private and none is contacted: the
//! refusals happen before anything is sent (the spelling list is also
//! checked on the guard function itself, in herald-delivery).

use herald_testkit::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{odata_error, register, Backend, TestServer};

both_backends!(
    tweak = |c| c.server.allow_private_targets = false;
    forbidden_targets_are_refused_at_registration,
);
both_backends!(starts_own: a_webhook_from_before_gets_no_step_and_no_delivery);

const HEADERS: &str = r#"<settings><setting name="X-K" value="v" /></settings>"#;

async fn forbidden_targets_are_refused_at_registration(s: TestServer) {
    for (url, why) in [
        ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address"),
        ("http://127.1:9/hook", "127.0.0.1 is a loopback address"),
        (
            "http://2130706433:9/hook",
            "127.0.0.1 is a loopback address",
        ),
        (
            "http://0x7f000001:9/hook",
            "127.0.0.1 is a loopback address",
        ),
        ("http://[::ffff:127.0.0.1]:9/hook", "is a loopback address"),
        ("http://[::1]:9/hook", "::1 is a loopback address"),
        ("http://0:9/hook", "0.0.0.0 is an unspecified address"),
        // Never contacted: these two are only registered (no step, no write),
        // refused by the guard before anything could be sent; the guard's own
        // unit tests in herald-delivery cover the ranges.
        ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest", "cloud metadata address"),
        ("http://user@127.0.0.1:9/hook", "user name or password"),
        (
            "http://public.example@127.0.0.1:9/hook",
            "user name or password",
        ),
        // localhost is answered from the hosts file, not by a DNS server.
        (
            "http://localhost:9/hook",
            "localhost resolves only to refused addresses",
        ),
    ] {
        let (st, _, body) = s
            .post(
                "serviceendpoints",
                json!({"name": format!("h-{url}"), "url": url, "contract": 8, "authtype": 5, "authvalue": HEADERS}),
            )
            .await;
        let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
        assert!(
            msg.contains("is refused as a target") && msg.contains(why),
            "{url}: {msg}"
        );
        if why.contains("address") && !why.contains("metadata") {
            assert!(msg.contains("--allow-private-targets"), "{url}: {msg}");
        }
    }
    let (_, list) = s.get("serviceendpoints?$select=name").await;
    assert_eq!(
        list["value"].as_array().unwrap().len(),
        0,
        "nothing registered: {list}"
    );

    // A PATCH to a forbidden URL too.
    let ok = s
        .create(
            "serviceendpoints",
            // Never contacted: only registered.
            json!({"name": "public", "url": "https://93.184.216.34/hook", "contract": 8, "authtype": 5, "authvalue": HEADERS}),
        )
        .await;
    let (st, body) = s
        .patch(
            &format!("serviceendpoints({ok})"),
            json!({"url": "http://127.1:8080/"}),
        )
        .await;
    assert!(
        odata_error(st, &body, StatusCode::BAD_REQUEST).contains("loopback"),
        "{body}"
    );

    // A Business Central subscription: refused before any handshake.
    let (st, _, body) = s
        .send(
            s.request(Method::POST, &format!("{}/api/v2.0/subscriptions", s.base)).json(&json!({
                "notificationUrl": "http://2130706433:9/bc",
                "resource": "/api/v2.0/companies(00000000-0000-0000-0000-000000000001)/customers"
            })),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("is refused as a target") && msg.contains("loopback"),
        "{body}"
    );
}

async fn a_webhook_from_before_gets_no_step_and_no_delivery(b: Backend, test: &str) {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let first_dir = dir.clone();
    // Registered while private targets were allowed.
    let Some(s) = TestServer::start_with(b, test, move |c| c.server.data_dir = first_dir).await
    else {
        return;
    };
    let url = s.state.config.store.database_url.clone();
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "local", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    drop(s);

    let again = if url.is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let s = TestServer::start_with(again, &format!("{test}::refused"), move |c| {
        c.server.data_dir = dir;
        c.store.database_url = url;
        c.server.allow_private_targets = false;
    })
    .await
    .expect("restarted");
    let mid = register::message_id(&s, "Update").await;
    let fid = register::filter_id(&s, &mid, "account").await;
    let (st, _, body) = s
        .post(
            "sdkmessageprocessingsteps",
            json!({
                "sdkmessageid@odata.bind": format!("/sdkmessages({mid})"),
                "sdkmessagefilterid@odata.bind": format!("/sdkmessagefilters({fid})"),
                "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({hook})"),
                "stage": 40, "mode": 0,
            }),
        )
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(
        msg.contains("is refused as a target") && msg.contains("loopback"),
        "{msg}"
    );
    // Its existing step: refused at delivery, after DNS, as ever.
    let (st, _, body) = s.post("accounts", json!({"name": "x"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(
        msg.contains("loopback") && msg.contains("allow-private-targets"),
        "{msg}"
    );
    assert!(rx.requests().is_empty(), "nothing was sent");
}

/// `HERALD_ALLOW_PRIVATE_TARGETS=` (empty, as a unit file or a shell may
/// leave it) means off, not a configuration error.
#[test]
fn an_empty_allow_private_targets_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HERALD_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args([
            "doctor",
            "--listen",
            "127.0.0.1:0",
            "--output",
            "json",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("HERALD_ALLOW_PRIVATE_TARGETS", "")
        .env("HERALD_SERVER__ALLOW_PRIVATE_TARGETS", "")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let config = report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "config")
        .unwrap();
    assert_eq!(config["status"], "OK", "{report}");
    assert!(out.status.success(), "{report}");
}
