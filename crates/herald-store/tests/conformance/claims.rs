//! Claiming System Jobs ([`Store::claim_jobs`]): what a claim reports as
//! `exhausted` — no more jobs ready beyond the ones it took — which the
//! worker trusts until the next wake-up or poll.

use herald_store::{ClaimLimits, NewJob, Store};
use uuid::Uuid;

use crate::conformance;

conformance!(a_claim_capped_by_an_endpoints_share_is_not_exhausted);

async fn ready_jobs(s: &Store, endpoint: Uuid, n: usize, now_ms: i64) {
    let schema = s.schema();
    let table = schema.table("asyncoperation").expect("asyncoperation");
    let mut tx = s.begin().await.unwrap();
    for _ in 0..n {
        let id = Uuid::now_v7();
        let row = crate::system_job_row(id);
        tx.insert_system_job(table, row).await.unwrap();
        tx.enqueue_job(&NewJob::ready(id, endpoint, now_ms, false))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn a_claim_capped_by_an_endpoints_share_is_not_exhausted(s: Store) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let endpoint = Uuid::new_v4();
    ready_jobs(&s, endpoint, 10, now_ms).await;
    // Room for 100 jobs, but the endpoint may hold only 4: the claim reads
    // all 10 candidates (fewer than it asked for) and takes 4.
    let limits = ClaimLimits::new(100, 4, Default::default());
    let claim = s
        .claim_jobs("node-a", now_ms, 60_000, &limits)
        .await
        .unwrap();
    assert_eq!(claim.jobs.len(), 4);
    assert!(
        !claim.exhausted,
        "six jobs of the endpoint are still ready, left behind by its cap"
    );
    // Without a cap in the way, taking the rest empties the queue.
    let rest = s
        .claim_jobs("node-a", now_ms, 60_000, &ClaimLimits::unlimited(100))
        .await
        .unwrap();
    assert_eq!(rest.jobs.len(), 6);
    assert!(rest.exhausted, "nothing is left");
}
