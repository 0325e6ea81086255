//! Moving a System Job over the Web API: retry (with its attempts),
//! postpone, pause, resume and cancel; only its state may be written; and a
//! canceled running job retried at once never runs twice at the same time.

use std::time::Duration;

use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{patch_job, retry_job, HEADERS};
use crate::common::{job_of, odata_error, register, Backend, TestServer};

both_backends!(
    failed_jobs_can_be_retried_and_show_their_attempts,
    jobs_can_be_postponed_paused_resumed_and_canceled,
    only_job_state_can_be_written,
);

/// A 2 s delivery timeout gives a 5 s lease (see `lease_for`).
async fn short_lease(backend: Backend, test: &str) -> Option<TestServer> {
    TestServer::start_with(backend, test, |c| {
        c.delivery.timeout = Duration::from_secs(2);
        c.jobs.lease = Duration::from_secs(1);
    })
    .await
}

both_backends!(start = short_lease; a_canceled_running_job_retried_at_once_never_runs_twice_at_once);

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
    // (number, status) of each attempt: the retry's attempt is numbered
    // after the first run's.
    let tries: Vec<(i64, i64)> = attempts["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(tries, vec![(1, 400), (2, 200)], "{attempts}");
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
    let (st, _, body) = s
        .post(&format!("asyncoperations({id})/herald_Retry"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    job_of(&s, &step, 30).await;
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
