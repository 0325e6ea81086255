//! System Job outcomes ([`Store::complete_jobs`]): written only where the
//! writing node still holds the job's lease, in one batch of updates,
//! attempts and autodelete deletions.

use herald_core::job::JobPhase;
use herald_core::Value;
use herald_store::{AttemptRow, JobOutcome, Lease, NewJob, OutcomeRow, Store};
use uuid::Uuid;

use crate::conformance;

conformance!(an_outcome_is_written_only_by_the_node_holding_the_lease);

async fn job_leased_to(s: &Store, owner: &str, now_ms: i64) -> Uuid {
    let id = Uuid::now_v7();
    let schema = s.schema();
    let table = schema.table("asyncoperation").expect("asyncoperation");
    let mut tx = s.begin().await.unwrap();
    let row = crate::system_job_row(id);
    tx.insert_system_job(table, row).await.unwrap();
    tx.enqueue_job(
        &NewJob::ready(id, Uuid::new_v4(), now_ms, false).leased(Some(Lease {
            owner: owner.into(),
            until_ms: now_ms + 60_000,
        })),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn succeeded(id: Uuid, now_ms: i64) -> JobOutcome {
    JobOutcome {
        asyncoperation_id: id,
        attempts: vec![AttemptRow {
            asyncoperation_id: id,
            attempt: 1,
            started_ms: now_ms,
            duration_ms: 3,
            status: Some(200),
            error: None,
            response: None,
        }],
        row: OutcomeRow::Update {
            phase: JobPhase::SUCCEEDED,
            started_ms: now_ms,
            completed_ms: now_ms + 3,
            executiontimespan: 3,
            retries: 0,
            message: None,
            friendlymessage: None,
            errorcode: None,
        },
    }
}

async fn statuscode(s: &Store, id: Uuid) -> Option<Value> {
    let schema = s.schema();
    let table = schema.table("asyncoperation").expect("asyncoperation");
    s.get(table, id)
        .await
        .unwrap()
        .map(|r| r.get("statuscode").cloned().unwrap_or(Value::Null))
}

async fn an_outcome_is_written_only_by_the_node_holding_the_lease(s: Store) {
    let now = chrono::Utc::now().timestamp_millis();
    let kept = job_leased_to(&s, "node-a", now).await;
    let gone = job_leased_to(&s, "node-a", now).await;
    let waiting = statuscode(&s, kept).await;

    // Another node's outcomes (it lost the lease) change nothing.
    let lost = vec![
        succeeded(kept, now),
        JobOutcome {
            asyncoperation_id: gone,
            attempts: vec![],
            row: OutcomeRow::Delete,
        },
    ];
    s.complete_jobs("node-b", &lost).await.unwrap();
    assert_eq!(statuscode(&s, kept).await, waiting);
    assert!(statuscode(&s, gone).await.is_some(), "not deleted");
    assert!(s.attempts(kept).await.unwrap().is_empty());
    assert_eq!(s.queue_depth(now).await.unwrap().0, 2, "both still queued");

    // The holder's: one updated with its attempt, one deleted (autodelete),
    // and both out of the queue.
    s.complete_jobs("node-a", &lost).await.unwrap();
    assert_eq!(
        statuscode(&s, kept).await,
        Some(Value::Int(JobPhase::SUCCEEDED.status.code()))
    );
    assert_eq!(statuscode(&s, gone).await, None, "deleted");
    let attempts = s.attempts(kept).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, Some(200));
    assert_eq!(s.queue_depth(now).await.unwrap().0, 0);
}
