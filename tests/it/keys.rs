//! More than one API key: `herald key add --user <systemuserid|domainname>`
//! makes a key that acts as that user — its writes carry it as createdby /
//! modifiedby, WhoAmI answers with it — and `herald key list` lists the
//! keys without revealing them, and `herald key remove <id|name>` revokes
//! one at once. Only the admin key manages keys.

use crate::common::cli::herald;
use crate::common::{odata_error, Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(
    a_second_user_calls_the_api_with_its_own_key,
    a_removed_key_is_refused_at_once,
    a_disabled_user_is_refused_everywhere,
    the_admin_user_cannot_be_rewritten_or_deleted,
);

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
        run.stdout.starts_with("ID") && run.stdout.contains("dana@example.com"),
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

fn keys_url(s: &TestServer, which: &str) -> String {
    format!("{}/api/herald/keys/{which}", s.base)
}

/// The `-o json` key list as (id, name) pairs.
async fn listed(s: &TestServer) -> Vec<(String, String)> {
    let run = herald(s, &["key", "list", "-o", "json"]).await.success();
    run.json()
        .as_array()
        .map(|v| {
            v.iter()
                .map(|k| {
                    (
                        k["id"].as_str().unwrap_or_default().to_string(),
                        k["name"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn add_key(s: &TestServer, user: &str, name: &str) -> (String, String) {
    let run = herald(
        s,
        &["key", "add", "--user", user, "--name", name, "-o", "json"],
    )
    .await
    .success();
    let added = run.json();
    (
        added["key"].as_str().unwrap_or_default().to_string(),
        added["id"].as_str().unwrap_or_default().to_string(),
    )
}

/// WhoAmI with `key`: 200, or the OData 401 a refused key gets.
async fn whoami(s: &TestServer, key: &str) -> StatusCode {
    let (st, body) = as_key(s, key, Method::GET, "WhoAmI", None).await;
    if st != StatusCode::OK {
        let msg = odata_error(st, &body, StatusCode::UNAUTHORIZED);
        assert!(msg.contains("not valid"), "{msg}");
    }
    st
}

async fn a_removed_key_is_refused_at_once(s: TestServer) {
    let dana = s
        .create(
            "systemusers",
            json!({"firstname": "Dana", "lastname": "Scully", "domainname": "dana@example.com"}),
        )
        .await;
    let (first, first_id) = add_key(&s, &dana, "ci").await;
    let (second, second_id) = add_key(&s, &dana, "ci").await;
    let (deploy, _) = add_key(&s, &dana, "deploy").await;
    let (other, _) = add_key(&s, &dana, "other").await;
    let keys = listed(&s).await;
    for id in [&first_id, &second_id] {
        assert!(
            id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(keys.contains(&(id.clone(), "ci".to_string())), "{keys:?}");
    }
    let admin_id = keys
        .iter()
        .find(|(_, n)| n == "admin")
        .map(|(id, _)| id.clone())
        .unwrap_or_default();

    // On PostgreSQL, a second node on the same database: it caches no key
    // either, so a removal holds there at once too.
    let second_node = if s.state.store.dialect() == herald_store::Dialect::Postgres {
        let url = s.state.config.database_url();
        TestServer::start_with(Backend::Sqlite, concat!(module_path!(), "::node-b"), |c| {
            c.store.database_url = Some(url);
        })
        .await
    } else {
        None
    };
    let nodes: Vec<&TestServer> = std::iter::once(&s).chain(second_node.as_ref()).collect();

    // A console session signed in with a key ends with the key.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let console = |path: &str| {
        let (b, url) = (browser.clone(), format!("{}{path}", s.base));
        async move { b.get(url).send().await.map(|r| r.status()).ok() }
    };
    let signed_in = browser
        .post(format!("{}/console/login", s.base))
        .form(&[("key", deploy.as_str())])
        .send()
        .await
        .map(|r| r.status())
        .ok();
    assert_eq!(signed_in, Some(StatusCode::SEE_OTHER));
    assert_eq!(console("/console/jobs").await, Some(StatusCode::OK));

    // A name two keys share is ambiguous: remove by id.
    herald(&s, &["key", "remove", "ci"])
        .await
        .failure(&["409", "2 API keys are named 'ci'", "id"]);
    let run = herald(&s, &["key", "remove", &first_id, "-o", "json"])
        .await
        .success();
    let removed = run.json();
    assert_eq!(removed["id"], first_id.as_str(), "{removed}");
    assert_eq!(removed["name"], "ci");
    assert_eq!(removed["systemuserid"], dana.as_str());
    assert_eq!(removed["removed"], true);
    for node in &nodes {
        assert_eq!(whoami(node, &first).await, StatusCode::UNAUTHORIZED);
        assert_eq!(whoami(node, &second).await, StatusCode::OK);
    }
    // Now the name is the one key's; as text, said on stderr.
    let run = herald(&s, &["key", "remove", "ci"]).await.success();
    assert!(
        run.stderr.contains("removed key 'ci'") && run.stderr.contains(&second_id),
        "{}",
        run.stderr
    );
    for node in &nodes {
        assert_eq!(whoami(node, &second).await, StatusCode::UNAUTHORIZED);
        // Every route refuses it, with an OData error.
        let (st, body) = as_key(node, &second, Method::GET, "contacts", None).await;
        odata_error(st, &body, StatusCode::UNAUTHORIZED);
    }

    // Over HTTP, by name ignoring case; the console session ends with it.
    let (st, body) = as_key(&s, &s.key, Method::DELETE, &keys_url(&s, "DEPLOY"), None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "deploy");
    assert_eq!(whoami(&s, &deploy).await, StatusCode::UNAUTHORIZED);
    assert_eq!(console("/console/jobs").await, Some(StatusCode::SEE_OTHER));

    // Unknown: 404, over HTTP and from the CLI.
    let (st, body) = as_key(&s, &s.key, Method::DELETE, &keys_url(&s, "deploy"), None).await;
    assert!(odata_error(st, &body, StatusCode::NOT_FOUND).contains("'deploy'"));
    herald(&s, &["key", "remove", "no such key"])
        .await
        .failure(&["404", "no such key"]);

    // The admin key herald started with stays, by name or id.
    herald(&s, &["key", "remove", "admin"])
        .await
        .failure(&["409", "cannot be removed"]);
    let (st, body) = as_key(&s, &s.key, Method::DELETE, &keys_url(&s, &admin_id), None).await;
    assert!(odata_error(st, &body, StatusCode::CONFLICT).contains("admin key"));
    assert_eq!(whoami(&s, &s.key).await, StatusCode::OK);

    // Another admin key can be removed, but not with itself.
    let admin = s.state.org.admin_user_id.to_string();
    let (spare, spare_id) = add_key(&s, &admin, "spare").await;
    let (st, body) = as_key(&s, &spare, Method::DELETE, &keys_url(&s, &spare_id), None).await;
    assert!(odata_error(st, &body, StatusCode::CONFLICT).contains("this request"));
    let (st, body) = as_key(&s, &s.key, Method::DELETE, &keys_url(&s, &spare_id), None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(whoami(&s, &spare).await, StatusCode::UNAUTHORIZED);

    // Only the admin key removes keys; no key, no removal.
    let (st, body) = as_key(&s, &other, Method::DELETE, &keys_url(&s, "other"), None).await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    let (st, _, body) = s.send(s.client.delete(keys_url(&s, "other"))).await;
    odata_error(st, &body, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&s, &other).await, StatusCode::OK);
    let names: Vec<String> = listed(&s).await.into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, vec!["admin", "other"]);
}

/// `isdisabled: true` refuses the user's key on the API (401 saying why),
/// at console sign-in, and ends its console sessions; enabling it again
/// lets the same key in.
async fn a_disabled_user_is_refused_everywhere(s: TestServer) {
    let dana = s
        .create(
            "systemusers",
            json!({"firstname": "Dana", "lastname": "Scully", "domainname": "dana@example.com"}),
        )
        .await;
    let (key, _) = add_key(&s, &dana, "dana").await;
    assert_eq!(whoami(&s, &key).await, StatusCode::OK);
    let browser = crate::console::browser::browser();
    let signed =
        crate::console::browser::post(&browser, &s, "/console/login", &[("key", &key)]).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    let page = crate::console::browser::get(&browser, &s, "/console/jobs").await;
    assert_eq!(page.status, StatusCode::OK);

    s.patch(&format!("systemusers({dana})"), json!({"isdisabled": true}))
        .await;
    let (st, body) = as_key(&s, &key, Method::GET, "WhoAmI", None).await;
    let msg = odata_error(st, &body, StatusCode::UNAUTHORIZED);
    assert!(msg.contains("disabled") && msg.contains(&dana), "{msg}");
    let (st, body) = as_key(&s, &key, Method::GET, "accounts", None).await;
    odata_error(st, &body, StatusCode::UNAUTHORIZED);
    let page = crate::console::browser::get(&browser, &s, "/console/jobs").await;
    assert_ne!(page.status, StatusCode::OK, "the session ended");
    let again = crate::console::browser::post(
        &crate::console::browser::browser(),
        &s,
        "/console/login",
        &[("key", &key)],
    )
    .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.html.contains("disabled"), "{}", again.html);

    s.patch(
        &format!("systemusers({dana})"),
        json!({"isdisabled": false}),
    )
    .await;
    assert_eq!(whoami(&s, &key).await, StatusCode::OK);
}

/// No key — not even the admin key — can rewrite or delete the admin user
/// the admin key acts as; re-creating it is a duplicate.
async fn the_admin_user_cannot_be_rewritten_or_deleted(s: TestServer) {
    let admin = s.state.org.admin_user_id.to_string();
    let (st, body) = s
        .patch(
            &format!("systemusers({admin})"),
            json!({"domainname": "evil"}),
        )
        .await;
    let msg = odata_error(st, &body, StatusCode::FORBIDDEN);
    assert!(msg.contains("admin user"), "{msg}");
    let (st, _, body) = s
        .send(s.request(Method::DELETE, &format!("systemusers({admin})")))
        .await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    let (st, _, body) = s
        .post(
            "systemusers",
            json!({"systemuserid": admin, "domainname": "evil"}),
        )
        .await;
    odata_error(st, &body, StatusCode::PRECONDITION_FAILED);
    let (_, me) = s.get(&format!("systemusers({admin})")).await;
    assert_ne!(me["domainname"], "evil", "{me}");
    assert_eq!(whoami(&s, &s.key).await, StatusCode::OK);
}
