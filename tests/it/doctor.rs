//! `herald doctor` checks the store and every registered webhook.

use crate::common::{register, Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_refused_and_broken_webhooks() {
    let s = TestServer::start(Backend::Sqlite, "doctor").await.unwrap();
    // Never contacted: doctor only checks a URL against the guard and
    // resolves host names (an IP literal needs no lookup); it sends nothing.
    register::webhook(&s, "private-one", "http://10.1.2.3/hook", 4, "k").await;
    register::webhook(
        &s,
        "unresolvable",
        "http://no-such-host.invalid/hook",
        4,
        "k",
    )
    .await;
    let dir = s.state.config.server.data_dir.clone();
    let run = move |extra: Vec<&'static str>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args([
                "doctor",
                "--listen",
                "127.0.0.1:0",
                "--output",
                "json",
                "--data-dir",
            ])
            .arg(&dir)
            .args(extra)
            .env_remove("HERALD_DATABASE_URL")
            .env_remove("HERALD_ALLOW_PRIVATE_TARGETS")
            .output()
            .unwrap();
        (
            out.status.success(),
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default(),
        )
    };
    let r = run.clone();
    let (ok, report) = tokio::task::spawn_blocking(move || r(vec![]))
        .await
        .unwrap();
    assert!(!ok, "a refused webhook fails the check: {report}");
    let row = |name: &str| check_row(&report, name);
    assert_eq!(row("store")["status"], "OK");
    assert_eq!(row("private-one")["status"], "FAIL");
    assert!(row("private-one")["detail"]
        .as_str()
        .unwrap()
        .contains("private"));
    assert_eq!(row("unresolvable")["status"], "FAIL");
    let (_, report) = tokio::task::spawn_blocking(move || run(vec!["--allow-private-targets"]))
        .await
        .unwrap();
    let row = |name: &str| check_row(&report, name);
    assert_eq!(row("private-one")["status"], "OK", "{report}");
}

/// A webhook to herald's own request bin is delivered (bins are exempt from
/// the private-target rule), so doctor says OK for it — and still FAIL for
/// another path on the same loopback address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_accepts_webhooks_to_its_own_request_bins() {
    let s = TestServer::start(Backend::Sqlite, "doctor_bins")
        .await
        .unwrap();
    let bin = format!("{}/bins/0a1b2c3d", s.base);
    register::webhook(&s, "mybin", &bin, 4, "k").await;
    let api = format!("{}/api/data/v9.2/contacts", s.base);
    register::webhook(&s, "own-api", &api, 4, "k").await;
    let dir = s.state.config.server.data_dir.clone();
    let listen = s.base.trim_start_matches("http://").to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args([
                "doctor",
                "--listen",
                &listen,
                "--output",
                "json",
                "--data-dir",
            ])
            .arg(&dir)
            .env_remove("HERALD_DATABASE_URL")
            .env_remove("HERALD_ALLOW_PRIVATE_TARGETS")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let row = |name: &str| check_row(&report, name);
    assert_eq!(row("mybin")["status"], "OK", "{report}");
    assert!(row("mybin")["detail"]
        .as_str()
        .unwrap()
        .contains("request bin"));
    assert_eq!(row("own-api")["status"], "FAIL", "{report}");
}

/// The row of doctor's JSON report whose check names `name`.
fn check_row(report: &serde_json::Value, name: &str) -> serde_json::Value {
    report
        .as_array()
        .expect("a JSON array")
        .iter()
        .find(|r| r["check"].as_str().unwrap_or_default().contains(name))
        .cloned()
        .unwrap_or_else(|| panic!("no check for {name}: {report}"))
}
