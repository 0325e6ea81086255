//! `/metrics` in Prometheus text format reflects what the server did, and
//! passes `promtool check metrics` (Debian's `prometheus` package, which
//! scripts/test installs when missing).

use std::sync::Arc;

use crate::common::{job_of, register, Backend, TestServer};
use herald_core::clock::ManualClock;
use herald_server::bc;
use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::json;

/// The `/metrics` text.
async fn scrape(s: &TestServer) -> String {
    let resp = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("GET /metrics");
    assert!(resp.status().is_success());
    resp.text().await.expect("metrics body")
}

/// The `/metrics` text asked for with `accept`; its Content-Type must
/// start with `content_type`.
async fn scrape_as(s: &TestServer, accept: &str, content_type: &str) -> String {
    let resp = s
        .client
        .get(format!("{}/metrics", s.base))
        .header("Accept", accept)
        .send()
        .await
        .expect("GET /metrics");
    let got = resp.headers()["content-type"].to_str().unwrap_or_default();
    assert!(got.starts_with(content_type), "Content-Type {got}");
    resp.text().await.expect("metrics body")
}

/// The value of one series (`name` or `name{labels}`, exactly), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .split(' ')
            .next()?
            .parse()
            .ok()
    })
}

#[track_caller]
fn assert_value(text: &str, series: &str, expected: f64) {
    assert_eq!(value(text, series), Some(expected), "{series} in:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_deliveries() {
    let s = TestServer::start(Backend::Sqlite, "metrics").await.unwrap();
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "metered", &rx.url(), 4, "k").await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    s.create("accounts", json!({"name": "A"})).await;
    s.get("accounts(00000000-0000-0000-0000-000000000001)")
        .await;
    let resp = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let text = resp.text().await.unwrap();
    let has = |needle: &str| assert!(text.contains(needle), "missing {needle} in:\n{text}");
    has(
        r#"herald_http_requests_total{route="/api/data/{version}/accounts",method="POST",status="204"}"#,
    );
    has(
        r#"herald_http_requests_total{route="/api/data/{version}/accounts",method="GET",status="404"} 1"#,
    );
    has(r#"herald_webhook_deliveries_total{mode="sync",endpoint="metered",outcome="succeeded"} 1"#);
    has("herald_webhook_delivery_seconds_bucket");
    has("herald_jobs_ready 0");
    has("herald_jobs_oldest_waiting_seconds");
    has("herald_store_connections_in_use");
    // The Prometheus text format unless OpenMetrics is asked for.
    has("# HELP herald_http_requests_total ");
    assert!(!text.contains("# EOF"), "{text}");
    let om = scrape_as(
        &s,
        "application/openmetrics-text;version=1.0.0",
        "application/openmetrics-text",
    )
    .await;
    assert!(
        om.contains("# EOF") && om.contains("# HELP herald_http_requests "),
        "{om}"
    );
}

/// A scrape taken after traffic (requests, a sync delivery, an async job,
/// a 404, an unknown entity set) passes `promtool check metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_check() {
    let Some(promtool) = find_on_path("promtool") else {
        eprintln!(
            "SKIPPED (promtool): install Debian's prometheus package for promtool \
             (scripts/test does, with apt-get, when it can)"
        );
        return;
    };
    let s = TestServer::start(Backend::Sqlite, "metrics_promtool")
        .await
        .unwrap();
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "linted", &rx.url(), 4, "k").await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    let step = register::step(&s, &hook, "Create", "contact", 40, 1, json!({})).await;
    s.create("accounts", json!({"name": "A"})).await;
    s.create("contacts", json!({"lastname": "C"})).await;
    job_of(&s, &step, 30).await;
    s.get("nosuchset").await;
    let text = scrape_as(&s, "text/plain;version=0.0.4", "text/plain; version=0.0.4").await;
    assert!(
        text.contains(r#"route="/api/data/{version}/{other}""#),
        "an unknown set has the one bounded label:\n{text}"
    );
    let checked = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run promtool");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write the scrape");
        (child.wait_with_output().expect("promtool output"), text)
    })
    .await
    .unwrap();
    let (out, text) = checked;
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- the scrape:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn find_on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_failed_deliveries() {
    let s = TestServer::start(Backend::Sqlite, "metrics_failed")
        .await
        .unwrap();
    let rx = Receiver::start_with(Behavior::status(400)).await;
    let hook = register::webhook(&s, "refusing", &rx.url(), 4, "k").await;
    let step = register::step(&s, &hook, "Create", "lead", 40, 1, json!({})).await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    s.create("leads", json!({"subject": "async"})).await;
    job_of(&s, &step, 31).await;
    let (st, _, body) = s.post("accounts", json!({"name": "sync"})).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{body}");
    let text = scrape(&s).await;
    assert_value(
        &text,
        r#"herald_webhook_deliveries_total{mode="async",endpoint="refusing",outcome="failed"}"#,
        1.0,
    );
    assert_value(
        &text,
        r#"herald_webhook_deliveries_total{mode="sync",endpoint="refusing",outcome="failed"}"#,
        1.0,
    );
    assert_eq!(
        value(
            &text,
            r#"herald_webhook_deliveries_total{mode="async",endpoint="refusing",outcome="succeeded"}"#
        ),
        None,
        "{text}"
    );
    assert_value(&text, "herald_webhook_delivery_seconds_count", 2.0);
}

/// A job nobody has claimed yet (no workers on this server) waits; its age
/// follows the server's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_oldest_waiting_job() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let s = TestServer::start_api_only(Backend::Sqlite, "metrics_waiting", clock.clone(), |_| {})
        .await
        .unwrap();
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "idle", &rx.url(), 4, "k").await;
    register::step(&s, &hook, "Create", "lead", 40, 1, json!({})).await;
    let text = scrape(&s).await;
    assert_value(&text, "herald_jobs_ready", 0.0);
    assert_value(&text, "herald_jobs_oldest_waiting_seconds", 0.0);

    s.create("leads", json!({"subject": "queued"})).await;
    clock.advance(chrono::Duration::seconds(90));
    s.create("leads", json!({"subject": "queued later"})).await;
    let text = scrape(&s).await;
    assert_value(&text, "herald_jobs_ready", 2.0);
    assert_value(&text, "herald_jobs_oldest_waiting_seconds", 90.0);
    clock.advance(chrono::Duration::seconds(30));
    assert_value(
        &scrape(&s).await,
        "herald_jobs_oldest_waiting_seconds",
        120.0,
    );
    assert!(rx.requests().is_empty(), "nothing ran the jobs");
}

/// Business Central: changes in their delay window, notifications waiting
/// to be sent (also while they wait for a retry), and notification POSTs
/// by outcome. The notifier is driven by `bc::tick` on a manual clock.
async fn bc_notification_metrics(b: Backend, test: &str) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let Some(s) = TestServer::start_api_only(b, test, clock.clone(), |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::status(503))).await;
    let company = bc::default_company_id();
    let bc_api = format!("{}/api/v2.0", s.base);
    let (st, _, body) = s
        .post(
            &format!("{bc_api}/subscriptions"),
            json!({"notificationUrl": rx.url(),
                   "resource": format!("/api/v2.0/companies({company})/customers")}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "subscribe: {body}");
    for name in ["A", "B"] {
        let (st, _, body) = s
            .post(
                &format!("{bc_api}/companies({company})/customers"),
                json!({"displayName": name}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "create customer: {body}");
    }
    let text = scrape(&s).await;
    assert_value(&text, "herald_bc_changes_waiting", 2.0);
    assert_value(&text, "herald_bc_notifications_pending", 0.0);

    // Past the delay window the endpoint answers 503: both notifications
    // wait for their retry.
    clock.advance(chrono::Duration::seconds(31));
    let r = bc::tick(&s.state).await.expect("tick");
    assert_eq!((r.posts, r.retrying), (1, 1), "{r:?}");
    let text = scrape(&s).await;
    assert_value(&text, "herald_bc_changes_waiting", 0.0);
    assert_value(&text, "herald_bc_notifications_pending", 2.0);
    assert_value(
        &text,
        r#"herald_bc_notifications_total{outcome="failed"}"#,
        1.0,
    );
    assert_eq!(
        value(&text, r#"herald_bc_notifications_total{outcome="sent"}"#),
        None,
        "{text}"
    );

    // The endpoint recovers; the retry delivers them.
    rx.respond(Behavior::status(200));
    clock.advance(chrono::Duration::minutes(2));
    let r = bc::tick(&s.state).await.expect("tick");
    assert_eq!(r.delivered, 2, "{r:?}");
    let text = scrape(&s).await;
    assert_value(&text, "herald_bc_notifications_pending", 0.0);
    assert_value(
        &text,
        r#"herald_bc_notifications_total{outcome="sent"}"#,
        1.0,
    );
    assert_value(
        &text,
        r#"herald_bc_notifications_total{outcome="failed"}"#,
        1.0,
    );
}

both_backends!(starts_own: bc_notification_metrics);
