//! The web console (`/console`) driven like a browser: a reqwest client with
//! a cookie store signs in, reads the pages, and submits the forms with
//! (and without) the CSRF token.

use std::time::Duration;

use crate::common::{eventually, register, Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A browser-like client: keeps cookies, does not follow redirects (so
/// tests see each 303).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self
            .html
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.html))
            + marker.len();
        self.html[start..].split('"').next().unwrap().to_string()
    }

    /// Distinct ids linked as `<prefix><uuid>`, in page order.
    fn linked_ids(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for part in self.html.split(&format!("href=\"{prefix}")).skip(1) {
            let id: String = part.chars().take(36).collect();
            if uuid::Uuid::parse_str(&id).is_ok() && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// The href of the link with this rel (`prev` / `next`), unescaped.
    fn rel(&self, rel: &str) -> Option<String> {
        let tag_end = self.html.find(&format!("rel=\"{rel}\""))?;
        let before = &self.html[..tag_end];
        let href_start = before.rfind("href=\"")? + 6;
        Some(
            before[href_start..]
                .split('"')
                .next()?
                .replace("&amp;", "&"),
        )
    }
}

async fn get(c: &reqwest::Client, s: &TestServer, path: &str) -> Page {
    let resp = c.get(format!("{}{path}", s.base)).send().await.unwrap();
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}

async fn post(c: &reqwest::Client, s: &TestServer, path: &str, form: &[(&str, &str)]) -> Page {
    let resp = c
        .post(format!("{}{path}", s.base))
        .form(form)
        .send()
        .await
        .unwrap();
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}

/// Sign in with the admin key; returns the client and the CSRF token.
async fn signed_in(s: &TestServer) -> (reqwest::Client, String) {
    let c = browser();
    let p = post(&c, s, "/console/login", &[("key", &s.key)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let jobs = get(&c, s, "/console/jobs").await;
    assert_eq!(jobs.status, StatusCode::OK, "{}", jobs.html);
    let token = jobs.csrf();
    (c, token)
}

/// Minimal HTML unescaping for assertions on text content.
fn text(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn job_status(s: &TestServer, id: &str) -> (i64, i64) {
    let (_, b) = s
        .get(&format!(
            "asyncoperations({id})?$select=statecode,statuscode"
        ))
        .await;
    (
        b["statecode"].as_i64().unwrap_or(-1),
        b["statuscode"].as_i64().unwrap_or(-1),
    )
}

async fn jobs_of_step(s: &TestServer, step: &str) -> Vec<Value> {
    let (_, b) = s.get(&format!("asyncoperations?$select=statuscode,retrycount&$filter=_owningextensionid_value eq {step}")).await;
    b["value"].as_array().cloned().unwrap_or_default()
}

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

async fn pages_and_actions(s: TestServer) {
    let (c, token) = signed_in(&s).await;

    // A bin, created in the console.
    assert_eq!(
        post(&c, &s, "/console/bins", &[("name", "console-bin")])
            .await
            .status,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    let p = post(
        &c,
        &s,
        "/console/bins",
        &[("name", "console-bin"), ("csrf", &token)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let bin_id = p
        .location()
        .trim_start_matches("/console/bins/")
        .to_string();
    let bin_url = format!("{}/bins/{bin_id}", s.base);
    let p = get(&c, &s, &format!("/console/bins/{bin_id}")).await;
    assert!(p.html.contains(&bin_url), "the URL to copy: {}", p.html);
    assert!(p.html.contains("Nothing captured yet"));
    assert!(get(&c, &s, "/console/bins")
        .await
        .html
        .contains("console-bin"));

    // A webhook to the bin with an async Update step, and one to a closed port.
    let hook = register::webhook(
        &s,
        "to-the-bin",
        &bin_url,
        5,
        r#"<settings><setting name="X-Test1" value="test1" /></settings>"#,
    )
    .await;
    let step = register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        1,
        json!({"name": "contact update to bin", "filteringattributes": "firstname"}),
    )
    .await;
    let dead = register::webhook(&s, "closed-port", "http://127.0.0.1:9/hook", 4, "k").await;
    let dead_step = register::step(
        &s,
        &dead,
        "Create",
        "contact",
        40,
        1,
        json!({"name": "contact create to closed port"}),
    )
    .await;

    let contact = s
        .create("contacts", json!({"firstname": "Jim", "lastname": "Glynn"}))
        .await;
    let (st, _) = s
        .patch(
            &format!("contacts({contact})"),
            json!({"firstname": "James <b>"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let ok_job = eventually(Duration::from_secs(20), "the bin job succeeds", || async {
        jobs_of_step(&s, &step)
            .await
            .into_iter()
            .find(|j| j["statuscode"] == 30)
            .map(|j| j["asyncoperationid"].as_str().unwrap().to_string())
    })
    .await;
    let failed_job = eventually(
        Duration::from_secs(20),
        "the closed-port job fails",
        || async {
            jobs_of_step(&s, &dead_step)
                .await
                .into_iter()
                .find(|j| j["statuscode"] == 31)
                .map(|j| j["asyncoperationid"].as_str().unwrap().to_string())
        },
    )
    .await;

    // Webhooks: name, URL, auth type, signing, steps.
    let p = get(&c, &s, "/console/webhooks").await;
    assert_eq!(p.status, StatusCode::OK);
    for expected in [
        "to-the-bin",
        bin_url.as_str(),
        "HttpHeader",
        "WebhookKey",
        "closed-port",
        "off",
    ] {
        assert!(
            p.html.contains(expected),
            "webhooks page lacks {expected}: {}",
            p.html
        );
    }

    // Steps: message, table, stage, mode, state; disable / enable.
    let p = get(&c, &s, "/console/steps").await;
    for expected in [
        "contact update to bin",
        "Update",
        "contact",
        "Post-operation",
        "Asynchronous",
        "Enabled",
        "filter: ",
    ] {
        assert!(
            p.html.contains(expected),
            "steps page lacks {expected}: {}",
            p.html
        );
    }
    let disable = format!("/console/steps/{step}/disable");
    assert_eq!(
        post(&c, &s, &disable, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&c, &s, &disable, &[("csrf", "forged")]).await.status,
        StatusCode::FORBIDDEN
    );
    let p = post(&c, &s, &disable, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let (_, b) = s
        .get(&format!(
            "sdkmessageprocessingsteps({step})?$select=statecode,statuscode"
        ))
        .await;
    assert_eq!(
        (b["statecode"].as_i64(), b["statuscode"].as_i64()),
        (Some(1), Some(2))
    );
    assert!(get(&c, &s, p.location())
        .await
        .html
        .contains("Step disabled"));
    let p = post(
        &c,
        &s,
        &format!("/console/steps/{step}/enable"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (_, b) = s
        .get(&format!(
            "sdkmessageprocessingsteps({step})?$select=statecode"
        ))
        .await;
    assert_eq!(b["statecode"], 0);

    // The bin shows the delivery, JSON pretty-printed, escaped.
    let p = get(&c, &s, &format!("/console/bins/{bin_id}")).await;
    let t = text(&p.html);
    assert!(t.contains("\"MessageName\": \"Update\""), "{}", p.html);
    assert!(t.contains("x-test1"), "{}", p.html);
    assert!(
        p.html.contains("James &lt;b&gt;"),
        "values are escaped: {}",
        p.html
    );
    assert!(!p.html.contains("James <b>"));

    // System Jobs: both jobs, filters, detail.
    let p = get(&c, &s, "/console/jobs").await;
    let listed = p.linked_ids("/console/jobs/");
    assert!(
        listed.contains(&ok_job) && listed.contains(&failed_job),
        "{listed:?}"
    );
    let p = get(&c, &s, "/console/jobs?status=failed").await;
    assert_eq!(p.linked_ids("/console/jobs/"), vec![failed_job.clone()]);
    let p = get(&c, &s, &format!("/console/jobs?step={step}&table=contact")).await;
    assert_eq!(p.linked_ids("/console/jobs/"), vec![ok_job.clone()]);
    let p = get(&c, &s, "/console/jobs?table=account").await;
    assert!(p.html.contains("No System Jobs match"));
    let p = get(&c, &s, "/console/jobs?from=2999-01-01T00:00").await;
    assert!(p.html.contains("No System Jobs match"));
    let p = get(
        &c,
        &s,
        "/console/jobs?from=2000-01-01T00:00&to=2999-01-01T00:00&status=succeeded",
    )
    .await;
    assert_eq!(p.linked_ids("/console/jobs/"), vec![ok_job.clone()]);
    assert_eq!(
        get(&c, &s, "/console/jobs?status=bogus").await.status,
        StatusCode::BAD_REQUEST
    );

    let p = get(&c, &s, &format!("/console/jobs/{ok_job}")).await;
    assert_eq!(p.status, StatusCode::OK);
    let t = text(&p.html);
    assert!(
        t.contains("Succeeded") && t.contains("\"MessageName\": \"Update\""),
        "{}",
        p.html
    );
    assert!(
        p.html.contains(r#"<span class="badge ok">200</span>"#),
        "the attempt: {}",
        p.html
    );
    assert!(!p.html.contains("/retry\""), "no retry for a succeeded job");
    let p = get(&c, &s, &format!("/console/jobs/{failed_job}")).await;
    assert!(
        p.html.contains("Failed") && p.html.contains("Retry"),
        "{}",
        p.html
    );
    assert!(p.html.contains("no answer"), "{}", p.html);

    // Retry from the console: CSRF-checked, and the job runs again.
    let retry = format!("/console/jobs/{failed_job}/retry");
    assert_eq!(
        post(&c, &s, &retry, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        job_status(&s, &failed_job).await,
        (3, 31),
        "a refused retry changes nothing"
    );
    let attempts_before = s
        .get(&format!(
            "asyncoperations({failed_job})/Microsoft.Dynamics.CRM.herald_Attempts"
        ))
        .await
        .1["value"]
        .as_array()
        .unwrap()
        .len();
    let p = post(&c, &s, &retry, &[("csrf", &token)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(
        p.location(),
        format!("/console/jobs/{failed_job}?done=retry")
    );
    eventually(
        Duration::from_secs(20),
        "the retried job runs again",
        || async {
            let n = s
                .get(&format!(
                    "asyncoperations({failed_job})/Microsoft.Dynamics.CRM.herald_Attempts"
                ))
                .await
                .1["value"]
                .as_array()
                .unwrap()
                .len();
            (n > attempts_before && job_status(&s, &failed_job).await == (3, 31)).then_some(())
        },
    )
    .await;
    // Cancel: postpone the failed job far away, retry it (it now waits), cancel it.
    let (st, b) = s
        .patch(
            &format!("asyncoperations({failed_job})"),
            json!({"postponeuntil": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert!(st.is_success(), "{b}");
    assert_eq!(
        post(&c, &s, &retry, &[("csrf", &token)]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(job_status(&s, &failed_job).await, (0, 0));
    let p = get(&c, &s, &format!("/console/jobs/{failed_job}")).await;
    assert!(
        p.html.contains("Waiting") && p.html.contains("/cancel\""),
        "{}",
        p.html
    );
    assert_eq!(
        post(
            &c,
            &s,
            &format!("/console/jobs/{failed_job}/cancel"),
            &[("csrf", "nope")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let p = post(
        &c,
        &s,
        &format!("/console/jobs/{failed_job}/cancel"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(job_status(&s, &failed_job).await, (3, 32));
    let p = get(&c, &s, "/console/jobs?status=canceled").await;
    assert_eq!(p.linked_ids("/console/jobs/"), vec![failed_job.clone()]);
    // A completed job cannot be canceled.
    let p = post(
        &c,
        &s,
        &format!("/console/jobs/{ok_job}/cancel"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.html);
    assert_eq!(job_status(&s, &ok_job).await, (3, 30));
    assert_eq!(
        get(&c, &s, &format!("/console/jobs/{}", uuid::Uuid::new_v4()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&c, &s, "/console/nowhere").await.status,
        StatusCode::NOT_FOUND
    );

    // Business Central subscriptions (none yet) render.
    let p = get(&c, &s, "/console/bc").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("Business Central subscriptions"));

    // Deleting the bin.
    let p = post(
        &c,
        &s,
        &format!("/console/bins/{bin_id}/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        get(&c, &s, &format!("/console/bins/{bin_id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn bc_subscriptions_and_pending_notifications(s: TestServer) {
    // The background notifier is held, so what is queued stays pending.
    herald_server::bc::notifier::hold_background(&s.state);
    let (_, _, bin) = s
        .send(s.request(Method::POST, &format!("{}/api/herald/bins", s.base)))
        .await;
    let url = bin["url"].as_str().unwrap().to_string();
    let company = herald_server::bc::default_company_id();
    let resource = format!("/api/v2.0/companies({company})/customers");
    let (st, _, sub) = s
        .post(
            &format!("{}/api/v2.0/subscriptions", s.base),
            json!({"notificationUrl": url, "resource": resource, "clientState": "cs-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{sub}");
    let sub_id = sub["subscriptionId"].as_str().unwrap().to_string();
    let (st, _, cust) = s
        .post(
            &format!("{}{resource}", s.base),
            json!({"displayName": "Adatum"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{cust}");
    let record = format!("{resource}({})", cust["id"].as_str().unwrap());
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = s.state.store.begin().await.unwrap();
    tx.bc_add_notifications(&[herald_store::bc::BcNotification {
        id: uuid::Uuid::new_v4().to_string(),
        subscription_id: sub_id.clone(),
        resource: record.clone(),
        change_type: "updated".into(),
        last_modified_ms: now,
        created_ms: now,
        seq: 0,
    }])
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (c, _) = signed_in(&s).await;
    let p = get(&c, &s, "/console/bc").await;
    assert_eq!(p.status, StatusCode::OK);
    for expected in [
        sub_id.as_str(),
        resource.as_str(),
        url.as_str(),
        "cs-1",
        record.as_str(),
        "updated",
        "1 notifications waiting to be sent",
        "1 changes still in their delay window",
    ] {
        assert!(
            p.html.contains(expected),
            "BC page lacks {expected}: {}",
            p.html
        );
    }
}

/// Insert `n` System Jobs of `step`, four per second from `start`, their
/// (statecode, statuscode) cycling through `states`; half on contact, half
/// on account.
async fn insert_jobs(
    s: &TestServer,
    n: usize,
    step: uuid::Uuid,
    start: chrono::DateTime<chrono::Utc>,
    states: &[(i64, i64)],
) {
    let t = s.state.schema.table("asyncoperation").unwrap().clone();
    let mut tx = s.state.store.begin().await.unwrap();
    for i in 0..n {
        use herald_core::Value;
        // Several jobs share a millisecond, so ties on createdon are paged by id.
        let at = start + chrono::Duration::milliseconds((i / 4) as i64 * 1000);
        let (state, status) = states[i % states.len()];
        let row = vec![
            (
                "asyncoperationid".to_string(),
                Value::Guid(uuid::Uuid::new_v4()),
            ),
            (
                "name".to_string(),
                Value::String(format!("bulk step {}", i % 7)),
            ),
            ("operationtype".to_string(), Value::Int(1)),
            ("statecode".to_string(), Value::Int(state)),
            ("statuscode".to_string(), Value::Int(status)),
            ("owningextensionid".to_string(), Value::Guid(step)),
            (
                "primaryentitytype".to_string(),
                Value::String(if i % 2 == 0 { "contact" } else { "account" }.into()),
            ),
            (
                "regardingobjectid".to_string(),
                Value::Guid(uuid::Uuid::new_v4()),
            ),
            ("retrycount".to_string(), Value::Int(0)),
            ("data".to_string(), Value::String("{}".into())),
            ("createdon".to_string(), Value::DateTime(at)),
            ("modifiedon".to_string(), Value::DateTime(at)),
            ("versionnumber".to_string(), Value::Int(1)),
        ];
        tx.insert(&t, &row).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn a_page_of_twenty_thousand_jobs_renders(s: TestServer) {
    const N: usize = 20_000;
    let step = uuid::Uuid::new_v4();
    let start = chrono::Utc::now() - chrono::Duration::hours(6);
    insert_jobs(&s, N, step, start, &[(3, 31), (3, 30), (3, 30), (3, 32)]).await;

    let (c, _) = signed_in(&s).await;
    let p = get(&c, &s, "/console/jobs").await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.linked_ids("/console/jobs/").len(), 50);
    assert!(p.rel("prev").is_none(), "the first page has nothing newer");

    // Walk every failed job (N/4) in pages of 500 via "Older →": each once.
    let mut seen = std::collections::HashSet::new();
    let mut pages = Vec::new();
    let mut next = Some("/console/jobs?status=failed&top=500".to_string());
    while let Some(path) = next {
        let p = get(&c, &s, &path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        let ids = p.linked_ids("/console/jobs/");
        assert!(!ids.is_empty(), "{path}");
        for id in &ids {
            assert!(seen.insert(id.clone()), "job {id} listed twice");
        }
        pages.push((path, ids));
        next = p.rel("next");
    }
    assert_eq!(seen.len(), N / 4);
    assert_eq!(pages.len(), N / 4 / 500);
    // "← Newer" from the third page gives back the second.
    let third = get(&c, &s, &pages[2].0).await;
    let back = get(&c, &s, &third.rel("prev").expect("a newer link")).await;
    assert_eq!(back.linked_ids("/console/jobs/"), pages[1].1);

    // Filters combine, over the indexes.
    let p = get(
        &c,
        &s,
        &format!("/console/jobs?status=succeeded&table=contact&step={step}&top=200"),
    )
    .await;
    assert_eq!(p.linked_ids("/console/jobs/").len(), 200);
    let mid = start + chrono::Duration::seconds(60);
    let p = get(
        &c,
        &s,
        &format!("/console/jobs?to={}&top=500", mid.format("%Y-%m-%dT%H:%M")),
    )
    .await;
    let n = p.linked_ids("/console/jobs/").len();
    assert!(n > 0 && n <= 4 * 61, "{n} jobs before {mid}");
}

/// Every System Jobs page — each filter, the first page and both paging
/// directions — is planned as a walk of an `asyncoperation` index in the
/// page's order (at most ties on `createdon` sorted by id), never a table
/// scan or a full sort, with enough jobs in every status that the planners
/// have a choice. The several-status groups (Waiting, In progress) page
/// correctly from their per-status walks.
async fn the_jobs_page_query_walks_an_index(s: TestServer) {
    use herald_server::console::{
        jobs_page_queries, JobsCursor, JobsDirection, JobsFilters, JOBS_DEFAULT_TOP,
    };
    const N: usize = 24_000;
    const STATES: [(i64, i64); 8] = [
        (0, 0),
        (1, 10),
        (2, 20),
        (2, 21),
        (2, 22),
        (3, 30),
        (3, 31),
        (3, 32),
    ];
    let step = uuid::Uuid::new_v4();
    let start = chrono::Utc::now() - chrono::Duration::hours(6);
    insert_jobs(&s, N, step, start, &STATES).await;
    let postgres = match s.state.store.pg_pool() {
        Some(pool) => {
            // What autovacuum would have done by the time a table is this big.
            sqlx::query("ANALYZE \"asyncoperation\"")
                .execute(pool)
                .await
                .unwrap();
            true
        }
        None => false,
    };
    let base = JobsFilters {
        top: JOBS_DEFAULT_TOP,
        ..JobsFilters::default()
    };
    let at = |minutes: i64| {
        (start + chrono::Duration::minutes(minutes))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let mut filters: Vec<(String, JobsFilters)> = vec![("any".into(), base.clone())];
    for status in ["waiting", "inprogress", "succeeded", "failed", "canceled"] {
        filters.push((
            status.into(),
            JobsFilters {
                status: Some(status),
                ..base.clone()
            },
        ));
    }
    filters.extend([
        (
            "step".into(),
            JobsFilters {
                step: Some(step),
                ..base.clone()
            },
        ),
        (
            "table".into(),
            JobsFilters {
                table: Some("contact".into()),
                ..base.clone()
            },
        ),
        (
            "range".into(),
            JobsFilters {
                from: Some(at(30)),
                to: Some(at(90)),
                ..base.clone()
            },
        ),
        (
            "failed contact jobs of the step".into(),
            JobsFilters {
                status: Some("failed"),
                step: Some(step),
                table: Some("contact".into()),
                ..base.clone()
            },
        ),
    ]);
    let cursor = JobsCursor {
        ms: (start + chrono::Duration::minutes(60)).timestamp_millis(),
        id: uuid::Uuid::new_v4(),
    };
    for (name, f) in &filters {
        for (dir_name, dir) in [
            ("first", JobsDirection::First),
            ("after", JobsDirection::After(cursor)),
            ("before", JobsDirection::Before(cursor)),
        ] {
            let queries = jobs_page_queries(f, dir);
            let expected = match f.status {
                Some("waiting") => 2,
                Some("inprogress") => 3,
                _ => 1,
            };
            assert_eq!(queries.len(), expected, "{name}");
            for q in &queries {
                let plan = s.state.store.explain(q, Some(f.top + 1)).await.unwrap();
                let text = plan.join("\n");
                let what = format!("{name} / {dir_name}:\n{text}");
                if postgres {
                    assert!(
                        text.contains("Index Scan") && text.contains("ix_asyncoperation_"),
                        "an asyncoperation index walk: {what}"
                    );
                    assert!(!text.contains("Seq Scan"), "no table scan: {what}");
                    assert!(
                        !plan.iter().any(|l| l
                            .trim_start()
                            .trim_start_matches("->")
                            .trim_start()
                            .starts_with("Sort  (")),
                        "no full sort (an Incremental Sort of ties is fine): {what}"
                    );
                } else {
                    assert!(
                        plan.iter()
                            .any(|l| l.contains("USING INDEX ix_asyncoperation_")
                                || l.contains("USING COVERING INDEX ix_asyncoperation_")),
                        "an asyncoperation index: {what}"
                    );
                    assert!(
                        !plan
                            .iter()
                            .any(|l| l.starts_with("SCAN") && !l.contains("USING")),
                        "no table scan: {what}"
                    );
                    assert!(
                        !plan.iter().any(|l| l.contains("TEMP B-TREE FOR ORDER BY")),
                        "no full sort (sorting ties on the last terms is fine): {what}"
                    );
                }
            }
        }
    }

    // The merged per-status walks page like one query: every In progress
    // job exactly once going older, and "← Newer" gives the previous page.
    let (c, _) = signed_in(&s).await;
    let mut seen = std::collections::HashSet::new();
    let mut pages = Vec::new();
    let mut next = Some("/console/jobs?status=inprogress&top=200".to_string());
    while let Some(path) = next {
        let p = get(&c, &s, &path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        let ids = p.linked_ids("/console/jobs/");
        for id in &ids {
            assert!(seen.insert(id.clone()), "job {id} listed twice");
        }
        pages.push((path, ids));
        next = p.rel("next");
    }
    assert_eq!(seen.len(), N * 3 / STATES.len());
    let third = get(&c, &s, &pages[2].0).await;
    let back = get(&c, &s, &third.rel("prev").expect("a newer link")).await;
    assert_eq!(back.linked_ids("/console/jobs/"), pages[1].1);
}

both_backends!(
    pages_and_actions,
    bc_subscriptions_and_pending_notifications,
    a_page_of_twenty_thousand_jobs_renders,
    the_jobs_page_query_walks_an_index
);
