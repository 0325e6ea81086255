//! The HTTP edge below hyper's parser, over raw loopback TCP: a request
//! with both `Content-Length` and `Transfer-Encoding` is an OData 400 with
//! `Connection: close` (first on a connection or after others on it), and
//! every request's head — not only the first — must arrive within
//! `[server] header_read_timeout`, idle keep-alive time included.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::common::TestServer;

both_backends!(a_length_beside_an_encoding_is_a_400_that_closes,);

both_backends!(
    tweak = |c| c.server.header_read_timeout = Duration::from_millis(300);
    every_request_has_a_header_read_timeout,
);

/// Read one response (its head and `Content-Length` body, or a 204's
/// head) from `stream`,
/// or what came before the server closed or `within` passed.
async fn response(stream: &mut TcpStream, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            // A 204 has no body (and no Content-Length).
            if status(&text) == 204 || len.is_some_and(|len| body.len() >= len) {
                return text;
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return text,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether the server closes `stream` within `within` (reads until EOF).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn a_length_beside_an_encoding_is_a_400_that_closes(s: TestServer) {
    let addr = s.base.trim_start_matches("http://").to_string();
    let auth = format!("Authorization: Bearer {}", s.key);
    for (first, second) in [
        ("Content-Length: 5", "Transfer-Encoding: chunked"),
        ("Transfer-Encoding: chunked", "content-length: 5"),
    ] {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        // A request with a body first, so the refused one is not the
        // connection's first.
        let body = r#"{"name":"ok"}"#;
        let ok = format!(
            "POST /api/data/v9.2/accounts HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(ok.as_bytes()).await.unwrap();
        let answer = response(&mut stream, Duration::from_secs(30)).await;
        assert_eq!(status(&answer), 204, "{answer}");
        let smuggled = format!(
            "POST /api/data/v9.2/accounts HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\nContent-Type: application/json\r\n{first}\r\n{second}\r\n\r\nd\r\n{{\"name\":\"x\"}}\r\n0\r\n\r\n"
        );
        stream.write_all(smuggled.as_bytes()).await.unwrap();
        let answer = response(&mut stream, Duration::from_secs(30)).await;
        assert_eq!(status(&answer), 400, "{answer}");
        assert_eq!(header(&answer, "connection"), Some("close"), "{answer}");
        assert!(
            header(&answer, "content-type").is_some_and(|c| c.starts_with("application/json")),
            "{answer}"
        );
        let body: serde_json::Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or_default();
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("both Content-Length and Transfer-Encoding")),
            "{answer}"
        );
        assert!(
            closed_within(&mut stream, Duration::from_secs(30)).await,
            "the connection is closed after the 400"
        );
    }
    // The refused requests wrote nothing.
    let (st, body) = s.get("accounts?$select=name&$filter=name eq 'x'").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(0), "{body}");
}

async fn every_request_has_a_header_read_timeout(s: TestServer) {
    let addr = s.base.trim_start_matches("http://").to_string();
    // Far below the first-byte timeout, so only the header timeout can
    // close these connections in time.
    let within = herald_server::conn_limit::FIRST_BYTE / 2;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");

    // A second request whose head never ends.
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = response(&mut stream, Duration::from_secs(30)).await;
    assert_eq!(status(&answer), 200, "{answer}");
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert!(
        closed_within(&mut stream, within).await,
        "a slow second head is cut off"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    // An idle keep-alive connection after a request.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(request.as_bytes()).await.unwrap();
    let answer = response(&mut idle, Duration::from_secs(30)).await;
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(
        closed_within(&mut idle, within).await,
        "an idle keep-alive connection is closed"
    );

    // A client that keeps its pace is served request after request.
    let mut brisk = TcpStream::connect(&addr).await.expect("connect");
    for _ in 0..3 {
        brisk.write_all(request.as_bytes()).await.unwrap();
        let answer = response(&mut brisk, Duration::from_secs(30)).await;
        assert_eq!(status(&answer), 200, "{answer}");
    }
}
