//! `herald bench` runs end to end (in-process server, receiver and load
//! generator on SQLite) and its `--output json` parses with positive figures.

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("bench")
        .args(args)
        .args([
            "--store",
            "sqlite",
            "--ceiling-secs",
            "0.3",
            "--output",
            "json",
        ])
        .env_remove("HERALD_BENCH_DATABASE_URL")
        .output()
        .expect("run herald bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "herald bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn scenario<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["scenarios"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["scenario"] == name))
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

fn positive(s: &Value, key: &str) -> f64 {
    let v = s[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {s}"));
    assert!(v > 0.0, "{key} = {v} in {s}");
    v
}

#[test]
fn create_and_async_report_positive_numbers() {
    let doc = bench(&["create", "--n", "50", "--concurrency", "4"]);
    assert_eq!(doc["store"], "sqlite");
    positive(&doc, "ceiling_requests_per_s");
    positive(scenario(&doc, "ceiling"), "requests_per_s");
    let create = scenario(&doc, "create");
    assert_eq!(create["n"], 50);
    positive(create, "creates_per_s");
    positive(create, "creates_per_s_vs_ceiling");
    let p50 = positive(create, "latency_p50_ms");
    assert!(positive(create, "latency_p99_ms") >= p50);

    let doc = bench(&["async", "--n", "50", "--concurrency", "4"]);
    let a = scenario(&doc, "async");
    positive(a, "writes_per_s");
    positive(a, "deliveries_per_s");
    positive(a, "deliveries_per_s_vs_ceiling");
    positive(a, "write_p50_ms");
    positive(a, "send_to_receiver_p99_ms");
    assert!(
        a["commit_to_receiver_p99_ms"]
            .as_f64()
            .is_some_and(|v| v >= 0.0),
        "{a}"
    );
}

/// `bench bc`: 100 subscriptions over 10 URLs; every change is notified
/// once, in one POST per URL, with notifications/s beside the ceiling.
#[test]
fn bc_reports_notifications_per_second() {
    let doc = bench(&["bc", "--n", "300", "--concurrency", "4"]);
    let bc = scenario(&doc, "bc");
    assert_eq!(
        (
            bc["n"].clone(),
            bc["subscriptions"].clone(),
            bc["urls"].clone()
        ),
        (300.into(), 100.into(), 10.into()),
        "{bc}"
    );
    positive(bc, "changes_per_s");
    positive(bc, "notifications_per_s");
    positive(bc, "notifications_per_s_vs_ceiling");
    assert_eq!(bc["posts"], 10.0, "one POST per URL: {bc}");
}
