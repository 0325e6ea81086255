//! The HTTP edge, spoken to over a raw TCP connection so that framing the
//! client libraries would never send can be sent: a body that cannot be
//! read to its end (a bad chunk) is a 400 (413 only past the limit), gzip
//! bodies are decoded and other encodings refused, and an error answered
//! before the body was read says `Connection: close`; JSON endpoints refuse
//! other content types (415) and the router's own errors (405 with `Allow`,
//! a path that is not UTF-8) are OData errors.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestServer;

both_backends!(
    a_body_that_ends_early_is_a_400_not_a_413,
    gzip_bodies_are_decoded_and_other_encodings_refused,
    an_error_before_the_body_is_read_closes_the_connection,
    json_endpoints_refuse_other_content_types,
    router_errors_are_odata_too,
    a_connection_that_sends_nothing_is_closed,
);

/// Send `head` (request line and headers, without the blank line) and
/// `body` on a new connection; the status and the raw response (read until
/// its `Content-Length` is complete, the server closes, or 10 s pass).
async fn raw(s: &TestServer, head: &str, body: &[u8]) -> (u16, String) {
    let addr = s.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{head}\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        s.key
    )
    .into_bytes();
    req.extend_from_slice(body);
    stream.write_all(&req).await.expect("send");
    let mut answer = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 8192];
    while !complete(&answer) {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Whether `answer` holds a whole response with a `Content-Length` body.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .is_some_and(|len| body.len() >= len)
}

fn has_header(response: &str, name: &str, value: &str) -> bool {
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    head.lines().any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
        })
    })
}

fn is_odata_error(response: &str) -> bool {
    response
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .is_some_and(|j| j["error"]["message"].is_string())
}

async fn a_body_that_ends_early_is_a_400_not_a_413(s: TestServer) {
    // A chunked body whose chunk size is not a number: the body cannot be
    // read to its end.
    let (status, text) = raw(
        &s,
        "POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
        b"zz\r\n{\"lastname\":\"x\"}\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(is_odata_error(&text), "{text}");
    assert!(!text.contains("larger than the limit"), "{text}");
    // Past the limit it is still a 413.
    let limit = s.state.config.server.max_body_size;
    let big = vec![b' '; limit + 10];
    let (status, text) = raw(
        &s,
        &format!(
            "POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
            big.len()
        ),
        &big,
    )
    .await;
    assert_eq!(status, 413, "{}", &text[..text.len().min(300)]);
}

async fn gzip_bodies_are_decoded_and_other_encodings_refused(s: TestServer) {
    let body = serde_json::to_vec(&json!({"lastname": "Zipped"})).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&body).unwrap();
    let zipped = gz.finish().unwrap();
    let resp = s
        .request(reqwest::Method::POST, "contacts")
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(zipped)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (_, rows) = s.get("contacts?$filter=lastname eq 'Zipped'").await;
    assert_eq!(rows["value"].as_array().map(Vec::len), Some(1), "{rows}");
    let resp = s
        .request(reqwest::Method::POST, "contacts")
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "br")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let j: serde_json::Value = resp.json().await.unwrap();
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("gzip"),
        "{j}"
    );
}

async fn an_error_before_the_body_is_read_closes_the_connection(s: TestServer) {
    // An unknown API version is refused before the body is read.
    let (status, text) = raw(
        &s,
        "POST /api/data/v1.0/contacts HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 16",
        br#"{"lastname":"x"}"#,
    )
    .await;
    assert_eq!(status, 404, "{text}");
    assert!(has_header(&text, "connection", "close"), "{text}");
    // A 4xx after the body was read keeps the connection.
    let (status, text) = raw(
        &s,
        "POST /api/data/v9.2/contacts HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 18",
        br#"{"nosuchcolumn":1}"#,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(!has_header(&text, "connection", "close"), "{text}");
}

async fn json_endpoints_refuse_other_content_types(s: TestServer) {
    let body = r#"{"name":"x"}"#;
    for ct in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        for path in [
            "/api/data/v9.2/accounts",
            "/api/herald/bins",
            "/api/v2.0/subscriptions",
        ] {
            let r = s
                .client
                .post(format!("{}{path}", s.base))
                .bearer_auth(&s.key)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{ct} on {path}"
            );
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "0x8006088a", "{v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{v}"
            );
        }
    }
    let (_, list) = s.get("accounts?$select=name").await;
    assert_eq!(
        list["value"].as_array().unwrap().len(),
        0,
        "nothing was created: {list}"
    );
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;odata.metadata=minimal",
    ] {
        let r = s
            .client
            .post(format!("{}/accounts", s.api))
            .bearer_auth(&s.key)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{ct}");
    }
}

async fn router_errors_are_odata_too(s: TestServer) {
    for (method, path) in [
        (reqwest::Method::PUT, "/api/herald/bins"),
        (reqwest::Method::DELETE, "/api/herald/keys"),
        (reqwest::Method::POST, "/metrics"),
    ] {
        let r = s
            .client
            .request(method.clone(), format!("{}{path}", s.base))
            .bearer_auth(&s.key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let allow = r.headers()["allow"].to_str().unwrap().to_string();
        assert!(allow.contains("GET"), "{method} {path}: Allow {allow}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "0x8006088a", "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not allowed on this path"),
            "{v}"
        );
    }
    // A path segment that is not UTF-8 (%FF).
    let (status, answer) = raw(&s, "GET /api/herald/bins/%FF HTTP/1.1", b"").await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    assert!(
        answer.contains(r#""error":{"code":"0x80060888""#),
        "{answer}"
    );
}

/// A half-open client (connects, sends nothing) is dropped after the
/// first-byte timeout instead of holding a connection for ever; a
/// connection that sends its request is unaffected.
async fn a_connection_that_sends_nothing_is_closed(s: TestServer) {
    let addr = s.base.trim_start_matches("http://").to_string();
    let started = std::time::Instant::now();
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let mut buf = [0u8; 64];
    let limit = herald_server::conn_limit::FIRST_BYTE + std::time::Duration::from_secs(10);
    let read = tokio::time::timeout(limit, silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the server closes a silent connection: {read:?}"
    );
    assert!(
        started.elapsed()
            >= herald_server::conn_limit::FIRST_BYTE - std::time::Duration::from_millis(500)
    );
    let (status, _) = raw(&s, "GET /healthz HTTP/1.1", b"").await;
    assert_eq!(status, 200);
}
