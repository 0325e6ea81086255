//! System Jobs: attempts, retry, cancel, pause/resume, postpone, retention.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{self, eventually, job_of, odata_error, register, TestServer};
use herald_core::clock::ManualClock;
use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(
    failed_jobs_can_be_retried_and_show_their_attempts,
    jobs_can_be_postponed_paused_resumed_and_canceled,
    only_job_state_can_be_written,
    succeeded_jobs_are_purged_after_retention,
    slow_deliveries_show_in_progress_and_every_job_gets_startedon,
    a_rolled_back_write_leaves_no_job_and_delivers_nothing,
    autodelete_deletes_succeeded_jobs_and_keeps_failed_ones,
    a_retried_delivery_fills_in_every_job_field
);

/// A 2 s delivery timeout gives a 5 s lease (see `lease_for`).
async fn short_lease(backend: common::Backend, test: &str) -> Option<TestServer> {
    TestServer::start_with(backend, test, |c| {
        c.delivery.timeout = Duration::from_secs(2);
        c.jobs.lease = Duration::from_secs(1);
    })
    .await
}

both_backends!(start = short_lease; a_canceled_running_job_retried_at_once_never_runs_twice_at_once);

both_backends!(
    starts_own: a_hanging_endpoint_does_not_starve_the_others,
    the_retention_loop_purges_old_succeeded_jobs,
    a_write_wakes_the_workers_without_the_poll,
);

const HEADERS: &str = r#"<settings><setting name="X-Key" value="k" /></settings>"#;

async fn failed_jobs_can_be_retried_and_show_their_attempts(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status_with_body(400, "bad thing")).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Create", "account", 40, 1, json!({})).await;
    s.create("accounts", json!({"name": "A"})).await;
    let job = job_of(&s, &step, 31).await;
    let id = job["asyncoperationid"].as_str().unwrap().to_string();
    assert_eq!(job["statecode"], 3);
    assert_eq!(job["retrycount"], 0, "400 is not retried");
    assert!(job["message"].as_str().unwrap().contains("400"));
    let (st, attempts) = s
        .get(&format!(
            "asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Attempts"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{attempts}");
    assert_eq!(attempts["value"].as_array().unwrap().len(), 1);
    assert_eq!(attempts["value"][0]["status"], 400);
    assert_eq!(attempts["value"][0]["response"], "bad thing");
    assert!(attempts["value"][0]["durationms"].is_i64());

    rx.respond(Behavior::status(200));
    let (st, _, body) = retry_job(&s, &id).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let done = job_of(&s, &step, 30).await;
    assert_eq!(done["asyncoperationid"], id);
    assert_eq!(done["message"], Value::Null);
    let (_, attempts) = s
        .get(&format!("asyncoperations({id})/herald_Attempts"))
        .await;
    let statuses: Vec<i64> = attempts["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![400, 200]);
    assert_eq!(rx.requests().len(), 2);
    // A succeeded job cannot be retried.
    let (st, _, body) = s
        .post(&format!("asyncoperations({id})/herald_Retry"), json!({}))
        .await;
    odata_error(st, &body, StatusCode::BAD_REQUEST);
}

async fn jobs_can_be_postponed_paused_resumed_and_canceled(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(500)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Create", "lead", 40, 1, json!({})).await;
    s.create("leads", json!({"subject": "x"})).await;
    let id = job_of(&s, &step, 31).await["asyncoperationid"]
        .as_str()
        .unwrap()
        .to_string();
    // Postpone, then retry: it waits (Ready) instead of running.
    let (st, body) = patch_job(&s, &id, json!({"postponeuntil": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = patch_job(&s, &id, json!({"statecode": 0, "statuscode": 0})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        (body["statecode"].clone(), body["statuscode"].clone()),
        (json!(0), json!(0))
    );
    let (st, body) = patch_job(&s, &id, json!({"statecode": 1})).await;
    assert_eq!(
        (st, body["statecode"].clone()),
        (StatusCode::OK, json!(1)),
        "{body}"
    );
    let (st, body) = patch_job(&s, &id, json!({"statecode": 0, "statuscode": 0})).await;
    assert_eq!(
        (st, body["statecode"].clone()),
        (StatusCode::OK, json!(0)),
        "{body}"
    );
    let (st, body) = patch_job(&s, &id, json!({"statecode": 3, "statuscode": 32})).await;
    assert_eq!(
        (st, body["statuscode"].clone()),
        (StatusCode::OK, json!(32)),
        "{body}"
    );
    assert_eq!(rx.requests().len(), 1, "the postponed job never ran again");
    let (st, body) = patch_job(&s, &id, json!({"statecode": 3, "statuscode": 32})).await;
    odata_error(st, &body, StatusCode::BAD_REQUEST);
    // A canceled job can be retried; with the postponement cleared it runs.
    patch_job(&s, &id, json!({"postponeuntil": null})).await;
    rx.respond(Behavior::status(200));
    let (st, body) = s
        .post(&format!("asyncoperations({id})/herald_Retry"), json!({}))
        .await
        .pipe2();
    assert_eq!(st, StatusCode::OK, "{body}");
    job_of(&s, &step, 30).await;
}

trait Pipe2 {
    fn pipe2(self) -> (StatusCode, Value);
}
impl Pipe2 for (StatusCode, reqwest::header::HeaderMap, Value) {
    fn pipe2(self) -> (StatusCode, Value) {
        (self.0, self.2)
    }
}

async fn only_job_state_can_be_written(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Create", "lead", 40, 1, json!({})).await;
    s.create("leads", json!({"subject": "x"})).await;
    let id = job_of(&s, &step, 30).await["asyncoperationid"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, body) = patch_job(&s, &id, json!({"name": "renamed"})).await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    let (st, body) = patch_job(&s, &id, json!({"statecode": 3, "statuscode": 31})).await;
    odata_error(st, &body, StatusCode::BAD_REQUEST);
    let (st, _, body) = s.post("asyncoperations", json!({"name": "mine"})).await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
}

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

/// Fairness: one webhook that hangs until the delivery timeout occupies at
/// most its share of a node's slots (`jobs.endpoint_share`, here 50 % of 4);
/// another webhook's jobs, written after a backlog of hanging ones, are
/// still delivered at once instead of after the timeout.
async fn a_hanging_endpoint_does_not_starve_the_others(backend: common::Backend, test: &str) {
    let Some(s) = TestServer::start_with(backend, test, |c| {
        c.jobs.concurrency = 4;
        c.jobs.endpoint_share = 50;
        c.delivery.timeout = Duration::from_secs(20);
    })
    .await
    else {
        return;
    };
    let slow = Receiver::start_with(Behavior::Hang).await;
    let fast = Receiver::start().await;
    let slow_hook = register::webhook(&s, "slow", &slow.url(), 5, HEADERS).await;
    let fast_hook = register::webhook(&s, "fast", &fast.url(), 5, HEADERS).await;
    register::step(&s, &slow_hook, "Create", "account", 40, 1, json!({})).await;
    register::step(&s, &fast_hook, "Create", "contact", 40, 1, json!({})).await;
    for i in 0..8 {
        s.create("accounts", json!({"name": format!("slow {i}")}))
            .await;
    }
    slow.wait_for(2, Duration::from_secs(10)).await;
    let started = std::time::Instant::now();
    for i in 0..5 {
        s.create("contacts", json!({"lastname": format!("fast {i}")}))
            .await;
    }
    // Without the cap the 8 hanging jobs would hold all 4 slots for 20 s.
    fast.wait_for(5, Duration::from_secs(8)).await;
    eprintln!(
        "fairness: 5 jobs of a healthy webhook delivered in {:?} while another hangs",
        started.elapsed()
    );
    assert_eq!(
        slow.requests().len(),
        2,
        "the hanging webhook holds exactly its share (2 of 4 slots)"
    );
}

/// A delivery still running after a moment shows as In Progress (2 / 20)
/// with its startedon; a quick one goes from Waiting to Succeeded, and
/// both end with startedon ≤ completedon.
async fn slow_deliveries_show_in_progress_and_every_job_gets_startedon(s: TestServer) {
    let slow = Receiver::start_with(Behavior::delay(Duration::from_secs(3), 200)).await;
    let fast = Receiver::start().await;
    let slow_hook = register::webhook(&s, "slow", &slow.url(), 5, HEADERS).await;
    let fast_hook = register::webhook(&s, "fast", &fast.url(), 5, HEADERS).await;
    let slow_step = register::step(&s, &slow_hook, "Create", "account", 40, 1, json!({})).await;
    let fast_step = register::step(&s, &fast_hook, "Create", "lead", 40, 1, json!({})).await;
    s.create("accounts", json!({"name": "A"})).await;
    s.create("leads", json!({"lastname": "L"})).await;

    let running = job_of(&s, &slow_step, 20).await;
    assert_eq!(running["statecode"], 2, "{running}");
    assert!(running["startedon"].is_string(), "{running}");
    assert!(running["completedon"].is_null(), "{running}");

    for step in [&fast_step, &slow_step] {
        let done = job_of(&s, step, 30).await;
        let started = done["startedon"].as_str().expect("startedon").to_string();
        let completed = done["completedon"]
            .as_str()
            .expect("completedon")
            .to_string();
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).expect("a date");
        assert!(parse(&started) <= parse(&completed), "{done}");
    }
}

/// Cancel a job while its delivery runs, then retry it at once: the retry
/// waits for the running delivery's lease, so the receiver never has two
/// deliveries of the job at the same time, and the job ends Succeeded.
async fn a_canceled_running_job_retried_at_once_never_runs_twice_at_once(s: TestServer) {
    let rx = Receiver::start_with(Behavior::delay(Duration::from_millis(1500), 200)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Create", "account", 40, 1, json!({})).await;
    s.create("accounts", json!({"name": "A"})).await;
    let first = rx.wait_for(1, Duration::from_secs(10)).await;
    let (_, b) = s
        .get(&format!(
            "asyncoperations?$filter=_owningextensionid_value eq {step}"
        ))
        .await;
    let id = b["value"][0]["asyncoperationid"]
        .as_str()
        .expect("a job")
        .to_string();
    let (st, body) = patch_job(&s, &id, json!({"statecode": 3, "statuscode": 32})).await;
    assert!(st.is_success(), "{st} {body}");
    let (st, _, body) = retry_job(&s, &id).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let done = job_of(&s, &step, 30).await;
    assert_eq!(done["asyncoperationid"], id);
    let all = rx.wait_for(2, Duration::from_secs(15)).await;
    assert!(
        all[1].received_at >= first[0].received_at + Duration::from_millis(1500),
        "the retry started {:?} after the first delivery, which took 1.5 s",
        all[1].received_at - first[0].received_at
    );
}

/// The asyncoperation id of a job as read over the Web API.
/// PATCH a System Job (what may be written: its state and postponement).
async fn patch_job(s: &TestServer, id: &str, body: Value) -> (StatusCode, Value) {
    s.patch(&format!("asyncoperations({id})"), body).await
}

/// The bound `herald_Retry` action on a System Job.
async fn retry_job(s: &TestServer, id: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    s.post(
        &format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry"),
        json!({}),
    )
    .await
}

fn id_of(job: &Value) -> String {
    job["asyncoperationid"]
        .as_str()
        .unwrap_or_else(|| panic!("no asyncoperationid in {job}"))
        .to_string()
}

/// The System Jobs of `step` (any status).
async fn jobs_of(s: &TestServer, step: &str) -> Vec<Value> {
    let (st, b) = s
        .get(&format!(
            "asyncoperations?$filter=_owningextensionid_value eq {step}"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b["value"].as_array().cloned().unwrap_or_default()
}

/// The attempts of a job over the Web API (status, body).
async fn attempts_of(s: &TestServer, id: &str) -> (StatusCode, Value) {
    s.get(&format!(
        "asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Attempts"
    ))
    .await
}

/// Outbox: an async step's job is written in the write's transaction, so
/// when a synchronous PostOperation step on the same message fails (502)
/// and rolls the write back, no asyncoperation row exists and the async
/// webhook is never called. A second write (the sync webhook now answers)
/// is the control: its job runs, and it is the only one that ever did.
async fn a_rolled_back_write_leaves_no_job_and_delivers_nothing(s: TestServer) {
    let sync_rx = Receiver::start_with(Behavior::statuses([500], Behavior::status(200))).await;
    let async_rx = Receiver::start().await;
    let sync_hook = register::webhook(&s, "sync", &sync_rx.url(), 5, HEADERS).await;
    let async_hook = register::webhook(&s, "async", &async_rx.url(), 5, HEADERS).await;
    let async_step = register::step(&s, &async_hook, "Create", "account", 40, 1, json!({})).await;
    register::step(&s, &sync_hook, "Create", "account", 40, 0, json!({})).await;

    let (st, _, body) = s.post("accounts", json!({"name": "rolled back"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(msg.contains("500"), "{msg}");
    assert_eq!(sync_rx.requests().len(), 1, "the sync step ran");
    let (_, b) = s.get("asyncoperations?$count=true").await;
    assert_eq!(b["@odata.count"], 0, "no job survived the rollback: {b}");
    let (_, b) = s.get("accounts?$count=true").await;
    assert_eq!(b["@odata.count"], 0, "{b}");
    let now = s.state.clock.now().timestamp_millis() + 1;
    let (queued, _) = s.state.store.queue_depth(now).await.expect("queue depth");
    assert_eq!(queued, 0, "no queue entry survived the rollback");

    let kept = s.create("accounts", json!({"name": "kept"})).await;
    let done = job_of(&s, &async_step, 30).await;
    assert_eq!(done["regardingobjectid"], kept, "{done}");
    let got = async_rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "only the committed write was delivered");
    assert_eq!(
        got[0].body_json()["PrimaryEntityId"]
            .as_str()
            .map(str::to_ascii_lowercase),
        Some(kept.clone())
    );
    let (_, b) = s.get("asyncoperations?$count=true").await;
    assert_eq!(b["@odata.count"], 1, "{b}");
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

/// A 503 then a 200: one retry, so retrycount 1 and two attempts (each
/// with its startedon; the failed one with its status and an error text),
/// Succeeded with startedon ≤ completedon and executiontimespan ≥ 0.
async fn a_retried_delivery_fills_in_every_job_field(s: TestServer) {
    let rx = Receiver::start_with(Behavior::sequence(
        [Behavior::status_with_body(503, "busy")],
        Behavior::status(200),
    ))
    .await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(
        &s,
        &hook,
        "Create",
        "account",
        40,
        1,
        json!({"name": "retried step"}),
    )
    .await;
    let account = s.create("accounts", json!({"name": "A"})).await;
    let job = job_of(&s, &step, 30).await;
    let id = id_of(&job);
    assert_eq!(rx.requests().len(), 2, "one retry after the 503");
    assert_eq!(job["statecode"], 3, "{job}");
    assert_eq!(job["retrycount"], 1, "{job}");
    assert!(
        job["executiontimespan"].as_f64().is_some_and(|t| t >= 0.0),
        "{job}"
    );
    assert_eq!(job["message"], Value::Null, "{job}");
    assert_eq!(job["errorcode"], Value::Null, "{job}");
    assert_eq!(job["regardingobjectid"], account, "{job}");
    let parse = |t: &Value| {
        chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap_or_else(|| panic!("no date: {job}")))
            .unwrap_or_else(|e| panic!("{e}: {job}"))
    };
    assert!(
        parse(&job["startedon"]) <= parse(&job["completedon"]),
        "{job}"
    );

    let (st, attempts) = attempts_of(&s, &id).await;
    assert_eq!(st, StatusCode::OK, "{attempts}");
    let a = attempts["value"].as_array().expect("attempts");
    assert_eq!(a.len(), 2, "{attempts}");
    assert_eq!(
        (a[0]["attempt"].clone(), a[1]["attempt"].clone()),
        (json!(1), json!(2)),
        "{attempts}"
    );
    assert_eq!(
        (a[0]["status"].clone(), a[1]["status"].clone()),
        (json!(503), json!(200)),
        "{attempts}"
    );
    let failure = a[0]["error"].as_str().unwrap_or_default();
    assert!(
        failure.contains("503"),
        "the failed attempt says why: {attempts}"
    );
    assert_eq!(a[0]["response"], "busy", "{attempts}");
    assert_eq!(a[1]["error"], Value::Null, "{attempts}");
    for attempt in a {
        assert!(
            attempt["durationms"].as_i64().is_some_and(|d| d >= 0),
            "{attempts}"
        );
        let started = parse(&attempt["startedon"]);
        assert!(
            started >= parse(&job["startedon"]) - chrono::Duration::seconds(1),
            "{attempts}"
        );
    }
    assert!(
        parse(&a[0]["startedon"]) <= parse(&a[1]["startedon"]),
        "{attempts}"
    );
}

/// Retention, on an injected clock: the background loop (every 50 ms here,
/// `jobs.retention_interval`) purges a succeeded job once it completed more
/// than `jobs.retention` ago, with its attempts; a failed job of the same
/// age and a younger succeeded job stay.
async fn the_retention_loop_purges_old_succeeded_jobs(backend: common::Backend, test: &str) {
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

/// With a poll interval of a minute, a job is still delivered at once: the
/// write wakes this node's workers in-process (on PostgreSQL NOTIFY would
/// too). Each job is written once the previous one was delivered, so the
/// workers are asleep waiting when it commits.
async fn a_write_wakes_the_workers_without_the_poll(backend: common::Backend, test: &str) {
    let Some(s) = TestServer::start_with(backend, test, |c| {
        c.jobs.poll_interval = Duration::from_secs(60);
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "account", 40, 1, json!({})).await;
    for i in 1..=3 {
        let written = Instant::now();
        s.create("accounts", json!({"name": format!("wake {i}")}))
            .await;
        let got = rx.wait_for(i, Duration::from_secs(30)).await;
        let latency = got[i - 1].received_at.saturating_duration_since(written);
        eprintln!("wake-up: job {i} delivered {latency:?} after its write (poll interval 60 s)");
        assert!(
            latency < Duration::from_secs(5),
            "job {i} took {latency:?}: the poll ran it, not the wake-up"
        );
    }
}
