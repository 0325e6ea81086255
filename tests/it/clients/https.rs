//! HTTPS over real loopback TLS: a herald serving its self-signed
//! certificate to a client that trusts only that certificate; the banner's
//! fingerprint against the file; the scheme of `@odata.context`,
//! `@odata.nextLink`, `OData-EntityId`, BC and bin URLs under TLS; and the
//! forwarded headers of a reverse proxy, honoured from a trusted proxy
//! address and ignored from any other.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::harness::https_server;
use crate::common::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_the_self_signed_certificate() {
    let s = https_server("https_serves").await;
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let (st, body) = s.get("accounts").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let context = body["@odata.context"].as_str().unwrap();
    assert_eq!(
        context,
        format!("{}/api/data/v9.2/$metadata#accounts", s.base)
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = s.base.replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .get(format!("{plain}/api/data/v9.2/WhoAmI"))
        .bearer_auth(&s.key)
        .send()
        .await;
    assert!(r.is_err() || !r.unwrap().status().is_success());

    // A client that does not trust the certificate refuses it.
    let strict = reqwest::Client::new()
        .get(format!("{}/api/data/v9.2/WhoAmI", s.api))
        .send()
        .await;
    assert!(
        strict.is_err(),
        "an untrusted self-signed certificate was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_say_https_under_tls() {
    let s = https_server("https_urls").await;
    let (st, headers, body) = s.post("accounts", json!({"name": "A"})).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let entity = headers["odata-entityid"].to_str().unwrap();
    assert!(
        entity.starts_with(&format!("{}/api/data/v9.2/accounts(", s.base)),
        "{entity}"
    );
    s.create("accounts", json!({"name": "B"})).await;

    let (st, _, page) = s
        .send(
            s.request(Method::GET, "accounts?$select=name")
                .header("Prefer", "odata.maxpagesize=1"),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let next = page["@odata.nextLink"].as_str().expect("a next link");
    assert!(
        next.starts_with(&format!("{}/api/data/v9.2/accounts?", s.base)),
        "{next}"
    );
    let (st, _, second) = s
        .send(
            s.client
                .get(next)
                .bearer_auth(&s.key)
                .header("Prefer", "odata.maxpagesize=1"),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{second}");
    assert_eq!(second["value"].as_array().unwrap().len(), 1);

    let (_, companies) = s.get(&format!("{}/api/v2.0/companies", s.base)).await;
    let context = companies["@odata.context"].as_str().unwrap_or_default();
    assert!(
        context.starts_with(&format!("{}/api/v2.0/", s.base)),
        "{companies}"
    );

    let (st, _, bin) = s
        .send(s.request(Method::POST, &format!("{}/api/herald/bins", s.base)))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{bin}");
    assert!(
        bin["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/bins/", s.base)),
        "{bin}"
    );
}

/// Every URL a proxied request is answered with, as (context, entity id, next link, bin url).
async fn urls_behind(s: &TestServer, proxy_headers: &[(&str, &str)]) -> [String; 4] {
    let with = |mut rb: reqwest::RequestBuilder| {
        for (k, v) in proxy_headers {
            rb = rb.header(*k, *v);
        }
        rb
    };
    let (_, headers, _) = s
        .send(with(s.request(Method::POST, "accounts")).json(&json!({"name": "P"})))
        .await;
    let (_, _, page) = s
        .send(with(s.request(Method::GET, "accounts")).header("Prefer", "odata.maxpagesize=1"))
        .await;
    let (_, _, bin) =
        s.send(with(
            s.request(Method::POST, &format!("{}/api/herald/bins", s.base)),
        ))
        .await;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    [
        text(&page["@odata.context"]),
        headers["odata-entityid"].to_str().unwrap().to_string(),
        text(&page["@odata.nextLink"]),
        text(&bin["url"]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_from_a_trusted_proxy_decide_the_urls() {
    let s = TestServer::start_with(Backend::Sqlite, "https_trusted_proxy", |c| {
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    .expect("server");
    s.create("accounts", json!({"name": "first"})).await;
    let expect = |urls: &[String; 4], origin: &str| {
        for url in urls {
            assert!(
                url.starts_with(origin),
                "{url} should start with {origin}: {urls:?}"
            );
        }
    };
    let urls = urls_behind(
        &s,
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "herald.example"),
        ],
    )
    .await;
    expect(&urls, "https://herald.example/");
    let urls = urls_behind(
        &s,
        &[(
            "forwarded",
            "for=192.0.2.1;proto=https;host=\"api.example:8443\"",
        )],
    )
    .await;
    expect(&urls, "https://api.example:8443/");
    let urls = urls_behind(&s, &[("x-forwarded-proto", "https")]).await;
    expect(
        &urls,
        &format!("https://{}/", s.base.trim_start_matches("http://")),
    );
    let urls = urls_behind(&s, &[]).await;
    expect(&urls, &format!("{}/", s.base));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_from_other_peers_are_ignored() {
    for (test, trusted) in [
        ("https_no_proxy", vec![]),
        ("https_other_proxy", vec!["10.0.0.0/8".parse().unwrap()]),
    ] {
        let s = TestServer::start_with(Backend::Sqlite, test, |c| {
            c.server.trusted_proxies = trusted
        })
        .await
        .expect("server");
        s.create("accounts", json!({"name": "first"})).await;
        let headers = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("forwarded", "proto=https;host=evil.example"),
        ];
        for url in urls_behind(&s, &headers).await {
            assert!(url.starts_with(&format!("{}/", s.base)), "{test}: {url}");
        }
    }
}

/// Run `herald serve --tls-self-signed` in `data_dir` until its banner is
/// printed; return the banner.
fn banner_of_self_signed_start(data_dir: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-self-signed",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("HERALD_ADMIN_KEY", "banner-key")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn herald serve");
    let mut banner = String::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("banner line");
        banner.push_str(&line);
        banner.push('\n');
        if line.trim_start().starts_with("try:") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    banner
}

fn field<'a>(banner: &'a str, name: &str) -> &'a str {
    banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .unwrap_or_else(|| panic!("no '{name}' in the banner:\n{banner}"))
        .trim()
}

#[test]
fn the_banner_names_the_certificate_and_its_fingerprint_and_a_restart_reuses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let banner = banner_of_self_signed_start(dir.path());
    assert!(
        field(&banner, "herald").contains("listening on https://127.0.0.1:"),
        "{banner}"
    );
    assert!(
        field(&banner, "Web API:").starts_with("https://"),
        "{banner}"
    );
    let cert = dir.path().join("tls").join("self-signed.crt");
    assert_eq!(
        field(&banner, "TLS cert:"),
        format!("{}  (self-signed, generated now)", cert.display())
    );
    let pem = std::fs::read_to_string(&cert).expect("certificate file");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM base64");
    let expected: Vec<String> = Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(field(&banner, "SHA-256:"), expected.join(":"));
    assert!(
        field(&banner, "try:").contains(&format!("--cacert {}", cert.display())),
        "{banner}"
    );

    let again = banner_of_self_signed_start(dir.path());
    assert_eq!(
        field(&again, "TLS cert:"),
        format!("{}  (self-signed)", cert.display())
    );
    assert_eq!(field(&again, "SHA-256:"), expected.join(":"));
    assert_eq!(
        std::fs::read_to_string(&cert).unwrap(),
        pem,
        "the certificate is reused"
    );
}

#[test]
fn a_missing_certificate_file_stops_the_start_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run herald serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/c.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_warns_about_its_cookie_only_without_https() {
    const WARNING: &str = "only over HTTPS or on localhost";
    let login_page = |s: &TestServer| {
        let rb = s
            .client
            .get(format!("{}/console/login", s.base))
            .header("host", "herald.internal:5080");
        async move {
            rb.send()
                .await
                .expect("login page")
                .text()
                .await
                .expect("body")
        }
    };
    let tls = https_server("https_console_cookie").await;
    let page = login_page(&tls).await;
    assert!(page.contains("Sign in"), "{page}");
    assert!(!page.contains(WARNING), "{page}");
    let plain = TestServer::start(Backend::Sqlite, "http_console_cookie")
        .await
        .expect("server");
    assert!(login_page(&plain).await.contains(WARNING));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_a_certificate_and_key_given_as_files() {
    let files = tempfile::tempdir().expect("tempdir");
    let pair = herald_server::tls::self_signed::ensure(files.path()).expect("a certificate pair");
    let (cert, key) = (pair.cert.clone(), pair.key.clone());
    let s = TestServer::start_with(Backend::Sqlite, "https_given_files", |c| {
        c.server.tls_cert = Some(cert);
        c.server.tls_key = Some(key);
    })
    .await
    .expect("server");
    let tls = s.state.config.server.serves_tls();
    assert!(tls && s.base.starts_with("https://"), "{}", s.base);
    let (st, body) = s.get("WhoAmI").await;
    assert_eq!(st, StatusCode::OK, "{body}");
}
