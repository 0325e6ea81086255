//! API keys: listed without the key, removed at once.

use super::*;

conformance!(api_keys_are_listed_without_the_key, api_keys_can_be_removed,);

async fn api_keys_are_listed_without_the_key(store: Store) {
    let (admin, dana) = (Uuid::new_v4(), Uuid::new_v4());
    let mut tx = store.begin().await.unwrap();
    tx.put_api_key("hash-a", admin, "admin", 1_000)
        .await
        .unwrap();
    tx.put_api_key("hash-b", dana, "ci", 2_000).await.unwrap();
    tx.put_api_key("hash-b", admin, "again", 3_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let keys = store.api_keys().await.unwrap();
    let got: Vec<(&str, Uuid, i64)> = keys
        .iter()
        .map(|k| (k.name.as_str(), k.user, k.created_ms))
        .collect();
    assert_eq!(got, vec![("admin", admin, 1_000), ("ci", dana, 2_000)]);
    assert_eq!(store.api_key_user("hash-b").await.unwrap(), Some(dana));
}

async fn api_keys_can_be_removed(store: Store) {
    let (admin, dana) = (Uuid::new_v4(), Uuid::new_v4());
    let a = "a".repeat(64);
    let b = format!("{}{}", "b".repeat(12), "c".repeat(52));
    let mut tx = store.begin().await.unwrap();
    tx.put_api_key(&a, admin, "admin", 1_000).await.unwrap();
    tx.put_api_key(&b, dana, "ci", 2_000).await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<String> = store
        .api_keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.id().to_string())
        .collect();
    assert_eq!(ids, vec!["a".repeat(12), "b".repeat(12)]);

    assert!(store.remove_api_key(&b).await.unwrap());
    assert_eq!(
        store.api_key_user(&b).await.unwrap(),
        None,
        "refused at once"
    );
    assert!(!store.remove_api_key(&b).await.unwrap(), "already gone");
    assert!(!store.remove_api_key("unknown").await.unwrap());
    let left: Vec<String> = store
        .api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(left, vec!["admin"]);
    assert_eq!(store.api_key_user(&a).await.unwrap(), Some(admin));
}
