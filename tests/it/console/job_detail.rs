//! The System Job page names the request that caused the job (the
//! `x-request-id` / `x-ms-client-request-id` sent with the write, stored
//! as `requestid`), links "Regarding" to the record's console page (which
//! shows its columns and Web API URL), and shows attempts beside the
//! automatic retries. A bulk delete job shows its counts and only Cancel.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::browser::{get, signed_in, text};
use crate::common::{register, TestServer};

both_backends!(request_id_regarding_and_attempts);

async fn request_id_regarding_and_attempts(s: TestServer) {
    let (c, _) = signed_in(&s).await;
    let hook = register::webhook(
        &s,
        "bin",
        &format!("{}/bins/00000000-0000-0000-0000-000000000001", s.base),
        4,
        "k",
    )
    .await;
    let step = register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        1,
        json!({"name": "update to nowhere"}),
    )
    .await;
    let contact = s
        .create(
            "contacts",
            json!({"firstname": "Ada", "lastname": "Lovelace", "jobtitle": "Analyst"}),
        )
        .await;

    let request_id = uuid::Uuid::new_v4().to_string();
    let (st, headers, _) = s
        .send(
            s.request(Method::PATCH, &format!("contacts({contact})"))
                .header("x-request-id", &request_id)
                .json(&json!({"firstname": "Augusta Ada"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        headers
            .get("x-ms-service-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(request_id.as_str()),
        "the request id is answered back"
    );
    // A request id that is not a GUID: herald names the request itself.
    let (_, headers, _) = s
        .send(
            s.request(Method::GET, "WhoAmI")
                .header("x-request-id", "abc"),
        )
        .await;
    let own = headers
        .get("x-ms-service-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(uuid::Uuid::parse_str(own).is_ok(), "{own}");

    // The job (whatever its outcome) keeps the request id.
    let job = crate::common::eventually(
        std::time::Duration::from_secs(20),
        "the update's job completes",
        || async {
            let (_, b) = s
                .get(&format!(
                    "asyncoperations?$filter=_owningextensionid_value eq {step}"
                ))
                .await;
            b["value"]
                .as_array()
                .and_then(|v| v.iter().find(|j| j["statecode"] == 3).cloned())
        },
    )
    .await;
    assert_eq!(job["requestid"], json!(request_id), "{job}");
    let id = job["asyncoperationid"].as_str().unwrap();

    let p = get(&c, &s, &format!("/console/jobs/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    let t = words(&p.html);
    assert!(t.contains(&format!("Request id {request_id}")), "{t}");
    assert!(!t.contains("Request id —"), "{t}");
    assert!(t.contains("Attempts 1"), "attempt count: {t}");
    assert!(t.contains("Automatic retries 0"), "retries: {t}");
    let record_link = format!("/console/records/contact/{contact}");
    assert!(
        p.html.contains(&format!("href=\"{record_link}\"")),
        "Regarding links the record: {}",
        p.html
    );
    assert!(
        t.contains(&format!("{}/api/data/v9.2/contacts({contact})", s.base)),
        "the Web API URL: {t}"
    );

    // The record page: name, columns, Web API URL.
    let p = get(&c, &s, &record_link).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    let t = words(&p.html);
    for expected in ["Augusta Ada Lovelace", "jobtitle", "Analyst", &contact] {
        assert!(t.contains(expected), "record page lacks {expected}: {t}");
    }
    assert!(
        p.html.contains(&format!(
            "value=\"{}/api/data/v9.2/contacts({contact})\"",
            s.base
        )),
        "{}",
        p.html
    );
    // The jobs list links Regarding too.
    assert!(get(&c, &s, "/console/jobs")
        .await
        .html
        .contains(&format!("href=\"{record_link}\"")));
    // Registration and system rows, unknown tables and ids are not shown.
    for path in [
        format!("/console/records/serviceendpoint/{hook}"),
        format!("/console/records/asyncoperation/{id}"),
        format!("/console/records/nosuch/{contact}"),
        "/console/records/contact/not-a-guid".to_string(),
        format!("/console/records/contact/{}", uuid::Uuid::new_v4()),
    ] {
        assert_eq!(
            get(&c, &s, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// The page's text: tags dropped, whitespace collapsed.
fn words(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    text(&out).split_whitespace().collect::<Vec<_>>().join(" ")
}
