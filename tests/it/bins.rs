//! Request bins: the seeds' request-logging walkthrough without leaving
//! herald — even with private targets refused, a webhook may point at
//! herald's own bin.

use crate::common::{odata_error, register, Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Create an unnamed bin; its JSON (`id`, `url`, …).
async fn create_bin(s: &TestServer) -> serde_json::Value {
    let (_, _, bin) = s
        .send(s.request(Method::POST, &format!("{}/api/herald/bins", s.base)))
        .await;
    bin
}

/// `GET /api/herald/bins/{id}`: the bin with its requests, newest first.
async fn show_bin(s: &TestServer, id: &str) -> (StatusCode, serde_json::Value) {
    s.get(&format!("{}/api/herald/bins/{id}", s.base)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_pointed_at_a_bin_is_captured() {
    let s = TestServer::start_with(Backend::Sqlite, "bins", |c| {
        c.server.allow_private_targets = false
    })
    .await
    .unwrap();
    let (st, _, bin) = s
        .send(
            s.request(Method::POST, &format!("{}/api/herald/bins", s.base))
                .json(&json!({"name": "walkthrough"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{bin}");
    let url = bin["url"].as_str().unwrap().to_string();
    assert!(url.contains("/bins/"));
    let hook = register::webhook(&s, "requestbin", &url, 5, r#"<settings><setting name="X-Test1" value="test1" /><setting name="X-Test2" value="test2" /></settings>"#).await;
    register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        0,
        json!({"filteringattributes": "firstname"}),
    )
    .await;
    let c = s
        .create("contacts", json!({"firstname": "Jim", "lastname": "Glynn"}))
        .await;
    let (st, _) = s
        .patch(&format!("contacts({c})"), json!({"firstname": "James"}))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    let (st, shown) = show_bin(&s, bin["id"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{shown}");
    let reqs = shown["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1, "{shown}");
    let r = &reqs[0];
    assert_eq!(r["method"], "POST");
    let header = |k: &str| {
        r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == k)
            .map(|h| h[1].clone())
    };
    assert_eq!(header("x-test1"), Some(json!("test1")));
    assert_eq!(header("x-ms-dynamics-request-name"), Some(json!("update")));
    assert_eq!(r["json"]["MessageName"], "Update");
    assert!(
        r["body"].as_str().unwrap().contains(r#"\/Date("#),
        "raw body kept as sent"
    );

    // Anyone can post to a bin (no key); newest first; validationToken echoed.
    let plain = reqwest::Client::new();
    let resp = plain
        .put(format!("{url}/sub/path?x=1"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = plain
        .post(format!("{url}?validationToken=abc%20123"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "abc 123");
    let (_, shown) = show_bin(&s, bin["id"].as_str().unwrap()).await;
    let reqs = shown["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[1]["method"], "PUT");
    assert_eq!(
        reqs[1]["path"],
        format!("/bins/{}/sub/path", bin["id"].as_str().unwrap())
    );
    assert_eq!(reqs[1]["query"], "x=1");
    assert_eq!(reqs[1]["body"], "hello");

    let resp = plain
        .post(format!("{}/bins/{}", s.base, uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (st, _, body) = s
        .send(plain.get(format!("{}/api/herald/bins", s.base)))
        .await;
    odata_error(st, &body, StatusCode::UNAUTHORIZED);
    // Other loopback targets stay refused (at registration; at delivery
    // too, see tests/it/targets.rs).
    let refused = |url: String| {
        let s = &s;
        async move {
            let (st, _, body) = s
                .post(
                    "serviceendpoints",
                    json!({"name": format!("r-{url}"), "url": url, "contract": 8, "authtype": 4, "authvalue": "k"}),
                )
                .await;
            odata_error(st, &body, StatusCode::BAD_REQUEST)
        }
    };
    assert!(refused("http://127.0.0.1:9/x".into())
        .await
        .contains("loopback"));
    // So is herald's own address outside its bins (its API, console, metrics).
    let msg = refused(format!("{}/api/data/v9.2/WhoAmI", s.base)).await;
    assert!(msg.contains("loopback"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bins_keep_only_the_newest_requests() {
    let s = TestServer::start(Backend::Sqlite, "bins_bound")
        .await
        .unwrap();
    let bin = create_bin(&s).await;
    let url = bin["url"].as_str().unwrap().to_string();
    let plain = reqwest::Client::new();
    let total = herald_server::api::BIN_KEEP + 5;
    for i in 0..total {
        plain.post(&url).body(format!("{i}")).send().await.unwrap();
    }
    let (_, shown) = show_bin(&s, bin["id"].as_str().unwrap()).await;
    let reqs = shown["requests"].as_array().unwrap();
    assert_eq!(reqs.len() as i64, herald_server::api::BIN_KEEP);
    assert_eq!(reqs[0]["body"], format!("{}", total - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_the_cap_are_truncated_and_their_size_recorded() {
    let s = TestServer::start(Backend::Sqlite, "bins_cap")
        .await
        .unwrap();
    let bin = create_bin(&s).await;
    let url = bin["url"].as_str().unwrap().to_string();
    let cap = herald_server::api::BIN_BODY_CAP;
    let plain = reqwest::Client::new();
    for (fill, size) in [(b'a', cap), (b'b', cap + 1000)] {
        let resp = plain
            .post(&url)
            .body(vec![fill; size])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{size} bytes are taken");
    }
    let (st, shown) = show_bin(&s, bin["id"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    let reqs = shown["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    // Newest first: the one past the cap.
    let over = &reqs[0];
    assert_eq!(over["truncated"], true);
    assert_eq!(
        over["bodysize"],
        (cap + 1000) as u64,
        "the size as received"
    );
    let kept = over["body"].as_str().unwrap();
    assert_eq!(kept.len(), cap, "the body is kept up to the cap");
    assert!(kept.bytes().all(|b| b == b'b'));
    let at = &reqs[1];
    assert_eq!(at["truncated"], false, "exactly the cap is kept whole");
    assert_eq!(at["bodysize"], cap as u64);
    assert_eq!(at["body"].as_str().unwrap().len(), cap);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_and_shows_bins() {
    let s = TestServer::start(Backend::Sqlite, "bins_cli")
        .await
        .unwrap();
    let run = |args: Vec<String>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let conn = [
        "--url".to_string(),
        s.base.clone(),
        "--key".to_string(),
        s.key.clone(),
    ];
    let args = |rest: &[&str]| {
        conn.iter()
            .cloned()
            .chain(rest.iter().map(|x| x.to_string()))
            .collect::<Vec<_>>()
    };
    let cli = |rest: &[&str]| {
        let a = args(rest);
        async move { tokio::task::spawn_blocking(move || run(a)).await.unwrap() }
    };
    let (ok, url, err) = cli(&["bin", "create", "--name", "cli"]).await;
    assert!(ok, "{err}");
    let url = url.trim().to_string();
    reqwest::Client::new()
        .post(&url)
        .json(&json!({"hello": "bin"}))
        .send()
        .await
        .unwrap();
    let id = url.rsplit('/').next().unwrap().to_string();
    let (ok, out, err) = cli(&["bin", "show", &id]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("POST") && out.contains("\"hello\": \"bin\""),
        "{out}"
    );
    let (ok, out, err) = cli(&["bin", "list", "--output", "json"]).await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "cli");

    // Creating and removing speak JSON too.
    let (ok, out, err) = cli(&["bin", "create", "--name", "scripted", "--output", "json"]).await;
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["name"], "scripted", "{created}");
    let new_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["url"].as_str().unwrap(),
        format!("{}/bins/{new_id}", s.base)
    );
    let (ok, out, err) = cli(&["bin", "remove", &new_id, "--output", "json"]).await;
    assert!(ok, "{err}");
    let removed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(removed, json!({"id": new_id, "removed": true}));
    let (st, _) = show_bin(&s, &new_id).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
