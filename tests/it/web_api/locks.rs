//! A single write that meets a row lock on PostgreSQL. Such writes share
//! a transaction with the writes around them (herald-store `pg_group.rs`),
//! where a lock wait gives up after `lock_timeout` so the group is not
//! stalled; the pipeline then runs the write again in a transaction of
//! its own, which waits for the lock as any PostgreSQL transaction does.
//! The client sees one write that waited, never an error. (SQLite has no
//! row locks: one writer at a time.)

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_of_a_row_locked_elsewhere_waits_and_commits_on_postgres() {
    let Some(s) = TestServer::start(Backend::Postgres, "web_api::locks::patch").await else {
        return;
    };
    let id = s
        .create(
            "contacts",
            json!({"firstname": "Before", "lastname": "Locked"}),
        )
        .await;
    let pool = s.state.store.pg_pool().expect("a PostgreSQL store").clone();

    // Another transaction holds the row.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM contact WHERE contactid::text = $1 FOR UPDATE")
        .bind(&id)
        .execute(&mut *holder)
        .await
        .unwrap();

    let patch = {
        let (client, url, key) = (
            s.client.clone(),
            format!("{}/contacts({id})", s.api),
            s.key.clone(),
        );
        tokio::spawn(async move {
            client
                .patch(url)
                .bearer_auth(key)
                .json(&json!({"firstname": "After"}))
                .send()
                .await
                .unwrap()
        })
    };

    // The write ends up waiting for the lock (past the group's
    // lock_timeout, so in a transaction of its own), not answered.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 && !patch.is_finished() {
            break;
        }
        assert!(
            !patch.is_finished(),
            "the PATCH was answered while the row was locked: {:?}",
            patch.await.map(|r| r.status())
        );
        assert!(
            Instant::now() < deadline,
            "the PATCH never waited for the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    holder.commit().await.unwrap();

    let answer = tokio::time::timeout(Duration::from_secs(20), patch)
        .await
        .expect("the PATCH did not finish once the lock was released")
        .unwrap();
    let status = answer.status();
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        answer.text().await.unwrap()
    );
    let (st, body) = s.get(&format!("contacts({id})?$select=firstname")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["firstname"], "After");
}
