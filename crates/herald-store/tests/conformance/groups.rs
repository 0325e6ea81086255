//! Concurrent write transactions: each commits or fails alone, whatever
//! the store does underneath (on SQLite they share one commit, each in its
//! own savepoint; on PostgreSQL each is its own transaction).

use std::time::Duration;

use super::*;

conformance!(
    one_bad_write_among_many_fails_alone,
    a_dropped_write_rolls_back_alone,
    a_write_begun_alone_does_not_hold_up_the_writes_before_it,
    a_read_inside_a_write_sees_its_own_rows,
);

fn account(id: Uuid, name: &str) -> Vec<(String, Value)> {
    vec![
        ("accountid".to_string(), Value::Guid(id)),
        ("name".to_string(), v(name)),
    ]
}

async fn exists(store: &Store, id: Uuid) -> bool {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    store.get(t, id).await.unwrap().is_some()
}

/// 40 writes at once, one of them a duplicate key: that one fails with
/// Duplicate, the 39 others commit, each with both of its rows.
async fn one_bad_write_among_many_fails_alone(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let taken = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &account(taken, "taken")).await.unwrap();
    tx.commit().await.unwrap();

    let writes: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let schema = store.schema().clone();
                let t = schema.table("account").unwrap();
                let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
                let second = if i == 17 { taken } else { b };
                let mut tx = store.begin().await?;
                tx.insert(t, &account(a, "first")).await?;
                tx.insert(t, &account(second, "second")).await?;
                tx.commit().await.map(|_| (i, a, second))
            })
        })
        .collect();
    let mut committed = 0;
    for w in writes {
        match w.await.unwrap() {
            Ok((i, a, b)) => {
                assert_ne!(i, 17, "the duplicate write committed");
                assert!(exists(&store, a).await && exists(&store, b).await);
                committed += 1;
            }
            // (Named by the first row of the batch that failed.)
            Err(StoreError::Duplicate(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(committed, 39);
}

/// A write dropped without committing leaves nothing, while the writes
/// around it commit.
async fn a_dropped_write_rolls_back_alone(store: Store) {
    let (kept, dropped, after) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let s = store.clone();
    let first = tokio::spawn(async move {
        let schema = s.schema().clone();
        let t = schema.table("account").unwrap();
        let mut tx = s.begin().await.unwrap();
        tx.insert(t, &account(kept, "kept")).await.unwrap();
        tx.flush().await.unwrap();
        tx.commit().await.unwrap();
    });
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &account(dropped, "dropped")).await.unwrap();
    tx.flush().await.unwrap();
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &account(after, "after")).await.unwrap();
    tx.commit().await.unwrap();
    first.await.unwrap();
    assert!(exists(&store, kept).await);
    assert!(!exists(&store, dropped).await);
    assert!(exists(&store, after).await);
}

/// A write that holds its transaction open (as one delivering a sync step
/// does) begins alone: a write that was done before it commits without
/// waiting for it to end.
async fn a_write_begun_alone_does_not_hold_up_the_writes_before_it(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let (early, slow) = (Uuid::new_v4(), Uuid::new_v4());
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &account(early, "early")).await.unwrap();
    tx.flush().await.unwrap();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let s = store.clone();
    let holder = tokio::spawn(async move {
        let schema = s.schema().clone();
        let t = schema.table("account").unwrap();
        let mut tx = s.begin_alone().await.unwrap();
        tx.insert(t, &account(slow, "slow")).await.unwrap();
        tx.flush().await.unwrap();
        // Held open until the early write has committed.
        tokio::time::timeout(Duration::from_secs(20), done_rx)
            .await
            .expect("the early write waited for the one holding the transaction")
            .unwrap();
        tx.commit().await.unwrap();
    });
    // Let the holder queue up behind this write.
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(20), tx.commit())
        .await
        .expect("the commit waited for the write begun after it")
        .unwrap();
    assert!(exists(&store, early).await);
    done_tx.send(()).unwrap();
    holder.await.unwrap();
    assert!(exists(&store, slow).await);
}

/// A write reads what it wrote before committing; others see it only
/// after.
async fn a_read_inside_a_write_sees_its_own_rows(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let id = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &account(id, "mine")).await.unwrap();
    assert!(tx.get(t, id).await.unwrap().is_some());
    assert!(!exists(&store, id).await);
    tx.commit().await.unwrap();
    assert!(exists(&store, id).await);
}
