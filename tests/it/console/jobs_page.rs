//! The System Jobs page at scale: twenty thousand jobs render a page at a
//! time, and every filter and paging direction is planned as an index walk.

use reqwest::StatusCode;

use super::browser::{get, signed_in};
use crate::common::TestServer;

both_backends!(
    a_page_of_twenty_thousand_jobs_renders,
    the_jobs_page_query_walks_an_index,
);

/// Insert `n` System Jobs of `step`, four per second from `start`, their
/// (statecode, statuscode) cycling through `states`; half on contact, half
/// on account.
async fn insert_jobs(
    s: &TestServer,
    n: usize,
    step: uuid::Uuid,
    start: chrono::DateTime<chrono::Utc>,
    states: &[(i64, i64)],
) {
    let t = s.state.schema().table("asyncoperation").unwrap().clone();
    let mut tx = s.state.store.begin().await.unwrap();
    for i in 0..n {
        use herald_core::Value;
        // Several jobs share a millisecond, so ties on createdon are paged by id.
        let at = start + chrono::Duration::milliseconds((i / 4) as i64 * 1000);
        let (state, status) = states[i % states.len()];
        let row = vec![
            (
                "asyncoperationid".to_string(),
                Value::Guid(uuid::Uuid::new_v4()),
            ),
            (
                "name".to_string(),
                Value::String(format!("bulk step {}", i % 7)),
            ),
            ("operationtype".to_string(), Value::Int(1)),
            ("statecode".to_string(), Value::Int(state)),
            ("statuscode".to_string(), Value::Int(status)),
            ("owningextensionid".to_string(), Value::Guid(step)),
            (
                "primaryentitytype".to_string(),
                Value::String(if i % 2 == 0 { "contact" } else { "account" }.into()),
            ),
            (
                "regardingobjectid".to_string(),
                Value::Guid(uuid::Uuid::new_v4()),
            ),
            ("retrycount".to_string(), Value::Int(0)),
            ("data".to_string(), Value::String("{}".into())),
            ("createdon".to_string(), Value::DateTime(at)),
            ("modifiedon".to_string(), Value::DateTime(at)),
            ("versionnumber".to_string(), Value::Int(1)),
        ];
        tx.insert(&t, &row).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn a_page_of_twenty_thousand_jobs_renders(s: TestServer) {
    const N: usize = 20_000;
    let step = uuid::Uuid::new_v4();
    let start = chrono::Utc::now() - chrono::Duration::hours(6);
    insert_jobs(&s, N, step, start, &[(3, 31), (3, 30), (3, 30), (3, 32)]).await;

    let (c, _) = signed_in(&s).await;
    let p = get(&c, &s, "/console/jobs").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.linked_ids("/console/jobs/").len(), 50);
    assert!(p.rel("prev").is_none(), "the first page has nothing newer");

    // Walk every failed job (N/4) in pages of 500 via "Older →": each once.
    let mut seen = std::collections::HashSet::new();
    let mut pages = Vec::new();
    let mut next = Some("/console/jobs?status=failed&top=500".to_string());
    while let Some(path) = next {
        let p = get(&c, &s, &path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        let ids = p.linked_ids("/console/jobs/");
        assert!(!ids.is_empty(), "{path}");
        for id in &ids {
            assert!(seen.insert(id.clone()), "job {id} listed twice");
        }
        pages.push((path, ids));
        next = p.rel("next");
    }
    assert_eq!(seen.len(), N / 4);
    assert_eq!(pages.len(), N / 4 / 500);
    // "← Newer" from the third page gives back the second.
    let third = get(&c, &s, &pages[2].0).await;
    let back = get(&c, &s, &third.rel("prev").expect("a newer link")).await;
    assert_eq!(back.linked_ids("/console/jobs/"), pages[1].1);

    // Filters combine, over the indexes.
    let p = get(
        &c,
        &s,
        &format!("/console/jobs?status=succeeded&table=contact&step={step}&top=200"),
    )
    .await;
    assert_eq!(p.linked_ids("/console/jobs/").len(), 200);
    let mid = start + chrono::Duration::seconds(60);
    let p = get(
        &c,
        &s,
        &format!("/console/jobs?to={}&top=500", mid.format("%Y-%m-%dT%H:%M")),
    )
    .await;
    let n = p.linked_ids("/console/jobs/").len();
    assert!(n > 0 && n <= 4 * 61, "{n} jobs before {mid}");
}

/// Every System Jobs page — each filter, the first page and both paging
/// directions — is planned as a walk of an `asyncoperation` index in the
/// page's order (at most ties on `createdon` sorted by id), never a table
/// scan or a full sort, with enough jobs in every status that the planners
/// have a choice. The several-status groups (Waiting, In progress) page
/// correctly from their per-status walks.
async fn the_jobs_page_query_walks_an_index(s: TestServer) {
    use herald_server::console::{
        jobs_page_queries, JobsCursor, JobsDirection, JobsFilters, JOBS_DEFAULT_TOP,
    };
    const N: usize = 24_000;
    const STATES: [(i64, i64); 8] = [
        (0, 0),
        (1, 10),
        (2, 20),
        (2, 21),
        (2, 22),
        (3, 30),
        (3, 31),
        (3, 32),
    ];
    let step = uuid::Uuid::new_v4();
    let start = chrono::Utc::now() - chrono::Duration::hours(6);
    insert_jobs(&s, N, step, start, &STATES).await;
    let postgres = match s.state.store.pg_pool() {
        Some(pool) => {
            // What autovacuum would have done by the time a table is this big.
            sqlx::query("ANALYZE \"asyncoperation\"")
                .execute(pool)
                .await
                .unwrap();
            true
        }
        None => false,
    };
    let base = JobsFilters {
        top: JOBS_DEFAULT_TOP,
        ..JobsFilters::default()
    };
    let at = |minutes: i64| {
        (start + chrono::Duration::minutes(minutes))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let mut filters: Vec<(String, JobsFilters)> = vec![("any".into(), base.clone())];
    for status in ["waiting", "inprogress", "succeeded", "failed", "canceled"] {
        filters.push((
            status.into(),
            JobsFilters {
                status: Some(status),
                ..base.clone()
            },
        ));
    }
    filters.extend([
        (
            "step".into(),
            JobsFilters {
                step: Some(step),
                ..base.clone()
            },
        ),
        (
            "table".into(),
            JobsFilters {
                table: Some("contact".into()),
                ..base.clone()
            },
        ),
        (
            "range".into(),
            JobsFilters {
                from: Some(at(30)),
                to: Some(at(90)),
                ..base.clone()
            },
        ),
        (
            "failed contact jobs of the step".into(),
            JobsFilters {
                status: Some("failed"),
                step: Some(step),
                table: Some("contact".into()),
                ..base.clone()
            },
        ),
    ]);
    let cursor = JobsCursor {
        ms: (start + chrono::Duration::minutes(60)).timestamp_millis(),
        id: uuid::Uuid::new_v4(),
    };
    for (name, f) in &filters {
        for (dir_name, dir) in [
            ("first", JobsDirection::First),
            ("after", JobsDirection::After(cursor)),
            ("before", JobsDirection::Before(cursor)),
        ] {
            let queries = jobs_page_queries(f, dir);
            let expected = match f.status {
                Some("waiting") => 2,
                Some("inprogress") => 3,
                _ => 1,
            };
            assert_eq!(queries.len(), expected, "{name}");
            for q in &queries {
                let plan = s.state.store.explain(q, Some(f.top + 1)).await.unwrap();
                let text = plan.join("\n");
                let what = format!("{name} / {dir_name}:\n{text}");
                if postgres {
                    assert!(
                        text.contains("Index Scan") && text.contains("ix_asyncoperation_"),
                        "an asyncoperation index walk: {what}"
                    );
                    assert!(!text.contains("Seq Scan"), "no table scan: {what}");
                    assert!(
                        !plan.iter().any(|l| l
                            .trim_start()
                            .trim_start_matches("->")
                            .trim_start()
                            .starts_with("Sort  (")),
                        "no full sort (an Incremental Sort of ties is fine): {what}"
                    );
                } else {
                    assert!(
                        plan.iter()
                            .any(|l| l.contains("USING INDEX ix_asyncoperation_")
                                || l.contains("USING COVERING INDEX ix_asyncoperation_")),
                        "an asyncoperation index: {what}"
                    );
                    assert!(
                        !plan
                            .iter()
                            .any(|l| l.starts_with("SCAN") && !l.contains("USING")),
                        "no table scan: {what}"
                    );
                    assert!(
                        !plan.iter().any(|l| l.contains("TEMP B-TREE FOR ORDER BY")),
                        "no full sort (sorting ties on the last terms is fine): {what}"
                    );
                }
            }
        }
    }

    // The merged per-status walks page like one query: every In progress
    // job exactly once going older, and "← Newer" gives the previous page.
    let (c, _) = signed_in(&s).await;
    let mut seen = std::collections::HashSet::new();
    let mut pages = Vec::new();
    let mut next = Some("/console/jobs?status=inprogress&top=200".to_string());
    while let Some(path) = next {
        let p = get(&c, &s, &path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        let ids = p.linked_ids("/console/jobs/");
        for id in &ids {
            assert!(seen.insert(id.clone()), "job {id} listed twice");
        }
        pages.push((path, ids));
        next = p.rel("next");
    }
    assert_eq!(seen.len(), N * 3 / STATES.len());
    let third = get(&c, &s, &pages[2].0).await;
    let back = get(&c, &s, &third.rel("prev").expect("a newer link")).await;
    assert_eq!(back.linked_ids("/console/jobs/"), pages[1].1);
}
