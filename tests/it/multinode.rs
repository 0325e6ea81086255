//! Several real `herald serve` processes on one PostgreSQL database share
//! the System Jobs (SPEC §1 multi-node): every job is delivered exactly once
//! in the normal case and never twice at the same time, a write on one node
//! wakes the others at once (LISTEN/NOTIFY), and the jobs of a node that
//! dies mid-delivery are taken over when its lease expires.
//!
//! Needs HERALD_TEST_DATABASE_URL; without it each test prints SKIPPED and
//! passes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::node::{record_of, until, Api, Node};
use herald_testkit::{Behavior, Captured, Receiver};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// Per record id: how many deliveries, and how many overlapped an earlier
/// one (arrived while the receiver was still holding the previous request
/// of the same record for `hold`).
fn tally(requests: &[Captured], hold: Duration) -> (HashMap<String, usize>, Vec<String>) {
    let mut by_id: HashMap<String, Vec<Instant>> = HashMap::new();
    for c in requests {
        by_id.entry(record_of(c)).or_default().push(c.received_at);
    }
    let mut counts = HashMap::new();
    let mut overlaps = Vec::new();
    for (id, mut times) in by_id {
        times.sort();
        if times.windows(2).any(|w| w[1].duration_since(w[0]) < hold) {
            overlaps.push(id.clone());
        }
        counts.insert(id, times.len());
    }
    (counts, overlaps)
}

/// Create `ids.len()` accounts with these ids, spread round-robin over the
/// nodes, `parallel` at a time; all must succeed.
async fn write_accounts(nodes: &[Api], ids: &[Uuid], parallel: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(ids.to_vec());
    let nodes = Arc::new(nodes.to_vec());
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (next, ids, nodes) = (next.clone(), ids.clone(), nodes.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(id) = ids.get(i) else { return };
                let api = &nodes[i % nodes.len()];
                let (st, body) = api
                    .post(
                        "accounts",
                        &json!({"accountid": id, "name": format!("acct {i}")}),
                    )
                    .await
                    .expect("write sent");
                assert_eq!(st, StatusCode::NO_CONTENT, "write {i}: {body}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
}

async fn pg(test: &str) -> Option<String> {
    herald_store::testing::fresh_postgres_url(test).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_is_delivered_once_across_three_nodes() {
    let Some(url) = pg(concat!(
        module_path!(),
        "::every_job_is_delivered_once_across_three_nodes"
    ))
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("HERALD_DELIVERY__TIMEOUT", "5s"),
        ("HERALD_JOBS__LEASE", "1s"),
        ("HERALD_JOBS__POLL_INTERVAL", "500ms"),
    ];
    // Started together: migrations and bootstrap serialise themselves.
    let starts: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|n| {
            let (dir, url) = (dir.path().join(n), url.clone());
            std::thread::spawn(move || Node::start(n, &dir, Some(&url), &env))
        })
        .collect();
    let nodes: Vec<Node> = starts
        .into_iter()
        .map(|t| t.join().expect("node start"))
        .collect();
    let apis: Vec<Api> = nodes.iter().map(Node::client).collect();

    let hold = Duration::from_millis(50);
    let rx = Receiver::start_with(Behavior::delay(hold, 200)).await;
    apis[0]
        .async_step("counter", &rx.url_for("/hook"), "account")
        .await;

    const N: usize = 300;
    let ids: Vec<Uuid> = (0..N).map(|_| Uuid::new_v4()).collect();
    let started = Instant::now();
    write_accounts(&apis, &ids, 12).await;
    let written = started.elapsed();
    rx.wait_for(N, Duration::from_secs(45)).await;
    let delivered = started.elapsed();
    // Every job completed (and left the queue): nothing can be sent again.
    until(
        Duration::from_secs(30),
        "every System Job Succeeded",
        || async {
            let ok = apis[1].jobs_with_status(30).await;
            (ok == N as i64).then_some(())
        },
    )
    .await;

    let (counts, overlaps) = tally(&rx.requests(), hold);
    // Who delivered: each node's own count of its deliveries.
    let mut per_node = Vec::new();
    for n in &nodes {
        per_node.push((n.name.clone(), n.async_deliveries("counter").await));
    }
    let missing: Vec<&Uuid> = ids
        .iter()
        .filter(|id| !counts.contains_key(&id.to_string()))
        .collect();
    let duplicates: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "multinode: {N} writes over 3 nodes in {written:?}, all delivered after {delivered:?}; {} requests, {} duplicates, {} overlaps; per node {per_node:?}",
        rx.requests().len(),
        duplicates.len(),
        overlaps.len()
    );
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert!(
        duplicates.is_empty(),
        "delivered more than once: {duplicates:?}"
    );
    assert!(overlaps.is_empty(), "delivered concurrently: {overlaps:?}");
    assert_eq!(counts.len(), N);
    assert_eq!(rx.requests().len(), N, "exactly N requests");
    assert_eq!(
        per_node.iter().map(|(_, n)| n).sum::<u64>(),
        N as u64,
        "the nodes' delivery counts add up to N: {per_node:?}"
    );
    let busy = per_node.iter().filter(|(_, n)| *n > 0).count();
    assert!(
        busy >= 2,
        "the jobs were shared: more than one node delivered: {per_node:?}"
    );
    drop(nodes);
}

/// Node A (one delivery slot) is busy with a hanging delivery; a job
/// written through A can only be run by B, whose poll interval is a
/// minute: it must be woken by PostgreSQL's NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_wakes_another() {
    let Some(url) = pg(concat!(
        module_path!(),
        "::a_write_on_one_node_wakes_another"
    ))
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let common = [
        ("HERALD_DELIVERY__TIMEOUT", "30s"),
        ("HERALD_JOBS__POLL_INTERVAL", "60s"),
    ];
    let a = Node::start(
        "a",
        &dir.path().join("a"),
        Some(&url),
        &[common[0], common[1], ("HERALD_JOBS__CONCURRENCY", "1")],
    );
    let api_a = a.client();
    let rx =
        Receiver::start_with(Behavior::sequence([Behavior::Hang], Behavior::status(200))).await;
    api_a
        .async_step("wake", &rx.url_for("/hook"), "account")
        .await;
    let first = api_a
        .create("accounts", json!({"name": "hangs on A"}))
        .await;
    let got = rx.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(record_of(&got[0]), first);

    let b = Node::start("b", &dir.path().join("b"), Some(&url), &common);
    let second = api_a.create("accounts", json!({"name": "for B"})).await;
    let written = Instant::now();
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    let latency = got[1].received_at.saturating_duration_since(written);
    eprintln!(
        "multinode: a job written on A was delivered by B after {latency:?} (B polls every 60 s)"
    );
    assert_eq!(record_of(&got[1]), second);
    assert!(
        latency < Duration::from_secs(5),
        "B took {latency:?}: woken by the poll, not by NOTIFY"
    );
    // B's listener is certainly up now (it may have caught the second job by
    // its look-around after LISTEN): the third can only come by NOTIFY.
    let third = api_a.create("accounts", json!({"name": "for B too"})).await;
    let written = Instant::now();
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    let latency = got[2].received_at.saturating_duration_since(written);
    eprintln!("multinode: and the next one after {latency:?}");
    assert_eq!(record_of(&got[2]), third);
    assert!(
        latency < Duration::from_secs(5),
        "B took {latency:?}: woken by the poll, not by NOTIFY"
    );
    drop((a, b));
}

/// A node dies (SIGKILL) while its deliveries hang at the receiver; the
/// other nodes, already running beside it, take its jobs over once the
/// lease expires and deliver each exactly once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_jobs_are_taken_over() {
    let Some(url) = pg(concat!(
        module_path!(),
        "::a_killed_nodes_jobs_are_taken_over"
    ))
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // Lease = max(1 s, 2 × 10 s + 2.5 s) = 22.5 s. The 10 s timeout leaves
    // time to start B and C while A's deliveries hang, before they fail
    // (starting both took 7.4 s once on a machine at load 15).
    const TIMEOUT: Duration = Duration::from_secs(10);
    const LEASE: Duration = Duration::from_millis(22_500);
    let env = [
        ("HERALD_DELIVERY__TIMEOUT", "10s"),
        ("HERALD_JOBS__LEASE", "1s"),
        ("HERALD_JOBS__POLL_INTERVAL", "200ms"),
    ];
    let mut a = Node::start("a", &dir.path().join("a"), Some(&url), &env);
    let api_a = a.client();
    // While only A runs, every request is A's, and it hangs.
    let rx = Receiver::start_with(Behavior::Hang).await;
    api_a
        .async_step("takeover", &rx.url_for("/hook"), "account")
        .await;
    const N: usize = 10;
    let ids: Vec<Uuid> = (0..N).map(|_| Uuid::new_v4()).collect();
    write_accounts(std::slice::from_ref(&api_a), &ids, 4).await;
    rx.wait_for(N, Duration::from_secs(15)).await;
    let claimed_at = rx
        .requests()
        .iter()
        .map(|c| c.received_at)
        .min()
        .expect("requests");
    // A holds all N leases. B and C start now, beside it: they find every
    // job leased and deliver nothing while A lives.
    rx.respond(Behavior::delay(Duration::from_millis(50), 200));
    let survivors: Vec<Node> = ["b", "c"]
        .into_iter()
        .map(|n| {
            let (dir, url) = (dir.path().join(n), url.clone());
            std::thread::spawn(move || Node::start(n, &dir, Some(&url), &env))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("node start"))
        .collect();
    let api_b = survivors[0].client();
    api_b.get("WhoAmI").await;
    survivors[1].client().get("WhoAmI").await;
    assert_eq!(rx.requests().len(), N, "B and C took nothing from A");
    // Kill A before its deliveries time out (they would fail, not be taken over).
    let killed = Instant::now();
    assert!(
        killed.duration_since(claimed_at) < TIMEOUT,
        "B and C took {:?} to start: A's deliveries timed out first",
        killed.duration_since(claimed_at)
    );
    a.kill();

    let got = rx.wait_for(2 * N, Duration::from_secs(45)).await;
    let after: Vec<Captured> = got
        .iter()
        .filter(|c| c.received_at > killed)
        .cloned()
        .collect();
    let first = after
        .iter()
        .map(|c| c.received_at)
        .min()
        .expect("takeover requests");
    let last = after
        .iter()
        .map(|c| c.received_at)
        .max()
        .expect("takeover requests");
    until(
        Duration::from_secs(15),
        "every System Job Succeeded",
        || async { (api_b.jobs_with_status(30).await == N as i64).then_some(()) },
    )
    .await;
    let mut per_node = Vec::new();
    for n in &survivors {
        per_node.push((n.name.clone(), n.async_deliveries("takeover").await));
    }
    let (counts, overlaps) = tally(&after, Duration::from_millis(50));
    eprintln!(
        "multinode: node A killed {:?} after claiming, B and C already running; takeover delivered the first job {:?} and all {N} {:?} after the kill (lease 22.5 s); per survivor {per_node:?}",
        killed.duration_since(claimed_at),
        first.duration_since(killed),
        last.duration_since(killed)
    );
    for id in &ids {
        assert_eq!(
            counts.get(&id.to_string()),
            Some(&1),
            "record {id}: taken over and delivered exactly once"
        );
    }
    assert_eq!(rx.requests().len(), 2 * N, "{per_node:?}");
    assert!(overlaps.is_empty(), "{overlaps:?}");
    assert_eq!(
        per_node.iter().map(|(_, n)| n).sum::<u64>(),
        N as u64,
        "the survivors delivered them: {per_node:?}"
    );
    // Not before the lease (taken at claim time) ran out.
    assert!(
        first.duration_since(claimed_at) >= LEASE - Duration::from_millis(500),
        "taken over too early: {:?}",
        first.duration_since(claimed_at)
    );
    drop(survivors);
}

/// A bulk delete whose node was killed before it ran is resumed by exactly
/// one of the two nodes started afterwards on the same database (both look
/// for unfinished bulk deletes at start; the job's lease decides), once the
/// dead node's lease expired; it deletes every matching record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_delete_is_resumed_by_exactly_one_node() {
    let Some(url) = pg(concat!(
        module_path!(),
        "::a_bulk_delete_is_resumed_by_exactly_one_node"
    ))
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // Lease = max(1 s, 2 × 1 s + 1 s) = 3 s.
    let env = [
        ("HERALD_DELIVERY__TIMEOUT", "1s"),
        ("HERALD_JOBS__LEASE", "1s"),
        ("HERALD_JOBS__POLL_INTERVAL", "200ms"),
    ];
    let mut a = Node::start("a", &dir.path().join("a"), Some(&url), &env);
    let api = a.client();
    let id = crate::bulk_delete::postponed_delete_of_gone(&api, "resumed once").await;
    a.kill();

    let nodes: Vec<Node> = ["b", "c"]
        .into_iter()
        .map(|n| {
            let (dir, url) = (dir.path().join(n), url.clone());
            std::thread::spawn(move || Node::start(n, &dir, Some(&url), &env))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("node start"))
        .collect();
    let api = nodes[0].client();
    let done = until(
        Duration::from_secs(30),
        "the resumed bulk delete",
        || async {
            let j = api.get(&format!("asyncoperations({id})")).await;
            (j["statecode"] == 3).then_some(j)
        },
    )
    .await;
    assert_eq!(done["statuscode"], 30, "{done}");
    let op = api.get(&format!("bulkdeleteoperations({id})")).await;
    assert_eq!(op["successcount"], 3, "{op}");
    let left = api.get("contacts?$select=lastname").await;
    let left: Vec<&str> = left["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["lastname"].as_str())
        .collect();
    assert_eq!(left, ["Stays"]);
    // Give a second node time to (wrongly) take it too, then count.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let resumed: Vec<&str> = nodes
        .iter()
        .filter(|n| {
            n.log_tail(10_000)
                .lines()
                .any(|l| l.contains("resuming a bulk delete") && l.contains(&id))
        })
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(
        resumed.len(),
        1,
        "resumed by {resumed:?}, not by exactly one node"
    );
}
