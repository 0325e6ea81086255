//! Delivery against a real loopback receiver: auth options on the wire,
//! Dataverse's outcome and retry rule, timeouts, connection errors, and the
//! SSRF guard.

use std::time::Duration;

use herald_core::authvalue::WebhookAuth;
use herald_delivery::{
    Bytes, FailureKind, Outcome, Sender, SenderConfig, WebhookRequest, EXCERPT_BYTES,
};
use herald_testkit::{free_port, Behavior, Receiver};

const WAIT: Duration = Duration::from_secs(5);

fn sender(allow_private: bool) -> Sender {
    Sender::new(SenderConfig {
        timeout: Duration::from_secs(10),
        allow_private_targets: allow_private,
    })
    .expect("build sender")
}

fn sender_with_timeout(timeout: Duration) -> Sender {
    Sender::new(SenderConfig {
        timeout,
        allow_private_targets: true,
    })
    .expect("build sender")
}

fn request(url: String, auth: WebhookAuth) -> WebhookRequest {
    WebhookRequest {
        url,
        auth,
        headers: vec![
            (
                "x-request-id".into(),
                "7d5e1b1c-0000-0000-0000-000000000001".into(),
            ),
            ("x-ms-dynamics-request-name".into(), "create".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: Bytes::from_static(br#"{"MessageName":"Create"}"#),
    }
}

fn key() -> WebhookAuth {
    WebhookAuth::WebhookKey("k".into())
}

// ---- auth on the wire -------------------------------------------------------

#[tokio::test]
async fn http_header_auth_sends_each_pair_as_a_header() {
    let rx = Receiver::start().await;
    let auth = WebhookAuth::HttpHeader(vec![
        ("X-Api-Key".into(), "s3cret".into()),
        ("X-Tenant".into(), "contoso".into()),
    ]);
    let d = sender(true)
        .deliver(&request(rx.url_for("/hook"), auth))
        .await;
    assert_eq!(d.outcome, Outcome::Succeeded { status: 200 });
    let got = rx.wait_for(1, WAIT).await;
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.query, None);
    assert_eq!(r.header("x-api-key"), Some("s3cret"));
    assert_eq!(r.header("x-tenant"), Some("contoso"));
    assert_eq!(r.header("x-ms-dynamics-request-name"), Some("create"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(concat!("herald/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(r.body_text(), r#"{"MessageName":"Create"}"#);
}

#[tokio::test]
async fn an_endpoint_header_named_user_agent_replaces_heralds() {
    let rx = Receiver::start().await;
    let auth = WebhookAuth::HttpHeader(vec![("User-Agent".into(), "contoso-relay/2".into())]);
    let d = sender(true)
        .deliver(&request(rx.url_for("/hook"), auth))
        .await;
    assert!(d.is_success(), "{d:?}");
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].header_all("user-agent"), vec!["contoso-relay/2"]);
}

/// One sender, one URL, several auths (two webhooks on the same receiver,
/// each with its own key): every call carries its own webhook's auth,
/// however often the URL was called before with another.
#[tokio::test]
async fn each_call_carries_its_own_auth_on_a_shared_url() {
    let rx = Receiver::start().await;
    let s = sender(true);
    let url = rx.url_for("/shared");
    let calls = [
        WebhookAuth::WebhookKey("first".into()),
        WebhookAuth::WebhookKey("second".into()),
        WebhookAuth::HttpHeader(vec![("X-Api-Key".into(), "third".into())]),
        WebhookAuth::WebhookKey("first".into()),
        WebhookAuth::HttpHeader(vec![("X-Api-Key".into(), "fourth".into())]),
    ];
    for auth in &calls {
        let d = s.deliver(&request(url.clone(), auth.clone())).await;
        assert!(d.is_success(), "{d:?}");
    }
    let got = rx.wait_for(calls.len(), WAIT).await;
    let seen: Vec<(Option<String>, Option<String>)> = got
        .iter()
        .map(|r| {
            (
                r.query_param("code"),
                r.header("x-api-key").map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some("first".to_string()), None),
            (Some("second".to_string()), None),
            (None, Some("third".to_string())),
            (Some("first".to_string()), None),
            (None, Some("fourth".to_string())),
        ]
    );
}

#[tokio::test]
async fn webhook_key_is_appended_as_code() {
    let rx = Receiver::start().await;
    let auth = WebhookAuth::WebhookKey("abc/def==".into());
    let d = sender(true)
        .deliver(&request(rx.url_for("/api/fn"), auth))
        .await;
    assert!(d.is_success(), "{d:?}");
    let r = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(r.path, "/api/fn");
    assert_eq!(r.query.as_deref(), Some("code=abc%2Fdef%3D%3D"));
    assert_eq!(r.query_param("code").as_deref(), Some("abc/def=="));
}

#[tokio::test]
async fn query_string_auth_keeps_the_existing_query() {
    let rx = Receiver::start().await;
    let auth = WebhookAuth::HttpQueryString(vec![
        ("k1".into(), "v 1".into()),
        ("sig".into(), "a&b=c".into()),
    ]);
    let d = sender(true)
        .deliver(&request(rx.url_for("/in?existing=1"), auth))
        .await;
    assert!(d.is_success(), "{d:?}");
    let r = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(r.query.as_deref(), Some("existing=1&k1=v+1&sig=a%26b%3Dc"));
    assert_eq!(
        r.query_pairs(),
        vec![
            ("existing".to_string(), "1".to_string()),
            ("k1".to_string(), "v 1".to_string()),
            ("sig".to_string(), "a&b=c".to_string()),
        ]
    );
}

// ---- outcome and retry rule ------------------------------------------------

#[tokio::test]
async fn ok_succeeds_in_one_attempt_with_an_excerpt() {
    let big = "x".repeat(5000);
    let rx = Receiver::start_with(Behavior::status_with_body(200, big)).await;
    let d = sender(true).deliver(&request(rx.url(), key())).await;
    assert_eq!(d.outcome, Outcome::Succeeded { status: 200 });
    assert_eq!(d.attempts.len(), 1);
    let a = &d.attempts[0];
    assert_eq!(a.status, Some(200));
    assert_eq!(a.error, None);
    assert_eq!(a.response_excerpt.len(), EXCERPT_BYTES);
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn any_2xx_succeeds() {
    let rx = Receiver::start_with(Behavior::status(204)).await;
    let d = sender(true).deliver(&request(rx.url(), key())).await;
    assert_eq!(d.outcome, Outcome::Succeeded { status: 204 });
}

#[tokio::test]
async fn internal_server_error_fails_without_retry() {
    let rx = Receiver::start_with(Behavior::status_with_body(500, "boom")).await;
    let d = sender(true).deliver(&request(rx.url(), key())).await;
    let f = d.failure().expect("failed");
    assert_eq!(f.kind, FailureKind::Status(500));
    assert_eq!(
        f.message,
        "The webhook endpoint answered 500 Internal Server Error"
    );
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].response_excerpt, "boom");
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn gateway_error_then_other_failure_says_both() {
    let rx = Receiver::start_with(Behavior::statuses([502], Behavior::status(500))).await;
    let d = sender(true).deliver(&request(rx.url(), key())).await;
    let f = d.failure().expect("failed");
    assert_eq!(f.kind, FailureKind::Status(500));
    assert_eq!(
        f.message,
        "The webhook endpoint answered 500 Internal Server Error (on the retry after 502 Bad Gateway)"
    );
    assert_eq!(d.attempts.len(), 2);
}

#[tokio::test]
async fn bad_request_fails_without_retry() {
    let rx = Receiver::start_with(Behavior::status(400)).await;
    let d = sender(true).deliver(&request(rx.url(), key())).await;
    assert_eq!(d.failure().map(|f| f.kind), Some(FailureKind::Status(400)));
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn gateway_errors_get_exactly_one_retry() {
    for status in [502u16, 503, 504] {
        let rx = Receiver::start_with(Behavior::status(status)).await;
        let d = sender(true).deliver(&request(rx.url(), key())).await;
        let f = d.failure().expect("failed");
        assert_eq!(f.kind, FailureKind::Status(status));
        assert!(f.message.ends_with("(also on the retry)"), "{}", f.message);
        assert_eq!(d.attempts.len(), 2, "{status}");
        assert!(d.attempts.iter().all(|a| a.status == Some(status)));
        assert_eq!(rx.requests().len(), 2, "{status}: exactly two requests");
    }
}

#[tokio::test]
async fn unavailable_then_ok_succeeds_on_attempt_two() {
    let rx = Receiver::start_with(Behavior::statuses([503], Behavior::status(200))).await;
    let d = sender(true)
        .deliver(&request(rx.url_for("/hook"), key()))
        .await;
    assert_eq!(d.outcome, Outcome::Succeeded { status: 200 });
    assert_eq!(d.attempts.len(), 2);
    assert_eq!(d.attempts[0].status, Some(503));
    assert!(d.attempts[0].error.is_some());
    assert_eq!(d.attempts[1].status, Some(200));
    let got = rx.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "the retry sends the same body");
    assert_eq!(got[1].query_param("code").as_deref(), Some("k"));
}

#[tokio::test]
async fn redirect_is_a_failure_and_not_followed() {
    let rx = Receiver::start().await;
    rx.respond(Behavior::redirect(rx.url_for("/elsewhere")));
    let d = sender(true)
        .deliver(&request(rx.url_for("/hook"), key()))
        .await;
    let f = d.failure().expect("failed");
    assert_eq!(f.kind, FailureKind::Status(302));
    assert!(
        f.message.contains("redirects are not followed"),
        "{}",
        f.message
    );
    assert_eq!(d.attempts.len(), 1);
    let got = rx.requests();
    assert_eq!(got.len(), 1, "the redirect was not followed");
    assert_eq!(got[0].path, "/hook");
}

#[tokio::test]
async fn invoke_returns_the_response_body() {
    let rx = Receiver::start_with(Behavior::status_with_body(200, "{\"ok\":true}")).await;
    let (d, body) = sender(true).invoke(&request(rx.url(), key())).await;
    assert!(d.is_success());
    assert_eq!(body.as_deref(), Some(&b"{\"ok\":true}"[..]));

    rx.respond(Behavior::status_with_body(500, "nope"));
    let (d, body) = sender(true).invoke(&request(rx.url(), key())).await;
    assert!(!d.is_success());
    assert_eq!(body.as_deref(), Some(&b"nope"[..]));
}

// ---- no answer ----------------------------------------------------------------

#[tokio::test]
async fn hanging_endpoint_times_out_without_retry() {
    let rx = Receiver::start_with(Behavior::Hang).await;
    let d = sender_with_timeout(Duration::from_millis(300))
        .deliver(&request(rx.url(), key()))
        .await;
    let f = d.failure().expect("failed");
    assert_eq!(f.kind, FailureKind::Timeout);
    assert_eq!(f.message, "No answer within 300 ms (timeout)");
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].status, None);
    assert!(d.attempts[0].duration >= Duration::from_millis(300));
    assert_eq!(rx.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn slow_answer_within_the_timeout_succeeds() {
    let rx = Receiver::start_with(Behavior::delay(Duration::from_millis(100), 200)).await;
    let d = sender_with_timeout(Duration::from_secs(5))
        .deliver(&request(rx.url(), key()))
        .await;
    assert!(d.is_success(), "{d:?}");
}

#[tokio::test]
async fn connection_refused_fails_with_connect() {
    let port = free_port();
    let d = sender(true).deliver(&request(port.url(), key())).await;
    let f = d.failure().expect("failed");
    assert_eq!(f.kind, FailureKind::Connect);
    assert_eq!(f.message, format!("Connection refused by {}", port.addr()));
    assert_eq!(d.attempts.len(), 1);
}

#[tokio::test]
async fn connection_closed_without_answer_fails_with_connect() {
    let rx = Receiver::start_with(Behavior::Close).await;
    let d = sender(true).deliver(&request(rx.url(), key())).await;
    let f = d.failure().expect("failed");
    assert_eq!(f.kind, FailureKind::Connect, "{}", f.message);
    assert!(f.message.contains(&rx.addr().to_string()), "{}", f.message);
    assert!(
        !f.message.contains("code="),
        "no secret in messages: {}",
        f.message
    );
    assert!(
        f.message.starts_with(&format!(
            "The connection to {} failed before an answer arrived",
            rx.addr()
        )),
        "{}",
        f.message
    );
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(rx.requests().len(), 1);
}

// ---- SSRF guard ------------------------------------------------------------------

#[tokio::test]
async fn guard_refuses_loopback_literal_when_not_allowed() {
    let rx = Receiver::start().await;
    let d = sender(false).deliver(&request(rx.url(), key())).await;
    let f = d.failure().expect("refused");
    assert_eq!(f.kind, FailureKind::Refused);
    assert!(
        f.message
            .starts_with("Target refused: 127.0.0.1 is a loopback address"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("--allow-private-targets"),
        "{}",
        f.message
    );
    assert_eq!(d.attempts.len(), 1);
    assert!(rx.requests().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn guard_refuses_hostname_resolving_to_loopback() {
    let rx = Receiver::start().await;
    let url = format!("http://localhost:{}/hook", rx.addr().port());
    let d = sender(false).deliver(&request(url.clone(), key())).await;
    let f = d.failure().expect("refused");
    assert_eq!(f.kind, FailureKind::Refused, "{}", f.message);
    assert!(
        f.message
            .starts_with("Target refused: localhost resolves only to refused addresses: "),
        "{}",
        f.message
    );
    assert!(rx.requests().is_empty(), "nothing reached the receiver");

    // ...and reaches it when private targets are allowed.
    let d = sender(true).deliver(&request(url, key())).await;
    assert!(d.is_success(), "{d:?}");
    assert_eq!(rx.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn guard_always_refuses_cloud_metadata() {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
    ] {
        let d = sender(true).deliver(&request(url.into(), key())).await;
        let f = d.failure().expect("refused");
        assert_eq!(f.kind, FailureKind::Refused, "{url}");
        assert!(f.message.contains("metadata"), "{}", f.message);
    }
}

#[tokio::test]
async fn guard_refuses_mapped_and_private_literals() {
    for url in [
        "http://[::ffff:127.0.0.1]:9/",
        "http://10.0.0.1/",
        "http://[::1]:9/",
        "http://0.0.0.0:9/",
    ] {
        let d = sender(false).deliver(&request(url.into(), key())).await;
        assert_eq!(
            d.failure().map(|f| f.kind),
            Some(FailureKind::Refused),
            "{url}"
        );
    }
    let d = sender(false)
        .deliver(&request("http://10.0.0.1/".into(), key()))
        .await;
    assert_eq!(
        d.failure().map(|f| f.message.as_str()),
        Some(
            "Target refused: 10.0.0.1 is a private address; start herald with \
             --allow-private-targets (HERALD_ALLOW_PRIVATE_TARGETS=1) to allow it"
        )
    );
}

#[tokio::test]
async fn unresolvable_host_fails_with_connect() {
    let d = sender(true)
        .deliver(&request("http://nonexistent.invalid/".into(), key()))
        .await;
    let f = d.failure().expect("failed");
    assert_eq!(f.kind, FailureKind::Connect);
    assert!(
        f.message
            .starts_with("Could not resolve nonexistent.invalid: "),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn invalid_urls() {
    for url in ["not a url", "ftp://example.com/x", "/relative/path"] {
        let d = sender(true).deliver(&request(url.into(), key())).await;
        assert_eq!(
            d.failure().map(|f| f.kind),
            Some(FailureKind::InvalidUrl),
            "{url}"
        );
    }
}

// ---- raw post ----------------------------------------------------------------------

#[tokio::test]
async fn post_returns_any_answer_without_retry() {
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::status(503))).await;
    let s = sender(true);
    let headers = vec![("ClientState".to_string(), "secret-state".to_string())];

    let (status, _, body) = s
        .post(
            &rx.url_for("/notify?validationToken=tok%201"),
            &headers,
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await
        .expect("an answer");
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"tok 1");
    let r = &rx.wait_for(1, WAIT).await[0];
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(r.header("clientstate"), Some("secret-state"));

    rx.clear();
    let (status, _, _) = s
        .post(
            &rx.url_for("/notify"),
            &[],
            Bytes::from_static(b"{}"),
            Duration::from_secs(5),
        )
        .await
        .expect("an answer");
    assert_eq!(status, 503, "no retry in post");
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn post_does_not_follow_redirects_and_honours_the_guard() {
    let rx = Receiver::start().await;
    rx.respond(Behavior::redirect(rx.url_for("/elsewhere")));
    let (status, headers, _) = sender(true)
        .post(&rx.url(), &[], Bytes::new(), Duration::from_secs(5))
        .await
        .expect("an answer");
    assert_eq!(status, 302);
    assert!(headers.get("location").is_some());
    assert_eq!(rx.requests().len(), 1);

    let err = sender(false)
        .post(&rx.url(), &[], Bytes::new(), Duration::from_secs(5))
        .await
        .expect_err("refused");
    assert_eq!(err.kind, FailureKind::Refused);

    rx.respond(Behavior::Hang);
    let err = sender(true)
        .post(&rx.url(), &[], Bytes::new(), Duration::from_millis(200))
        .await
        .expect_err("timeout");
    assert_eq!(err.kind, FailureKind::Timeout);
    assert_eq!(err.message, "No answer within 200 ms (timeout)");
}

/// An https URL is called over TLS: what reaches the listener first is a
/// TLS handshake record (a ClientHello), never the plaintext request; a
/// peer that then hangs up fails the call as a connection failure.
#[tokio::test]
async fn https_targets_are_called_over_tls() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let first = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut head = [0u8; 3];
        socket.read_exact(&mut head).await.expect("read");
        head
    });
    let d = sender(true)
        .deliver(&request(format!("https://{addr}/hook"), key()))
        .await;
    let head = tokio::time::timeout(WAIT, first)
        .await
        .expect("the listener was called")
        .expect("the listener task");
    // Record type 22 (handshake), protocol version 3.x.
    assert_eq!(head[0], 0x16, "{head:?}");
    assert_eq!(head[1], 0x03, "{head:?}");
    let f = d.failure().expect("no TLS server answered");
    assert_eq!(f.kind, FailureKind::Connect, "{}", f.message);
    assert!(f.message.contains(&addr.to_string()), "{}", f.message);
}
