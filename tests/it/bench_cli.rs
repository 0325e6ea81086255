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

/// `bench sync-step`: the latency one synchronous step adds to an update,
/// measured in alternating blocks without and with the step.
#[test]
fn sync_step_reports_the_added_latency() {
    let doc = bench(&["sync-step", "--n", "50"]);
    let s = scenario(&doc, "sync-step");
    assert_eq!(s["n"], 50, "--n is honoured: {s}");
    let without = positive(s, "without_p50_ms");
    let with = positive(s, "with_p50_ms");
    positive(s, "without_p99_ms");
    positive(s, "with_p99_ms");
    // The difference may come out negative on a noisy machine: present and
    // consistent with the two sides, not necessarily positive.
    let added = s["added_p50_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("added_p50_ms missing in {s}"));
    // (Each figure is rounded to 0.001 ms in the JSON.)
    assert!((added - (with - without)).abs() <= 0.0015, "{s}");
    assert!(s["added_p99_ms"].as_f64().is_some(), "{s}");
}

/// `bench query` with a small N: the option sets how many contacts are
/// loaded, and the run reports the rows, the store's plan and latencies.
#[test]
fn query_honours_n() {
    let doc = bench(&["query", "--n", "300"]);
    let q = scenario(&doc, "query");
    assert_eq!(q["n"], 300, "--n is honoured: {q}");
    assert_eq!(q["rows"], 300, "every contact of the one account: {q}");
    assert!(
        q["plan"].as_array().is_some_and(|p| !p.is_empty()),
        "the store's plan: {q}"
    );
    let p50 = positive(q, "query_p50_ms");
    assert!(positive(q, "query_p99_ms") >= p50);
}

/// `bench drain`: a backlog of N ready System Jobs written first, then
/// delivered by the workers; reports jobs delivered/s beside the ceiling.
#[test]
fn drain_reports_delivered_per_second() {
    let doc = bench(&["drain", "--n", "200"]);
    let d = scenario(&doc, "drain");
    assert_eq!(d["n"], 200, "--n is honoured: {d}");
    positive(d, "backlog_writes_per_s");
    let delivered = positive(d, "delivered_per_s");
    positive(d, "delivered_per_s_vs_ceiling");
    let completed = positive(d, "completed_per_s");
    assert!(
        completed <= delivered * 1.001,
        "the queue empties after the last delivery: {d}"
    );
    // The bench process's memory while the backlog waits and at its peaks
    // (Linux: /proc/self/status), and the CPU it used over the drain.
    if std::path::Path::new("/proc/self/status").exists() {
        let waiting = positive(d, "rss_waiting_mb");
        assert!(positive(d, "peak_rss_build_mb") >= waiting * 0.99, "{d}");
        positive(d, "peak_rss_drain_mb");
        positive(d, "cpu_bench_process_pct");
        positive(d, "machine_busy_pct");
    }
}

/// `bench backlog`: the backlog built with CreateMultiple, the console's
/// System Jobs page and the seed's failed-jobs query timed while it waits
/// and after the drain, when one job in 1 000 has failed.
#[test]
fn backlog_times_the_system_jobs_reads() {
    let doc = bench(&["backlog", "--n", "2000", "--runs", "3"]);
    let b = scenario(&doc, "backlog");
    assert_eq!(
        (b["n"].clone(), b["build"].clone()),
        (2000.into(), "create-multiple".into()),
        "{b}"
    );
    positive(b, "backlog_writes_per_s");
    positive(b, "delivered_per_s");
    for phase in ["waiting_", "drained_"] {
        for read in [
            "console_jobs",
            "console_jobs_waiting",
            "console_jobs_far_end",
            "failed_jobs_query",
        ] {
            let p50 = positive(b, &format!("{phase}{read}_p50_ms"));
            assert!(positive(b, &format!("{phase}{read}_p99_ms")) >= p50, "{b}");
        }
    }
    assert_eq!(
        b["waiting_console_jobs_rows"], 50.0,
        "a full first page: {b}"
    );
    assert_eq!(
        b["waiting_console_jobs_far_end_rows"], 50.0,
        "a full page at the far end: {b}"
    );
    assert_eq!(b["waiting_failed_jobs_query_rows"], 0.0, "{b}");
    assert_eq!(
        b["drained_failed_jobs_query_rows"], 2.0,
        "jobs 0 and 1000 failed: {b}"
    );
}

/// `bench create-multiple`: CreateMultiple requests of 1 000 Targets (the
/// last one shorter) with one async step on Create; every record is
/// delivered, and records/s and deliveries/s come beside the ceiling.
#[test]
fn create_multiple_reports_records_and_deliveries_per_second() {
    let doc = bench(&["create-multiple", "--n", "1500", "--concurrency", "2"]);
    let m = scenario(&doc, "create-multiple");
    assert_eq!(
        (m["n"].clone(), m["per_request"].clone()),
        (1500.into(), 1000.into()),
        "{m}"
    );
    positive(m, "records_per_s");
    positive(m, "records_per_s_vs_ceiling");
    positive(m, "deliveries_per_s");
    positive(m, "deliveries_per_s_vs_ceiling");
    let p50 = positive(m, "request_p50_ms");
    assert!(positive(m, "request_p99_ms") >= p50, "{m}");
    assert!(
        m["commit_to_receiver_p99_ms"]
            .as_f64()
            .is_some_and(|v| v >= 0.0),
        "{m}"
    );
}
