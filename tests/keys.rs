//! More than one API key: `herald key add --user <systemuserid|domainname>`
//! makes a key that acts as that user — its writes carry it as createdby /
//! modifiedby, WhoAmI answers with it — and `herald key list` lists the
//! keys without revealing them. Only the admin key manages keys.

mod common;

use common::cli::herald;
use common::{odata_error, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(a_second_user_calls_the_api_with_its_own_key);

/// A request with another key.
async fn as_key(
    s: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}/{path}", s.api)
    };
    let mut rb = s.client.request(method, url).bearer_auth(key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (st, _, body) = s.send(rb).await;
    (st, body)
}

async fn a_second_user_calls_the_api_with_its_own_key(s: TestServer) {
    let admin = s.state.org.admin_user_id.to_string();
    let dana = s
        .create(
            "systemusers",
            json!({"firstname": "Dana", "lastname": "Scully", "domainname": "dana@example.com"}),
        )
        .await;

    // By domainname (case-insensitive), as JSON.
    let run = herald(
        &s,
        &[
            "key",
            "add",
            "--user",
            "DANA@example.com",
            "--name",
            "ci",
            "-o",
            "json",
        ],
    )
    .await
    .success();
    let added = run.json();
    assert_eq!(added["systemuserid"], dana.as_str(), "{added}");
    assert_eq!(added["name"], "ci");
    assert_eq!(added["domainname"], "dana@example.com");
    let key = added["key"].as_str().unwrap_or_default().to_string();
    assert!(key.starts_with("hk_") && key.len() > 20, "{added}");

    // By id, as text: the key alone on stdout.
    let run = herald(&s, &["key", "add", "--user", &dana]).await.success();
    let second = run.stdout.trim().to_string();
    assert!(second.starts_with("hk_") && second != key, "{}", run.stdout);
    assert!(run.stderr.contains("shown only now"), "{}", run.stderr);

    // WhoAmI and the audit columns are Dana's.
    for k in [&key, &second] {
        let (st, who) = as_key(&s, k, Method::GET, "WhoAmI", None).await;
        assert_eq!(st, StatusCode::OK, "{who}");
        assert_eq!(who["UserId"], dana.as_str());
    }
    let (st, _) = as_key(
        &s,
        &key,
        Method::POST,
        "contacts",
        Some(json!({"firstname": "Fox", "lastname": "Mulder"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, body) = s
        .get("contacts?$select=_createdby_value,_modifiedby_value,_ownerid_value&$filter=lastname eq 'Mulder'")
        .await;
    let row = &body["value"][0];
    assert_eq!(row["_createdby_value"], dana.as_str(), "{body}");
    assert_eq!(row["_modifiedby_value"], dana.as_str(), "{body}");
    let id = row["contactid"].as_str().unwrap_or_default().to_string();
    // The admin updates it: modifiedby changes, createdby stays.
    s.patch(&format!("contacts({id})"), json!({"jobtitle": "Agent"}))
        .await;
    let (_, row) = s
        .get(&format!(
            "contacts({id})?$select=_createdby_value,_modifiedby_value"
        ))
        .await;
    assert_eq!(row["_createdby_value"], dana.as_str());
    assert_eq!(row["_modifiedby_value"], admin.as_str());
    // And Dana again.
    let (st, _) = as_key(
        &s,
        &second,
        Method::PATCH,
        &format!("contacts({id})"),
        Some(json!({"jobtitle": "Special Agent"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, row) = s
        .get(&format!("contacts({id})?$select=_modifiedby_value"))
        .await;
    assert_eq!(row["_modifiedby_value"], dana.as_str());

    // The list: every key with its user, never a key.
    let run = herald(&s, &["key", "list", "-o", "json"]).await.success();
    let keys = run.json();
    let rows: Vec<(String, String)> = keys
        .as_array()
        .map(|v| {
            v.iter()
                .map(|k| {
                    (
                        k["name"].as_str().unwrap_or_default().to_string(),
                        k["systemuserid"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(rows.contains(&("admin".into(), admin.clone())), "{keys}");
    assert!(rows.contains(&("ci".into(), dana.clone())), "{keys}");
    assert!(rows.contains(&("key".into(), dana.clone())), "{keys}");
    assert!(
        !run.stdout.contains("hk_"),
        "keys are never listed: {}",
        run.stdout
    );
    let run = herald(&s, &["key", "list"]).await.success();
    assert!(
        run.stdout.starts_with("NAME") && run.stdout.contains("dana@example.com"),
        "{}",
        run.stdout
    );

    // Only the admin key manages keys.
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        &format!("{}/api/herald/keys", s.base),
        Some(json!({"user": admin})),
    )
    .await;
    assert!(odata_error(st, &body, StatusCode::FORBIDDEN).contains("admin key"));
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        &format!("{}/api/herald/keys", s.base),
        None,
    )
    .await;
    odata_error(st, &body, StatusCode::FORBIDDEN);

    // A user that does not exist, a missing user, a disabled user.
    herald(&s, &["key", "add", "--user", "nobody@example.com"])
        .await
        .failure(&["nobody@example.com", "systemusers"]);
    let (st, _, body) = s
        .send(
            s.request(Method::POST, &format!("{}/api/herald/keys", s.base))
                .json(&json!({"name": "x"})),
        )
        .await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("'user'"));
    let off = s
        .create(
            "systemusers",
            json!({"firstname": "Off", "domainname": "off@example.com", "isdisabled": true}),
        )
        .await;
    herald(&s, &["key", "add", "--user", &off])
        .await
        .failure(&["disabled"]);
}
