//! Signing in to the console: the hardened session cookie, and login CSRF
//! (a sign-in form from another origin is refused).

use reqwest::StatusCode;

use super::browser::{browser, get, post, signed_in};
use crate::common::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_hardened_session_cookie() {
    let s = TestServer::start(Backend::Sqlite, "console_login")
        .await
        .unwrap();
    let c = browser();

    // Not signed in: pages send the browser to the sign-in form.
    let p = get(&c, &s, "/console/jobs?status=failed").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.location(),
        "/console/login?next=%2Fconsole%2Fjobs%3Fstatus%3Dfailed"
    );
    let p = get(&c, &s, "/console/login").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains(r#"name="key""#), "{}", p.html);
    assert!(p.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));

    // A wrong key is refused, and no cookie is set.
    let p = post(&c, &s, "/console/login", &[("key", "hk_wrong")]).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.html.contains("not valid"), "{}", p.html);
    assert!(p.headers.get("set-cookie").is_none());
    assert_eq!(
        get(&c, &s, "/console/jobs").await.status,
        StatusCode::SEE_OTHER
    );

    // The right key: a session cookie, HttpOnly, Secure, SameSite=Strict,
    // scoped to /console, holding a random id rather than the key.
    let p = post(
        &c,
        &s,
        "/console/login?next=%2Fconsole%2Fjobs%3Fstatus%3Dfailed",
        &[("key", &s.key)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(p.location(), "/console/jobs?status=failed");
    let cookie = p.headers["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(
            cookie.split(';').any(|a| a.trim() == attr),
            "{attr} missing from {cookie}"
        );
    }
    assert!(cookie.starts_with("herald_console="), "{cookie}");
    assert!(
        !cookie.contains(&s.key),
        "the cookie must not carry the API key: {cookie}"
    );
    let p = get(&c, &s, "/console/jobs?status=failed").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("System Jobs"));
    assert_eq!(p.headers["cache-control"], "no-store");
    assert_eq!(get(&c, &s, "/console").await.location(), "/console/jobs");
    // An open redirect is not followed.
    let p = post(
        &c,
        &s,
        "/console/login?next=https%3A%2F%2Fevil.example%2F",
        &[("key", &s.key)],
    )
    .await;
    assert_eq!(p.location(), "/console/jobs");

    // Sign out needs the CSRF token too; afterwards the session is gone.
    let token = get(&c, &s, "/console/jobs").await.csrf();
    assert_eq!(
        post(&c, &s, "/console/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let p = post(&c, &s, "/console/logout", &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        get(&c, &s, "/console/jobs").await.status,
        StatusCode::SEE_OTHER
    );
    // Another browser's session does not let this one post.
    let (_, other_token) = signed_in(&s).await;
    assert_eq!(
        post(&c, &s, "/console/bins", &[("csrf", &other_token)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

/// Login CSRF: a sign-in form posted from another site (its `Origin` is
/// not this server) is refused and starts no session; the same form from
/// this origin, or from a client that sends no `Origin`, signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_from_another_origin_is_refused() {
    let s = TestServer::start(Backend::Sqlite, "console_login_origin")
        .await
        .unwrap();
    let host = s.base.trim_start_matches("http://").to_string();
    let sign_in = |c: &reqwest::Client, origin: Option<&str>| {
        let mut rb = c
            .post(format!("{}/console/login", s.base))
            .form(&[("key", s.key.as_str())]);
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        rb.send()
    };
    for foreign in [
        "http://evil.example".to_string(),
        "null".to_string(),
        format!("https://{host}.evil.example"),
    ] {
        let c = browser();
        let resp = sign_in(&c, Some(&foreign)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "Origin: {foreign}");
        assert!(
            resp.headers().get("set-cookie").is_none(),
            "no session for Origin: {foreign}"
        );
        assert!(resp.text().await.unwrap().contains("another site"));
        assert_eq!(
            get(&c, &s, "/console/jobs").await.status,
            StatusCode::SEE_OTHER,
            "still signed out after Origin: {foreign}"
        );
    }
    for origin in [Some(s.base.clone()), None] {
        let c = browser();
        let resp = sign_in(&c, origin.as_deref()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "Origin: {origin:?}");
        assert!(resp.headers().get("set-cookie").is_some());
        assert_eq!(
            get(&c, &s, "/console/jobs").await.status,
            StatusCode::OK,
            "signed in with Origin: {origin:?}"
        );
    }
}
