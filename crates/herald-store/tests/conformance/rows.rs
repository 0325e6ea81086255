//! Rows: insert, read, update and delete; duplicate ids; transactions that
//! roll back or survive a refused insert; migrations; text a store cannot keep.

use super::*;

conformance!(
    insert_get_update_delete,
    duplicate_ids_are_reported,
    a_refused_insert_leaves_the_transaction_usable,
    rollback_discards_writes,
    migrate_twice_is_harmless,
    unstorable_text_is_a_data_exception,
);

async fn insert_get_update_delete(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("contact").unwrap();
    let id = add_contact(&store, "Jim", "Glynn", None).await;
    let r = store.get(t, id).await.unwrap().unwrap();
    assert_eq!(r.string("firstname"), Some("Jim"));
    assert_eq!(r.get("donotemail"), Some(&Value::Bool(false)));
    assert_eq!(r.get("birthdate"), Some(&Value::Null));

    let when = herald_core::value::parse_datetime("2024-05-01T10:00:00Z").unwrap();
    let mut tx = store.begin().await.unwrap();
    let n = tx
        .update(
            t,
            id,
            &[
                ("firstname".into(), v("James")),
                ("birthdate".into(), Value::DateTime(when)),
                ("creditlimit".into(), Value::Decimal(12.5)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    let r = store.get(t, id).await.unwrap().unwrap();
    assert_eq!(r.string("firstname"), Some("James"));
    assert_eq!(r.get("birthdate"), Some(&Value::DateTime(when)));
    assert_eq!(r.get("creditlimit"), Some(&Value::Decimal(12.5)));

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.delete(t, id).await.unwrap(), 1);
    assert_eq!(tx.delete(t, id).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert!(store.get(t, id).await.unwrap().is_none());
}

async fn duplicate_ids_are_reported(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let id = Uuid::new_v4();
    let row = vec![
        ("accountid".to_string(), Value::Guid(id)),
        ("name".to_string(), v("A")),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &row).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    // Inserts are batched: the error surfaces at the next flush.
    let inserted = match tx.insert(t, &row).await {
        Ok(()) => tx.flush().await,
        e => e,
    };
    match inserted {
        Err(StoreError::Duplicate(d)) => assert_eq!(d, id.to_string()),
        other => panic!("expected Duplicate, got {other:?}"),
    }
}

/// An insert naming an unknown column is refused and leaves nothing behind
/// in the transaction (on SQLite, nothing half-built in its batch): the
/// next insert and the commit go through.
async fn a_refused_insert_leaves_the_transaction_usable(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let mut tx = store.begin().await.unwrap();
    let bad = tx
        .insert(
            t,
            &[
                ("accountid".to_string(), Value::Guid(Uuid::new_v4())),
                ("no_such_column".to_string(), v("x")),
            ],
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    let id = Uuid::new_v4();
    tx.insert(
        t,
        &[
            ("accountid".to_string(), Value::Guid(id)),
            ("name".to_string(), v("ok")),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(store.get(t, id).await.unwrap().is_some());
}

async fn rollback_discards_writes(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let id = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &[("accountid".into(), Value::Guid(id))])
        .await
        .unwrap();
    assert!(
        tx.get(t, id).await.unwrap().is_some(),
        "visible inside its transaction"
    );
    tx.rollback().await.unwrap();
    assert!(store.get(t, id).await.unwrap().is_none());
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &[("accountid".into(), Value::Guid(id))])
        .await
        .unwrap();
    drop(tx);
    assert!(
        store.get(t, id).await.unwrap().is_none(),
        "dropping a transaction rolls back"
    );
}

async fn migrate_twice_is_harmless(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.put_setting("k", "1").await.unwrap();
    tx.put_setting("k", "2").await.unwrap();
    assert_eq!(tx.setting("k").await.unwrap().as_deref(), Some("2"));
    tx.commit().await.unwrap();
}

/// PostgreSQL refuses U+0000 in text with SQLSTATE 22021 (class 22, a data
/// exception, which the API answers with 400); SQLite stores it. The
/// parsers refuse it before it gets here; this is the safety net's signal.
async fn unstorable_text_is_a_data_exception(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let mut tx = store.begin().await.unwrap();
    // Inserts are batched: the refusal surfaces at the next flush.
    let r = match tx
        .insert(
            t,
            &[
                ("accountid".into(), Value::Guid(Uuid::new_v4())),
                ("name".into(), v("a\0b")),
            ],
        )
        .await
    {
        Ok(()) => tx.flush().await,
        e => e,
    };
    match (store.dialect(), r) {
        (herald_store::Dialect::Postgres, Err(e)) => {
            assert!(e.data_exception().is_some(), "{e}")
        }
        (herald_store::Dialect::Sqlite, Ok(())) => {}
        (d, r) => panic!("{d:?}: unexpected {r:?}"),
    }
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let dup = Uuid::new_v4();
    let row = [("accountid".to_string(), Value::Guid(dup))];
    tx.insert(t, &row).await.unwrap();
    let e = match tx.insert(t, &row).await {
        Ok(()) => tx.flush().await.unwrap_err(),
        Err(e) => e,
    };
    assert!(
        e.data_exception().is_none(),
        "a duplicate is not a data exception"
    );
}
