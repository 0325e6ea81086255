//! Failed sign-ins throttled per client address (issue 15 item 3): after a
//! burst of wrong keys an address gets 429 with `Retry-After` (the console's
//! sign-in too), a valid key from that address still works at once, another
//! address is not slowed, and /metrics counts both; console POSTs from
//! another site (`Origin`, else `Referer`) are refused with 403.

use reqwest::StatusCode;

use crate::common::TestServer;
use crate::console::browser::{get, signed_in};

both_backends!(
    wrong_keys_are_throttled_per_address_and_valid_keys_never_are,
    console_posts_from_another_site_are_refused,
);

/// A client whose connections come from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<std::net::IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn who_am_i(c: &reqwest::Client, s: &TestServer, key: &str) -> reqwest::Response {
    c.get(format!("{}/WhoAmI", s.api))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn wrong_keys_are_throttled_per_address_and_valid_keys_never_are(s: TestServer) {
    let attacker = client_from("127.0.0.1");
    for i in 0..10 {
        let r = who_am_i(&attacker, &s, &format!("hk_wrong{i}")).await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "failure {i} is within the burst"
        );
    }
    let r = who_am_i(&attacker, &s, "hk_wrong-again").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "Retry-After: {retry}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "0x80072321", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Too many failed sign-ins"));

    // The valid key from the same address: answered at once, not throttled.
    let r = who_am_i(&attacker, &s, &s.key).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The console's sign-in counts against the same address.
    let r = attacker
        .post(format!("{}/console/login", s.base))
        .form(&[("key", "hk_wrong-console")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
    // Another address is not slowed by this one.
    let other = client_from("127.0.0.2");
    let r = who_am_i(&other, &s, "hk_wrong-elsewhere").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = who_am_i(&other, &s, &s.key).await;
    assert_eq!(r.status(), StatusCode::OK);
    // A request without any key is not a failed key check.
    let r = client_from("127.0.0.3")
        .get(format!("{}/WhoAmI", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let metrics = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(
        metrics.contains("# HELP herald_auth_failures_total "),
        "{metrics}"
    );
    assert!(
        metrics.contains("# HELP herald_auth_throttled_total "),
        "{metrics}"
    );
    assert_eq!(value("herald_auth_failures_total"), 13.0);
    assert_eq!(value("herald_auth_throttled_total"), 2.0);
}

async fn console_posts_from_another_site_are_refused(s: TestServer) {
    let (c, token) = signed_in(&s).await;
    let post = |origin: Option<(&'static str, String)>| {
        let mut rb = c
            .post(format!("{}/console/bins", s.base))
            .form(&[("csrf", token.as_str())]);
        if let Some((name, value)) = origin {
            rb = rb.header(name, value);
        }
        rb.send()
    };
    for (name, value) in [
        ("origin", "http://evil.example".to_string()),
        ("origin", "null".to_string()),
        ("referer", "http://evil.example/console/bins".to_string()),
        ("referer", format!("{}@evil.example/", s.base)),
    ] {
        let r = post(Some((name, value.clone()))).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            r.text().await.unwrap().contains("another site"),
            "{name}: {value}"
        );
    }
    let own = post(Some(("origin", s.base.clone()))).await.unwrap();
    assert_eq!(own.status(), StatusCode::SEE_OTHER, "same origin");
    let referer = post(Some(("referer", format!("{}/console/bins", s.base))))
        .await
        .unwrap();
    assert_eq!(
        referer.status(),
        StatusCode::SEE_OTHER,
        "Referer of this server"
    );
    // A foreign browser page cannot sign out either.
    let r = c
        .post(format!("{}/console/logout", s.base))
        .header("origin", "http://evil.example")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&c, &s, "/console/jobs").await.status,
        StatusCode::OK,
        "still signed in"
    );
}
