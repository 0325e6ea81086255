//! Secrets at rest (issue 15 item 4): a webhook's `authvalue` and signing
//! secrets are encrypted in the database (plain SQL on the file or the
//! PostgreSQL database sees none of them), deliveries still carry them, a
//! wrong key stops the start with a clear error, and `herald secrets
//! rotate` re-encrypts under a new key while the server runs.

use std::path::Path;
use std::time::Duration;

use crate::common::{register, Backend, TestServer};
use herald_server::config::Config;
use herald_server::secret_key::{self, FILE_NAME};
use herald_store::secrets::{key_id, SecretKey};
use herald_testkit::{Captured, Receiver};
use serde_json::json;

both_backends!(secrets_are_encrypted_in_the_database_and_deliveries_carry_them);
both_backends!(starts_own: rotation_runs_online_and_a_wrong_key_stops_the_start);

const SIGNING: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn header_auth(value: &str) -> String {
    format!("<settings><setting name=\"X-Api-Key\" value=\"{value}\" /></settings>")
}

/// Every stored secret as plain SQL reads it, without herald's key.
async fn raw_secrets(s: &TestServer) -> Vec<String> {
    let sql = "SELECT authvalue, herald_signingsecret FROM serviceendpoint";
    let rows: Vec<(Option<String>, Option<String>)> = match s.state.store.pg_pool() {
        Some(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        None => {
            let url = s.state.config.database_url();
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(opts.read_only(true))
                .await
                .unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
    };
    rows.into_iter()
        .flat_map(|(a, b)| [a, b])
        .flatten()
        .filter(|v| !v.is_empty())
        .collect()
}

fn verify(secret: &str, r: &Captured) -> bool {
    let mut headers = http::HeaderMap::new();
    for (k, v) in &r.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            headers.append(name, value);
        }
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&r.body, &headers)
        .is_ok()
}

async fn secrets_are_encrypted_in_the_database_and_deliveries_carry_them(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = s
        .create(
            "serviceendpoints",
            json!({"name": "sealed", "url": rx.url(), "authtype": 5,
                   "authvalue": header_auth("header-s3cret"), "herald_signingsecret": SIGNING}),
        )
        .await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    let keyed = register::webhook(&s, "keyed", &rx.url_for("/keyed"), 4, "code-s3cret").await;
    register::step(&s, &keyed, "Create", "contact", 40, 0, json!({})).await;

    let raw = raw_secrets(&s).await;
    assert_eq!(raw.len(), 3, "{raw:?}");
    for value in &raw {
        assert!(value.starts_with("hsec1:"), "{value}");
        assert!(
            !value.contains("s3cret") && !value.contains("whsec_") && !value.contains("settings"),
            "{value}"
        );
    }
    let (_, body) = s.get(&format!("serviceendpoints({hook})")).await;
    assert!(
        body.get("authvalue").is_none() && body.get("herald_signingsecret").is_none(),
        "{body}"
    );

    s.create("accounts", json!({"name": "one"})).await;
    s.create("contacts", json!({"lastname": "two"})).await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    let account = got
        .iter()
        .find(|r| r.path == "/")
        .expect("account delivery");
    assert_eq!(account.header("x-api-key"), Some("header-s3cret"));
    assert!(verify(SIGNING, account), "signed with the stored secret");
    let contact = got
        .iter()
        .find(|r| r.path == "/keyed")
        .expect("contact delivery");
    let query = contact.query.as_deref().unwrap_or("");
    assert!(query.contains("code=code-s3cret"), "{query}");
}

fn config_for(dir: &Path, database_url: Option<String>) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = dir.to_path_buf();
    config.server.allow_private_targets = true;
    config.server.admin_key = Some("test-admin-key".into());
    config.store.database_url = database_url;
    config
}

/// `herald secrets rotate` on the data dir (and database) of a server.
fn rotate(dir: &Path, database_url: Option<&str>) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HERALD_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["secrets", "rotate", "--data-dir"]).arg(dir);
    if let Some(url) = database_url {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "rotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn file_key_ids(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(FILE_NAME)).unwrap();
    secret_key::parse_keys(&text, "test")
        .unwrap()
        .iter()
        .map(|k| k.id().to_string())
        .collect()
}

async fn rotation_runs_online_and_a_wrong_key_stops_the_start(b: Backend, test: &str) {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let first_dir = dir.clone();
    let Some(s) = TestServer::start_with(b, test, move |c| c.server.data_dir = first_dir).await
    else {
        return;
    };
    let url = s.state.config.store.database_url.clone();
    let rx = Receiver::start().await;
    let hook = s
        .create(
            "serviceendpoints",
            json!({"name": "rotated", "url": rx.url(), "authtype": 5,
                   "authvalue": header_auth("before"), "herald_signingsecret": SIGNING}),
        )
        .await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    let first_key = file_key_ids(&dir);
    assert_eq!(first_key.len(), 1);

    // Online: the server keeps running while every secret moves to a new key.
    let (d, u) = (dir.clone(), url.clone());
    let out = tokio::task::spawn_blocking(move || rotate(&d, u.as_deref()))
        .await
        .unwrap();
    assert!(out.contains("2 re-encrypted"), "{out}");
    let keys = file_key_ids(&dir);
    assert_eq!(keys.len(), 2, "new key first, old one kept: {keys:?}");
    assert_eq!(keys[1], first_key[0]);
    for value in raw_secrets(&s).await {
        assert_eq!(key_id(&value), Some(keys[0].as_str()), "{value}");
    }
    s.create("accounts", json!({"name": "after rotation"}))
        .await;
    let r = rx.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(r.header("x-api-key"), Some("before"));
    assert!(verify(SIGNING, &r));
    // What the running server writes now is sealed under the new key too.
    let (st, _) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"authvalue": header_auth("after")}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::NO_CONTENT);
    for value in raw_secrets(&s).await {
        assert_eq!(key_id(&value), Some(keys[0].as_str()), "{value}");
    }
    drop(s);

    // A key that does not open them: a clear error, nothing started.
    let path = dir.join(FILE_NAME);
    let good = std::fs::read_to_string(&path).unwrap();
    let wrong = SecretKey::generate();
    secret_key::write_key_file(&path, &[wrong.clone()]).unwrap();
    let err = match herald_server::server::start(config_for(&dir, url.clone())).await {
        Ok(_) => panic!("started with the wrong key"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("secret key does not decrypt the stored secrets: serviceendpoint "),
        "{err}"
    );
    assert!(err.contains(&keys[0]) && err.contains(wrong.id()), "{err}");
    // A lost key file: the same error, and no new file replaces it.
    std::fs::remove_file(&path).unwrap();
    let err = match herald_server::server::start(config_for(&dir, url.clone())).await {
        Ok(_) => panic!("started without the key"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("secret key does not decrypt the stored secrets: "),
        "{err}"
    );
    assert!(err.contains("generated now, not saved"), "{err}");
    assert!(!path.exists());

    // The right key again: a restart works and deliveries carry the secrets.
    std::fs::write(&path, good).unwrap();
    let again = if url.is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let (d, u) = (dir.clone(), url.clone());
    let s = TestServer::start_with(again, &format!("{test}::restarted"), move |c| {
        c.server.data_dir = d;
        c.store.database_url = u;
    })
    .await
    .expect("restarted");
    rx.clear();
    s.create("accounts", json!({"name": "after restart"})).await;
    let r = rx.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(r.header("x-api-key"), Some("after"));
    assert!(verify(SIGNING, &r));
}
