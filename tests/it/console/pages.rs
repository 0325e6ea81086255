//! The console's pages and forms behind the CSRF token: request bins,
//! webhooks, steps (disable / enable) and System Jobs (filters, detail,
//! retry, cancel), then the BC subscriptions page with its pending
//! notifications.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::browser::{get, post, signed_in, text};
use crate::common::{eventually, register, TestServer};

both_backends!(
    pages_and_actions,
    bc_subscriptions_and_pending_notifications,
);

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
