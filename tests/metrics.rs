//! `/metrics` in Prometheus text format reflects what the server did.

mod common;

use common::{register, Backend, TestServer};
use herald_testkit::Receiver;
use serde_json::json;

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
        r#"herald_http_requests_total{route="/api/data/{version}/{*rest}",method="POST",status="204"}"#,
    );
    has(
        r#"herald_http_requests_total{route="/api/data/{version}/{*rest}",method="GET",status="404"} 1"#,
    );
    has(r#"herald_webhook_deliveries_total{mode="sync",endpoint="metered",outcome="succeeded"} 1"#);
    has("herald_webhook_delivery_seconds_bucket");
    has("herald_jobs_ready 0");
    has("herald_jobs_oldest_waiting_seconds");
    has("herald_store_connections_in_use");
    has("# EOF");
}
