//! What removes succeeded System Jobs: the retention purge (called, and the
//! background loop on an injected clock) and asyncautodelete steps; failed
//! jobs stay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_core::clock::ManualClock;
use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::json;

use super::{attempts_of, id_of, jobs_of, retry_job, HEADERS};
use crate::common::{eventually, job_of, odata_error, register, Backend, TestServer};

both_backends!(starts_own: the_retention_loop_purges_old_succeeded_jobs);

both_backends!(
    succeeded_jobs_are_purged_after_retention,
    autodelete_deletes_succeeded_jobs_and_keeps_failed_ones,
);

async fn succeeded_jobs_are_purged_after_retention(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let ok = register::step(&s, &hook, "Create", "account", 40, 1, json!({})).await;
    s.create("accounts", json!({"name": "A"})).await;
    job_of(&s, &ok, 30).await;
    rx.respond(Behavior::status(500));
    let bad = register::step(&s, &hook, "Update", "account", 40, 1, json!({})).await;
    let (_, list) = s.get("accounts?$select=name").await;
    let a = list["value"][0]["accountid"].as_str().unwrap().to_string();
    s.patch(&format!("accounts({a})"), json!({"name": "B"}))
        .await;
    job_of(&s, &bad, 31).await;
    // Retention is 7 days by default: nothing to purge yet.
    assert_eq!(
        herald_server::jobs::retention::purge_once(&s.state)
            .await
            .unwrap(),
        0
    );
    let purged = herald_server::jobs::retention::purge_once_before(
        &s.state,
        chrono::Utc::now() + chrono::Duration::days(8),
    )
    .await
    .unwrap();
    assert_eq!(purged, 1, "only the succeeded job");
    let (_, b) = s.get("asyncoperations?$count=true").await;
    assert_eq!(b["@odata.count"], 1);
    assert_eq!(b["value"][0]["statuscode"], 31, "failed jobs stay");
}

/// asyncautodelete: a succeeded job of such a step is deleted (with its
/// attempts); a failed one stays (statuscode 31, attempts readable), and
/// once retried successfully it is deleted too.
async fn autodelete_deletes_succeeded_jobs_and_keeps_failed_ones(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status_with_body(400, "refused")).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(
        &s,
        &hook,
        "Create",
        "account",
        40,
        1,
        json!({"name": "autodeleted", "asyncautodelete": true}),
    )
    .await;

    s.create("accounts", json!({"name": "fails"})).await;
    let failed = job_of(&s, &step, 31).await;
    let failed_id = id_of(&failed);
    assert_eq!(failed["statecode"], 3, "{failed}");
    let (st, attempts) = attempts_of(&s, &failed_id).await;
    assert_eq!(st, StatusCode::OK, "{attempts}");
    assert_eq!(attempts["value"][0]["status"], 400, "{attempts}");

    rx.respond(Behavior::status(200));
    s.create("accounts", json!({"name": "succeeds"})).await;
    // Its row is committed with the write, before the delivery: once the
    // receiver has it, a step count back to one means it was deleted.
    rx.wait_for(2, Duration::from_secs(10)).await;
    let left = eventually(
        Duration::from_secs(10),
        "the succeeded job to be deleted",
        || async {
            let jobs = jobs_of(&s, &step).await;
            (jobs.len() == 1).then_some(jobs)
        },
    )
    .await;
    assert_eq!(id_of(&left[0]), failed_id, "the failed job stays");
    assert_eq!(left[0]["statuscode"], 31, "{}", left[0]);

    // Retried, the failed job succeeds and goes too, attempts and all.
    let id = uuid::Uuid::parse_str(&failed_id).expect("a job id");
    let (st, _, body) = retry_job(&s, &failed_id).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    rx.wait_for(3, Duration::from_secs(10)).await;
    eventually(
        Duration::from_secs(10),
        "the retried job to be deleted",
        || async { jobs_of(&s, &step).await.is_empty().then_some(()) },
    )
    .await;
    let (st, body) = attempts_of(&s, &failed_id).await;
    odata_error(st, &body, StatusCode::NOT_FOUND);
    assert!(
        s.state
            .store
            .attempts(id)
            .await
            .expect("attempts")
            .is_empty(),
        "the deleted job's attempts are gone"
    );
}

/// Retention, on an injected clock: the background loop (every 50 ms here,
/// `jobs.retention_interval`) purges a succeeded job once it completed more
/// than `jobs.retention` ago, with its attempts; a failed job of the same
/// age and a younger succeeded job stay.
async fn the_retention_loop_purges_old_succeeded_jobs(backend: Backend, test: &str) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let Some(s) = TestServer::start_with_clock(backend, test, clock.clone(), |c| {
        c.jobs.retention = Duration::from_secs(3600);
        c.jobs.retention_interval = Some(Duration::from_millis(50));
    })
    .await
    else {
        return;
    };
    let ok_rx = Receiver::start().await;
    let bad_rx = Receiver::start_with(Behavior::status_with_body(400, "no")).await;
    let ok_hook = register::webhook(&s, "ok", &ok_rx.url(), 5, HEADERS).await;
    let bad_hook = register::webhook(&s, "bad", &bad_rx.url(), 5, HEADERS).await;
    let ok_step = register::step(&s, &ok_hook, "Create", "account", 40, 1, json!({})).await;
    let bad_step = register::step(&s, &bad_hook, "Create", "account", 40, 1, json!({})).await;

    s.create("accounts", json!({"name": "old"})).await;
    let old = id_of(&job_of(&s, &ok_step, 30).await);
    let failed = id_of(&job_of(&s, &bad_step, 31).await);
    let old_uuid = uuid::Uuid::parse_str(&old).expect("job id");
    assert_eq!(s.state.store.attempts(old_uuid).await.unwrap().len(), 1);

    // 59 minutes later nothing is old enough.
    clock.advance(chrono::Duration::minutes(59));
    assert_eq!(
        herald_server::jobs::retention::purge_once(&s.state)
            .await
            .unwrap(),
        0
    );
    s.create("accounts", json!({"name": "young"})).await;
    let young = eventually(Duration::from_secs(15), "the young job", || async {
        jobs_of(&s, &ok_step)
            .await
            .into_iter()
            .find(|j| j["statuscode"] == 30 && id_of(j) != old)
    })
    .await;
    let young = id_of(&young);
    eventually(Duration::from_secs(15), "the second failed job", || async {
        let failed = jobs_of(&s, &bad_step)
            .await
            .iter()
            .filter(|j| j["statuscode"] == 31)
            .count();
        (failed == 2).then_some(())
    })
    .await;

    // Two minutes on, the first jobs are 61 minutes old: the loop (not
    // this test) purges the succeeded one.
    clock.advance(chrono::Duration::minutes(2));
    let purged_in = Instant::now();
    eventually(
        Duration::from_secs(10),
        "the retention loop to purge the old succeeded job",
        || async {
            let (st, _) = s.get(&format!("asyncoperations({old})")).await;
            (st == StatusCode::NOT_FOUND).then_some(())
        },
    )
    .await;
    eprintln!(
        "retention: purged by the loop {:?} after the clock moved",
        purged_in.elapsed()
    );
    let (st, body) = attempts_of(&s, &old).await;
    odata_error(st, &body, StatusCode::NOT_FOUND);
    assert!(
        s.state.store.attempts(old_uuid).await.unwrap().is_empty(),
        "the purged job's attempts are gone"
    );
    let (st, job) = s.get(&format!("asyncoperations({failed})")).await;
    assert_eq!(
        (st, job["statuscode"].clone()),
        (StatusCode::OK, json!(31)),
        "failed jobs stay: {job}"
    );
    let (st, attempts) = attempts_of(&s, &failed).await;
    assert_eq!(st, StatusCode::OK, "{attempts}");
    assert_eq!(attempts["value"][0]["status"], 400, "{attempts}");
    let (st, job) = s.get(&format!("asyncoperations({young})")).await;
    assert_eq!(
        (st, job["statuscode"].clone()),
        (StatusCode::OK, json!(30)),
        "younger than the retention: {job}"
    );
    let (_, b) = s.get("asyncoperations?$count=true").await;
    assert_eq!(b["@odata.count"], 3, "two failed and the young one: {b}");
}
