//! System Jobs: attempts, retry, cancel, pause/resume, postpone, retention.

mod common;

use std::time::Duration;

use common::{job_of, odata_error, register, TestServer};
use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(
    failed_jobs_can_be_retried_and_show_their_attempts,
    jobs_can_be_postponed_paused_resumed_and_canceled,
    only_job_state_can_be_written,
    succeeded_jobs_are_purged_after_retention,
    slow_deliveries_show_in_progress_and_every_job_gets_startedon
);

/// A 2 s delivery timeout gives a 5 s lease (see `lease_for`).
async fn short_lease(backend: common::Backend, test: &str) -> Option<TestServer> {
    TestServer::start_with(backend, test, |c| {
        c.delivery.timeout = Duration::from_secs(2);
        c.jobs.lease = Duration::from_secs(1);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceled_running_job_retried_on_sqlite() {
    let s = short_lease(common::Backend::Sqlite, "canceled_running_sqlite").await;
    a_canceled_running_job_retried_at_once_never_runs_twice_at_once(s.expect("sqlite")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceled_running_job_retried_on_postgres() {
    if let Some(s) = short_lease(common::Backend::Postgres, "web_api::canceled_running_pg").await {
        a_canceled_running_job_retried_at_once_never_runs_twice_at_once(s).await;
    }
}

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
    let (st, _, body) = s
        .post(
            &format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry"),
            json!({}),
        )
        .await;
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
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"postponeuntil": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"statecode": 0, "statuscode": 0}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        (body["statecode"].clone(), body["statuscode"].clone()),
        (json!(0), json!(0))
    );
    let (st, body) = s
        .patch(&format!("asyncoperations({id})"), json!({"statecode": 1}))
        .await;
    assert_eq!(
        (st, body["statecode"].clone()),
        (StatusCode::OK, json!(1)),
        "{body}"
    );
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"statecode": 0, "statuscode": 0}),
        )
        .await;
    assert_eq!(
        (st, body["statecode"].clone()),
        (StatusCode::OK, json!(0)),
        "{body}"
    );
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"statecode": 3, "statuscode": 32}),
        )
        .await;
    assert_eq!(
        (st, body["statuscode"].clone()),
        (StatusCode::OK, json!(32)),
        "{body}"
    );
    assert_eq!(rx.requests().len(), 1, "the postponed job never ran again");
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"statecode": 3, "statuscode": 32}),
        )
        .await;
    odata_error(st, &body, StatusCode::BAD_REQUEST);
    // A canceled job can be retried; with the postponement cleared it runs.
    s.patch(
        &format!("asyncoperations({id})"),
        json!({"postponeuntil": null}),
    )
    .await;
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
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"name": "renamed"}),
        )
        .await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"statecode": 3, "statuscode": 31}),
        )
        .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fairness_on_sqlite() {
    a_hanging_endpoint_does_not_starve_the_others(
        common::Backend::Sqlite,
        "jobs::fairness_on_sqlite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fairness_on_postgres() {
    a_hanging_endpoint_does_not_starve_the_others(
        common::Backend::Postgres,
        "jobs::fairness_on_postgres",
    )
    .await;
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
    let (st, body) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"statecode": 3, "statuscode": 32}),
        )
        .await;
    assert!(st.is_success(), "{st} {body}");
    let (st, _, body) = s
        .post(
            &format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry"),
            json!({}),
        )
        .await;
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
