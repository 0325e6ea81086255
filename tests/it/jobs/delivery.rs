//! How the workers deliver System Jobs: the outbox (a rolled-back write
//! leaves no job), In Progress while a delivery runs, every field filled in
//! after a retry, fairness between webhooks, and a write waking the workers
//! without the poll.

use std::time::{Duration, Instant};

use herald_testkit::{Behavior, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{attempts_of, id_of, HEADERS};
use crate::common::{job_of, odata_error, register, Backend, TestServer};

both_backends!(
    starts_own: a_hanging_endpoint_does_not_starve_the_others,
    a_write_wakes_the_workers_without_the_poll,
);

both_backends!(
    slow_deliveries_show_in_progress_and_every_job_gets_startedon,
    a_rolled_back_write_leaves_no_job_and_delivers_nothing,
    a_retried_delivery_fills_in_every_job_field,
);

/// Fairness: one webhook that hangs until the delivery timeout occupies at
/// most its share of a node's slots (`jobs.endpoint_share`, here 50 % of 4);
/// another webhook's jobs, written after a backlog of hanging ones, are
/// still delivered at once instead of after the timeout.
async fn a_hanging_endpoint_does_not_starve_the_others(backend: Backend, test: &str) {
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

/// With a poll interval of a minute, a job is still delivered at once: the
/// write wakes this node's workers in-process (on PostgreSQL NOTIFY would
/// too). Each job is written once the previous one was delivered, so the
/// workers are asleep waiting when it commits.
async fn a_write_wakes_the_workers_without_the_poll(backend: Backend, test: &str) {
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
