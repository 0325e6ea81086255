//! Secrets at rest: write-only columns and BC `clientState` are sealed in
//! the database and opened on read; the sweep seals plaintext rows of older
//! databases, re-seals under a rotated key and refuses a wrong key.

use std::sync::Arc;

use herald_core::schema::{Column, ColumnType};
use herald_store::bc::BcSubscription;
use herald_store::secrets::{Keyring, SecretKey};
use herald_store::sql::{OutputColumn, Sql};

use super::*;

conformance!(
    secrets_are_sealed_at_rest_and_opened_on_read,
    the_sweep_seals_old_plaintext_reseals_rotated_and_refuses_a_wrong_key,
);

const AUTH: &str = "<settings><setting name=\"X-Api-Key\" value=\"s3cret-header\" /></settings>";
const SIGNING: &str = "whsec_c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz";

fn ring(keys: &[&SecretKey]) -> Arc<Keyring> {
    Arc::new(Keyring::new(keys.iter().map(|k| (*k).clone()).collect()).unwrap())
}

/// Every text value of a table as plain SQL sees it (what a copy of the
/// database shows without the key).
async fn raw_text(store: &Store, table: &str, columns: &[&str]) -> Vec<String> {
    let mut sql = Sql::default();
    sql.push(&format!("SELECT {} FROM {table}", columns.join(", ")));
    let out: Vec<OutputColumn> = columns
        .iter()
        .map(|c| OutputColumn {
            key: c.to_string(),
            column: Column::new(
                c,
                ColumnType::String {
                    max_length: usize::MAX,
                },
            ),
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    let rows = tx
        .conn()
        .await
        .unwrap()
        .fetch_columns(&sql, &out)
        .await
        .unwrap();
    rows.into_iter()
        .flat_map(|r| r.values.into_iter())
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect()
}

async fn add_endpoint(store: &Store) -> Uuid {
    let schema = store.schema().clone();
    let t = schema.table("serviceendpoint").unwrap();
    let id = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(
        t,
        &[
            ("serviceendpointid".into(), Value::Guid(id)),
            ("name".into(), v("hook")),
            ("url".into(), v("http://127.0.0.1:9/hook")),
            ("authtype".into(), Value::Int(5)),
            ("authvalue".into(), v(AUTH)),
            ("herald_signingsecret".into(), v(SIGNING)),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn subscription(client_state: &str) -> BcSubscription {
    BcSubscription {
        id: Uuid::new_v4().simple().to_string(),
        notification_url: "http://127.0.0.1:9/bc".into(),
        resource: "/api/v2.0/companies(00000000-0000-0000-0000-000000000001)/customers".into(),
        table: "bc_customer".into(),
        company_id: Uuid::new_v4(),
        api_version: "v2.0".into(),
        user_id: Uuid::new_v4(),
        client_state: Some(client_state.into()),
        expires_ms: i64::MAX / 2,
        created_ms: 1,
        modified_ms: 1,
        version: 1,
    }
}

async fn secrets_are_sealed_at_rest_and_opened_on_read(store: Store) {
    let key = SecretKey::generate();
    let store = store.with_keyring(ring(&[&key]));
    let id = add_endpoint(&store).await;
    let sub = subscription("client-state-s3cret");
    assert!(store.bc_insert_subscription(&sub, 10).await.unwrap());

    let raw = raw_text(
        &store,
        "serviceendpoint",
        &["authvalue", "herald_signingsecret"],
    )
    .await;
    assert_eq!(raw.len(), 2, "{raw:?}");
    for value in &raw {
        assert!(
            value.starts_with(&format!("hsec1:{}:", key.id())),
            "{value}"
        );
        assert!(
            !value.contains("s3cret") && !value.contains("whsec_"),
            "{value}"
        );
    }
    let raw = raw_text(&store, "herald_bc_subscription", &["clientstate"]).await;
    assert!(
        raw[0].starts_with("hsec1:") && !raw[0].contains("s3cret"),
        "{raw:?}"
    );

    let t = store.schema().table("serviceendpoint").unwrap().clone();
    let row = store.get(&t, id).await.unwrap().unwrap();
    assert_eq!(row.string("authvalue"), Some(AUTH));
    assert_eq!(row.string("herald_signingsecret"), Some(SIGNING));
    let mut tx = store.begin().await.unwrap();
    let row = tx.get(&t, id).await.unwrap().unwrap();
    assert_eq!(row.string("authvalue"), Some(AUTH));
    tx.update(&t, id, &[("authvalue".into(), v("new-key"))])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let raw = raw_text(&store, "serviceendpoint", &["authvalue"]).await;
    assert!(
        raw[0].starts_with("hsec1:") && !raw[0].contains("new-key"),
        "{raw:?}"
    );
    assert_eq!(
        store
            .get(&t, id)
            .await
            .unwrap()
            .unwrap()
            .string("authvalue"),
        Some("new-key")
    );

    let read = store.bc_subscription(&sub.id).await.unwrap().unwrap();
    assert_eq!(read.client_state.as_deref(), Some("client-state-s3cret"));
    let renewed = store
        .bc_renew_subscription(
            &sub.id,
            1,
            &sub.notification_url,
            Some("renewed-s3cret"),
            i64::MAX / 2,
            2,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renewed.client_state.as_deref(), Some("renewed-s3cret"));
    let raw = raw_text(&store, "herald_bc_subscription", &["clientstate"]).await;
    assert!(!raw[0].contains("s3cret"), "{raw:?}");
}

async fn the_sweep_seals_old_plaintext_reseals_rotated_and_refuses_a_wrong_key(store: Store) {
    // Rows written by a herald without encryption.
    let id = add_endpoint(&store).await;
    let sub = subscription("plain-state");
    assert!(store.bc_insert_subscription(&sub, 10).await.unwrap());
    let raw = raw_text(&store, "serviceendpoint", &["authvalue"]).await;
    assert_eq!(raw, vec![AUTH.to_string()]);

    let old = SecretKey::generate();
    let report = store
        .clone()
        .with_keyring(ring(&[&old]))
        .sweep_secrets()
        .await
        .unwrap();
    assert_eq!((report.sealed, report.resealed, report.current), (3, 0, 0));
    for value in raw_text(
        &store,
        "serviceendpoint",
        &["authvalue", "herald_signingsecret"],
    )
    .await
    {
        assert!(
            value.starts_with(&format!("hsec1:{}:", old.id())),
            "{value}"
        );
    }
    let report = store
        .clone()
        .with_keyring(ring(&[&old]))
        .sweep_secrets()
        .await
        .unwrap();
    assert_eq!((report.sealed, report.resealed, report.current), (0, 0, 3));

    // A key that is not the one: a clear error, nothing written.
    let wrong = SecretKey::generate();
    let err = store
        .clone()
        .with_keyring(ring(&[&wrong]))
        .sweep_secrets()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("secret key does not decrypt the stored secrets: "),
        "{err}"
    );
    assert!(err.contains(old.id()) && err.contains(wrong.id()), "{err}");
    assert!(err.contains("(and 2 more)"), "{err}");
    for value in raw_text(&store, "serviceendpoint", &["authvalue"]).await {
        assert!(
            value.starts_with(&format!("hsec1:{}:", old.id())),
            "{value}"
        );
    }

    // Rotation: the new key current, the old one still accepted.
    let new = SecretKey::generate();
    let rotated = store.clone().with_keyring(ring(&[&new, &old]));
    let report = rotated.sweep_secrets().await.unwrap();
    assert_eq!((report.sealed, report.resealed, report.current), (0, 3, 0));
    let only_new = store.clone().with_keyring(ring(&[&new]));
    let t = store.schema().table("serviceendpoint").unwrap().clone();
    assert_eq!(
        only_new
            .get(&t, id)
            .await
            .unwrap()
            .unwrap()
            .string("authvalue"),
        Some(AUTH)
    );
    assert_eq!(
        only_new
            .bc_subscription(&sub.id)
            .await
            .unwrap()
            .unwrap()
            .client_state
            .as_deref(),
        Some("plain-state")
    );
    // The old key alone no longer opens them, and says which key they need.
    let err = store
        .clone()
        .with_keyring(ring(&[&old]))
        .get(&t, id)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("serviceendpoint.authvalue") && err.contains(new.id()),
        "{err}"
    );
}
