//! `herald job list|show|retry|cancel` run as the real binary against a
//! real herald, checked through the Web API, on SQLite and PostgreSQL.

use crate::common::cli::{herald, herald_command, Run};

use std::time::Duration;

use crate::common::{eventually, job_of, register, TestServer};
use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(
    jobs_list_show_retry_cancel,
    bad_job_input_fails_clearly,
    bulk_retry_of_failed_jobs,
    job_changes_print_json_outcomes
);

const HEADERS: &str = r#"<settings><setting name="X-Key" value="k" /></settings>"#;

async fn step_name(s: &TestServer, step: &str) -> String {
    let (st, row) = s
        .get(&format!("sdkmessageprocessingsteps({step})?$select=name"))
        .await;
    assert_eq!(st, StatusCode::OK, "{row}");
    row["name"].as_str().expect("step name").to_string()
}

async fn jobs_list_show_retry_cancel(s: TestServer) {
    let bad = Receiver::start_with(Behavior::status_with_body(400, "bad thing")).await;
    let good = Receiver::start().await;
    let bad_hook = register::webhook(&s, "bad", &bad.url(), 5, HEADERS).await;
    let good_hook = register::webhook(&s, "good", &good.url(), 5, HEADERS).await;
    let failing = register::step(&s, &bad_hook, "Create", "account", 40, 1, json!({})).await;
    let working = register::step(&s, &good_hook, "Create", "contact", 40, 1, json!({})).await;
    s.create("accounts", json!({"name": "A"})).await;
    s.create("contacts", json!({"lastname": "C"})).await;
    let failed = job_of(&s, &failing, 31).await["asyncoperationid"]
        .as_str()
        .expect("id")
        .to_string();
    let succeeded = job_of(&s, &working, 30).await["asyncoperationid"]
        .as_str()
        .expect("id")
        .to_string();

    // list: a table with both jobs, newest first.
    let table = herald(&s, &["job", "list"]).await.success().stdout;
    let header = table.lines().next().unwrap_or_default();
    for col in [
        "ID",
        "NAME",
        "STATUS",
        "CREATED",
        "COMPLETED",
        "RETRIES",
        "MESSAGE",
    ] {
        assert!(header.contains(col), "header {header:?}");
    }
    for needle in [
        failed.as_str(),
        succeeded.as_str(),
        "Failed",
        "Succeeded",
        "Webhook delivery failed: The webhook endpoint answered",
    ] {
        assert!(
            table.contains(needle),
            "job list should show {needle}:\n{table}"
        );
    }
    assert_eq!(table.lines().count(), 3, "header + 2 jobs:\n{table}");
    assert!(
        !table.contains("attempt 1:"),
        "the table shows the first line of the message only:\n{table}"
    );

    // --failed, --step (by name and by id), --top, as JSON.
    let listed = herald(&s, &["job", "list", "--failed", "--output", "json"])
        .await
        .success()
        .json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            listed[0]["id"].as_str(),
            listed[0]["status"].as_str(),
            listed[0]["statuscode"].as_i64()
        ),
        (Some(failed.as_str()), Some("Failed"), Some(31))
    );
    assert!(
        listed[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("attempt 1: HTTP 400")),
        "JSON has the whole message: {}",
        listed[0]
    );
    let name = step_name(&s, &working).await;
    let listed = herald(&s, &["job", "list", "--step", &name, "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], succeeded.as_str());
    assert_eq!(listed[0]["step"], working.as_str());
    let listed = herald(
        &s,
        &["job", "list", "--step", &failing, "--failed", "-o", "json"],
    )
    .await
    .success()
    .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let listed = herald(&s, &["job", "list", "--top", "1", "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let empty = herald(&s, &["job", "list", "--failed", "--step", &name])
        .await
        .success();
    assert!(
        empty.stdout.is_empty() && empty.stderr.contains("no failed System Jobs"),
        "{}{}",
        empty.stdout,
        empty.stderr
    );

    // show: state, message, pretty context, attempts.
    let shown = herald(&s, &["job", "show", &failed]).await.success().stdout;
    for needle in [
        "message (of the latest run; its tries numbered from 1):",
        "Failed (31)",
        "Completed (3)",
        "bad thing",
        "ATTEMPT",
        "400",
        "context:",
        "\"MessageName\": \"Create\"",
        "\"PrimaryEntityName\": \"account\"",
        "attempt 1: HTTP 400",
    ] {
        assert!(
            shown.contains(needle),
            "job show should show {needle}:\n{shown}"
        );
    }
    let shown = herald(&s, &["job", "show", &failed, "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(shown["id"], failed.as_str());
    assert_eq!(shown["statuscode"], 31);
    assert_eq!(shown["step"], failing.as_str());
    assert_eq!(
        shown["context"]["MessageName"], "Create",
        "the context is JSON, not a string: {shown}"
    );
    assert_eq!(
        shown["attempts"].as_array().map(Vec::len),
        Some(1),
        "{shown}"
    );
    assert_eq!(
        (
            shown["attempts"][0]["status"].as_i64(),
            shown["attempts"][0]["response"].as_str()
        ),
        (Some(400), Some("bad thing"))
    );

    // retry: the failed job runs again and succeeds; a succeeded one cannot.
    bad.respond(Behavior::status(200));
    let run = herald(&s, &["job", "retry", &failed]).await.success();
    assert!(run.stderr.contains("Ready"), "{}", run.stderr);
    job_of(&s, &failing, 30).await;
    let shown = herald(&s, &["job", "show", &failed, "-o", "json"])
        .await
        .success()
        .json();
    let statuses: Vec<i64> = shown["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter_map(|a| a["status"].as_i64())
        .collect();
    assert_eq!(statuses, vec![400, 200]);
    // Two runs of one try each: retries (automatic retries, as Dataverse
    // counts them) stays 0, attemptcount says how many were made.
    assert_eq!(shown["retries"], 0, "{shown}");
    assert_eq!(shown["attemptcount"], 2, "{shown}");
    // A succeeded job cannot be canceled; the message says that, not "retry".
    let refused = herald(&s, &["job", "cancel", &failed])
        .await
        .failure(&["server said 400", "already completed (Succeeded)"]);
    assert!(
        !refused.stderr.contains("can be retried"),
        "{}",
        refused.stderr
    );
    herald(&s, &["job", "retry", &failed])
        .await
        .failure(&["server said 400", "Only a failed"]);

    // cancel: a postponed (Ready, waiting) job becomes Canceled (3/32).
    bad.respond(Behavior::status(500));
    let lead_step = register::step(&s, &bad_hook, "Create", "lead", 40, 1, json!({})).await;
    s.create("leads", json!({"subject": "x"})).await;
    let waiting = job_of(&s, &lead_step, 31).await["asyncoperationid"]
        .as_str()
        .expect("id")
        .to_string();
    let (st, body) = s
        .patch(
            &format!("asyncoperations({waiting})"),
            json!({"postponeuntil": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    herald(&s, &["job", "retry", &waiting]).await.success();
    let (_, row) = s.get(&format!("asyncoperations({waiting})")).await;
    assert_eq!(
        (row["statecode"].as_i64(), row["statuscode"].as_i64()),
        (Some(0), Some(0)),
        "{row}"
    );
    herald(&s, &["job", "cancel", &waiting]).await.success();
    let (_, row) = s.get(&format!("asyncoperations({waiting})")).await;
    assert_eq!(
        (row["statecode"].as_i64(), row["statuscode"].as_i64()),
        (Some(3), Some(32)),
        "{row}"
    );
    herald(&s, &["job", "cancel", &waiting])
        .await
        .failure(&["server said 400", "already completed"]);
    let listed = herald(&s, &["job", "list", "--step", &lead_step, "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(listed[0]["status"], "Canceled", "{listed}");
}

async fn bad_job_input_fails_clearly(s: TestServer) {
    herald(&s, &["job", "show", "nope"])
        .await
        .failure(&["'nope' is not a System Job id"]);
    let unknown = uuid::Uuid::new_v4().to_string();
    herald(&s, &["job", "show", &unknown])
        .await
        .failure(&["server said 404", "Does Not Exist"]);
    herald(&s, &["job", "retry", &unknown])
        .await
        .failure(&["server said 404"]);
    herald(&s, &["job", "cancel", &unknown])
        .await
        .failure(&["server said 404"]);
    herald(&s, &["job", "list", "--step", "no such step"])
        .await
        .failure(&["unknown step 'no such step'"]);
    let run = herald(&s, &["job", "list"]).await.success();
    assert!(
        run.stdout.is_empty() && run.stderr.contains("no System Jobs"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let run = herald(&s, &["job", "list", "-o", "json"]).await.success();
    assert_eq!(run.json(), json!([]));
}

#[test]
fn help_lists_the_job_commands() {
    let run = Run::from(
        herald_command()
            .args(["job", "--help"])
            .output()
            .expect("run"),
    )
    .success();
    for needle in ["list", "show", "retry", "cancel"] {
        assert!(
            run.stdout.contains(needle),
            "job --help should mention {needle}:\n{}",
            run.stdout
        );
    }
    let run = Run::from(
        herald_command()
            .args(["job", "list", "--help"])
            .output()
            .expect("run"),
    )
    .success();
    for needle in ["--failed", "--step", "--top", "--output"] {
        assert!(
            run.stdout.contains(needle),
            "job list --help should mention {needle}:\n{}",
            run.stdout
        );
    }
}

/// A webhook `name` answering 500, an async step on Create of lead for it,
/// and `leads` leads created: the receiver and the step.
async fn leads_failing_with_500(s: &TestServer, name: &str, leads: usize) -> (Receiver, String) {
    let rx = Receiver::start_with(Behavior::status(500)).await;
    let hook = register::webhook(s, name, &rx.url(), 5, HEADERS).await;
    let step = register::step(s, &hook, "Create", "lead", 40, 1, json!({})).await;
    for i in 0..leads {
        s.create("leads", json!({"subject": format!("lead {i}")}))
            .await;
    }
    (rx, step)
}

async fn bulk_retry_of_failed_jobs(s: TestServer) {
    let (rx, step) = leads_failing_with_500(&s, "bulk", 3).await;
    let failed_count = || async {
        let (_, b) = s.get(&format!("asyncoperations?$filter=statuscode eq 31 and _owningextensionid_value eq {step}&$count=true")).await;
        b["@odata.count"].as_i64().unwrap_or(0)
    };
    eventually(Duration::from_secs(15), "three failed jobs", || async {
        (failed_count().await == 3).then_some(())
    })
    .await;
    rx.respond(Behavior::status(200));
    let run = herald(&s, &["job", "retry", "--failed", "--step", &step])
        .await
        .success();
    assert!(run.stderr.contains("3/3"), "progress shown: {}", run.stderr);
    eventually(Duration::from_secs(15), "the retried jobs to succeed", || async {
        let (_, b) = s.get(&format!("asyncoperations?$filter=statuscode eq 30 and _owningextensionid_value eq {step}&$count=true")).await;
        (b["@odata.count"] == 3).then_some(())
    })
    .await;
    herald(&s, &["job", "retry", "--step", &step])
        .await
        .failure(&["--failed"]);
}

/// `job retry` and `job cancel` (one and bulk) with `--output json`.
async fn job_changes_print_json_outcomes(s: TestServer) {
    let (rx, step) = leads_failing_with_500(&s, "jsonjobs", 2).await;
    let failed_ids = || async {
        let (_, b) = s
            .get(&format!(
                "asyncoperations?$select=asyncoperationid&$filter=statuscode eq 31 and _owningextensionid_value eq {step}"
            ))
            .await;
        let mut ids: Vec<String> = b["value"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|j| j["asyncoperationid"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    };
    let ids = eventually(Duration::from_secs(15), "two failed jobs", || async {
        let ids = failed_ids().await;
        (ids.len() == 2).then_some(ids)
    })
    .await;

    // Bulk: every failed job of the step, listed by id.
    let out = herald(
        &s,
        &[
            "job", "retry", "--failed", "--step", &step, "--output", "json",
        ],
    )
    .await
    .success()
    .json();
    assert_eq!(out["total"], 2, "{out}");
    assert_eq!(out["failed"], json!([]));
    let mut retried: Vec<String> = out["retried"]
        .as_array()
        .expect("retried")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    retried.sort();
    assert_eq!(retried, ids);
    // They fail again (the endpoint still answers 500).
    eventually(
        Duration::from_secs(15),
        "the jobs to fail again",
        || async { (failed_ids().await.len() == 2).then_some(()) },
    )
    .await;

    // One job: retried (Ready), then canceled.
    let id = &ids[0];
    rx.respond(Behavior::delay(Duration::from_secs(30), 200));
    let out = herald(&s, &["job", "retry", id, "--output", "json"])
        .await
        .success()
        .json();
    assert_eq!(out["id"], id.as_str(), "{out}");
    assert_eq!(out["statecode"], 0, "{out}");
    assert_eq!(out["state"], "Ready");
    let out = herald(&s, &["job", "cancel", id, "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(
        (
            out["id"].clone(),
            out["statuscode"].clone(),
            out["status"].clone()
        ),
        (json!(id), json!(32), json!("Canceled")),
        "{out}"
    );
    let (_, row) = s
        .get(&format!("asyncoperations({id})?$select=statuscode"))
        .await;
    assert_eq!(row["statuscode"], 32, "{row}");

    // The other job, still failed, alone.
    let out = herald(
        &s,
        &[
            "job", "retry", "--failed", "--step", &step, "--output", "json",
        ],
    )
    .await
    .success()
    .json();
    assert_eq!(
        out["total"].as_u64(),
        Some(1),
        "the other job is still failed: {out}"
    );
}
