//! `herald doctor` checks the store and every registered webhook.

use crate::common::{register, Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_refused_and_broken_webhooks() {
    let s = TestServer::start(Backend::Sqlite, "doctor").await.unwrap();
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
    let row = |name: &str| {
        report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["check"].as_str().unwrap().contains(name))
            .cloned()
            .unwrap()
    };
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
    let row = |name: &str| {
        report
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["check"].as_str().unwrap().contains(name))
            .cloned()
            .unwrap()
    };
    assert_eq!(row("private-one")["status"], "OK", "{report}");
}
