//! Concurrent write transactions: each commits or fails alone, whatever
//! the store does underneath (on SQLite they share one commit, each in its
//! own savepoint; on PostgreSQL `begin` is a transaction of its own and
//! `begin_grouped` shares one with the writes around it, `pg_group`).

use std::time::Duration;

use super::*;

conformance!(
    one_bad_write_among_many_fails_alone,
    a_dropped_write_rolls_back_alone,
    a_write_begun_alone_does_not_hold_up_the_writes_before_it,
    a_read_inside_a_write_sees_its_own_rows,
    one_bad_grouped_write_among_many_fails_alone,
    one_bad_handed_over_write_among_many_fails_alone,
    one_bad_handed_over_write_among_open_groups_fails_alone,
    a_dropped_grouped_write_rolls_back_alone,
    grouped_writes_commit_beside_a_write_begun_alone,
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
    one_bad_write_among(store, 40, false, Flush::Always).await;
}

/// The same with writes that share their transaction on both stores
/// (`begin_grouped`): 60 at once, spread over the PostgreSQL groups.
async fn one_bad_grouped_write_among_many_fails_alone(store: Store) {
    one_bad_write_among(store, 60, true, Flush::Always).await;
}

/// The same with grouped writes whose statements are all batched (no
/// flush): on SQLite they are handed over whole and run in rounds of many
/// writes in one statement text (`group`), which the duplicate makes fail
/// and run again one by one.
async fn one_bad_handed_over_write_among_many_fails_alone(store: Store) {
    one_bad_write_among(store, 60, true, Flush::Never).await;
}

/// The same with every other write flushing first (on SQLite it takes the
/// connection and may leave its COMMIT to the writes after it): the
/// handed-over duplicate then meets rounds that join an open group, whose
/// earlier writes must survive its failure.
async fn one_bad_handed_over_write_among_open_groups_fails_alone(store: Store) {
    one_bad_write_among(store, 80, true, Flush::EveryOther).await;
}

/// Which of [`one_bad_write_among`]'s writes flush their first row.
#[derive(Clone, Copy)]
enum Flush {
    Always,
    Never,
    /// The even ones (the duplicate is an odd one).
    EveryOther,
}

/// `n` writes at once of two rows each (in two flushes as `flush` says), one of
/// them a duplicate key: it alone fails, with both its rows; the others
/// commit.
async fn one_bad_write_among(store: Store, n: usize, grouped: bool, flush: Flush) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let taken = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &account(taken, "taken")).await.unwrap();
    tx.commit().await.unwrap();

    let bad = n / 2 - 3;
    assert_eq!(bad % 2, 1);
    let writes: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let schema = store.schema().clone();
                let t = schema.table("account").unwrap();
                let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
                let second = if i == bad { taken } else { b };
                let mut tx = if grouped {
                    store.begin_grouped().await?
                } else {
                    store.begin().await?
                };
                tx.insert(t, &account(a, "first")).await?;
                let flushes = match flush {
                    Flush::Always => true,
                    Flush::Never => false,
                    Flush::EveryOther => i % 2 == 0,
                };
                if flushes {
                    tx.flush().await?;
                }
                tx.insert(t, &account(second, "second")).await?;
                tx.commit().await.map(|_| (i, a, second))
            })
        })
        .collect();
    let (mut committed, mut refused) = (0, 0);
    for w in writes {
        match w.await.unwrap() {
            Ok((i, a, b)) => {
                assert_ne!(i, bad, "the duplicate write committed");
                assert!(exists(&store, a).await && exists(&store, b).await);
                committed += 1;
            }
            // (Named by the first row of the batch that failed.)
            Err(StoreError::Duplicate(_)) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((committed, refused), (n - 1, 1));
    // The duplicate's first row was rolled back with it.
    let all = store.count(&Query::all("account")).await.unwrap();
    assert_eq!(all as usize, 1 + (n - 1) * 2);
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

/// A grouped write dropped after its statements ran (a client gone)
/// leaves nothing; the grouped writes before and after it commit.
async fn a_dropped_grouped_write_rolls_back_alone(store: Store) {
    let (kept, dropped, after) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let writes: Vec<_> = [(kept, true), (dropped, false), (after, true)]
        .into_iter()
        .map(|(id, commit)| {
            let s = store.clone();
            tokio::spawn(async move {
                let schema = s.schema().clone();
                let t = schema.table("account").unwrap();
                let mut tx = s.begin_grouped().await.unwrap();
                tx.insert(t, &account(id, "row")).await.unwrap();
                tx.flush().await.unwrap();
                if commit {
                    tx.commit().await.unwrap();
                } else {
                    drop(tx);
                }
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    // The dropped write's rollback is sent by whoever uses its group next;
    // a write after it must commit and see nothing of it.
    let mut tx = store.begin_grouped().await.unwrap();
    assert!(tx.get(t, dropped).await.unwrap().is_none());
    tx.insert(t, &account(Uuid::new_v4(), "later"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(exists(&store, kept).await);
    assert!(!exists(&store, dropped).await);
    assert!(exists(&store, after).await);
}

/// A write begun alone (a sync step's) stays open while grouped writes
/// commit beside it, and its rollback touches none of them.
async fn grouped_writes_commit_beside_a_write_begun_alone(store: Store) {
    let slow = Uuid::new_v4();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let s = store.clone();
    let holder = tokio::spawn(async move {
        let schema = s.schema().clone();
        let t = schema.table("account").unwrap();
        let mut tx = s.begin_alone().await.unwrap();
        tx.insert(t, &account(slow, "slow")).await.unwrap();
        tx.flush().await.unwrap();
        tokio::time::timeout(Duration::from_secs(20), go_rx)
            .await
            .expect("the grouped writes waited for the write begun alone")
            .unwrap();
        tx.rollback().await.unwrap();
    });
    // On SQLite the writes queue behind the open write and commit once it
    // ends; on PostgreSQL they commit while it is open. Either way each
    // commits, and the one rolled back leaves nothing.
    let ids: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let writes: Vec<_> = ids
        .iter()
        .map(|id| {
            let (s, id) = (store.clone(), *id);
            tokio::spawn(async move {
                let schema = s.schema().clone();
                let t = schema.table("account").unwrap();
                let mut tx = s.begin_grouped().await.unwrap();
                tx.insert(t, &account(id, "beside")).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
        .collect();
    if store.dialect() == herald_store::Dialect::Postgres {
        for w in writes {
            tokio::time::timeout(Duration::from_secs(20), w)
                .await
                .expect("a grouped write waited for the write begun alone")
                .unwrap();
        }
        go_tx.send(()).unwrap();
    } else {
        go_tx.send(()).unwrap();
        for w in writes {
            w.await.unwrap();
        }
    }
    holder.await.unwrap();
    for id in &ids {
        assert!(exists(&store, *id).await);
    }
    assert!(!exists(&store, slow).await);
}

/// PostgreSQL only (SQLite has no row locks: one writer at a time): a
/// grouped write that meets a row lock held by another transaction gives
/// up after `lock_timeout` with a lock conflict instead of stalling its
/// group, leaves nothing, and the same write begun alone waits for the lock
/// and commits once it is released.
#[tokio::test]
async fn a_grouped_write_that_meets_a_row_lock_is_a_lock_conflict_on_postgres() {
    let Some(store) = postgres("store::grouped_row_lock").await else {
        return;
    };
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let row = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &account(row, "v0")).await.unwrap();
    tx.commit().await.unwrap();

    // Another transaction holds the row.
    let mut holder = store.begin_alone().await.unwrap();
    holder
        .update(t, row, &[("name".into(), v("holder"))])
        .await
        .unwrap();

    let other = Uuid::new_v4();
    let mut grouped = store.begin_grouped().await.unwrap();
    grouped.insert(t, &account(other, "grouped")).await.unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        grouped.update(t, row, &[("name".into(), v("grouped"))]),
    )
    .await
    .expect("the grouped write waited for the lock instead of giving up")
    .expect_err("the grouped write updated a locked row");
    assert!(err.is_lock_conflict(), "not a lock conflict: {err}");
    drop(grouped);

    // Run alone, the write waits for the holder, then commits.
    let s = store.clone();
    let again = tokio::spawn(async move {
        let schema = s.schema().clone();
        let t = schema.table("account").unwrap();
        let mut tx = s.begin_alone().await.unwrap();
        tx.insert(t, &account(other, "grouped")).await.unwrap();
        tx.update(t, row, &[("name".into(), v("grouped"))])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });
    holder.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), again)
        .await
        .expect("the write run alone never got the lock")
        .unwrap();
    let name = store.get(t, row).await.unwrap().unwrap();
    assert_eq!(name.get("name"), Some(&v("grouped")));
    assert!(exists(&store, other).await);
    // A grouped write after all that commits (its group was not left broken).
    let mut tx = store.begin_grouped().await.unwrap();
    tx.insert(t, &account(Uuid::new_v4(), "after"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// SQLite only (a PostgreSQL write reads the settings in its own
/// transaction): a grouped write that has not taken the writer decides on
/// the settings as of the last commit. If a write changes them before it
/// takes the writer, it is refused as a lock conflict (to be run again
/// alone) and leaves nothing; the next write decides on the new value.
#[tokio::test]
async fn a_grouped_write_that_decided_on_changed_settings_is_refused_on_sqlite() {
    let (store, _dir) = sqlite().await;
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.put_setting("k", "1").await.unwrap();
    tx.commit().await.unwrap();
    // A write that reads the settings leaves its copy to be published.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.setting("k").await.unwrap().as_deref(), Some("1"));
    tx.insert(t, &account(Uuid::new_v4(), "reader"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let late = Uuid::new_v4();
    let mut grouped = store.begin_grouped().await.unwrap();
    assert_eq!(grouped.setting("k").await.unwrap().as_deref(), Some("1"));
    grouped.insert(t, &account(late, "late")).await.unwrap();

    let mut change = store.begin().await.unwrap();
    change.put_setting("k", "2").await.unwrap();
    change.commit().await.unwrap();

    let err = grouped
        .commit()
        .await
        .expect_err("a write decided on settings that changed committed");
    assert!(err.is_lock_conflict(), "not a lock conflict: {err}");
    assert!(!exists(&store, late).await);

    let mut again = store.begin_grouped().await.unwrap();
    assert_eq!(again.setting("k").await.unwrap().as_deref(), Some("2"));
    again.insert(t, &account(late, "late")).await.unwrap();
    again.commit().await.unwrap();
    assert!(exists(&store, late).await);
}

/// SQLite: a setting changed by a grouped write that read the published
/// copy first is what the writes after it see, and one rolled back is not.
#[tokio::test]
async fn a_setting_changed_by_a_grouped_write_is_seen_by_the_next_on_sqlite() {
    let (store, _dir) = sqlite().await;
    let mut tx = store.begin().await.unwrap();
    tx.put_setting("k", "1").await.unwrap();
    tx.commit().await.unwrap();
    for (value, commit) in [("2", true), ("3", false), ("4", true)] {
        let mut tx = store.begin_grouped().await.unwrap();
        tx.setting("k").await.unwrap();
        tx.put_setting("k", value).await.unwrap();
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
        let mut next = store.begin_grouped().await.unwrap();
        let seen = next.setting("k").await.unwrap();
        let want = if value == "3" { "2" } else { value };
        assert_eq!(seen.as_deref(), Some(want), "after writing {value}");
        drop(next);
    }
}
