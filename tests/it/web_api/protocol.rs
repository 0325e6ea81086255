//! The protocol around the rows: authentication, clear errors for bad
//! input (nothing half-written), WhoAmI on each API version, and the OData
//! headers and etags on every answer.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::enc;
use crate::common::{odata_error, TestServer};

both_backends!(
    auth_is_required,
    bad_input_gets_clear_errors,
    whoami_and_versions,
    odata_headers_and_annotations,
);

async fn auth_is_required(s: TestServer) {
    let resp = s
        .client
        .get(format!("{}/contacts", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Bearer"));
    let resp = s
        .client
        .get(format!("{}/contacts", s.api))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn bad_input_gets_clear_errors(s: TestServer) {
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (s.request(Method::POST, "contacts").body("{not json"), StatusCode::BAD_REQUEST, "not valid JSON"),
        (s.request(Method::POST, "nosuchthings").json(&json!({})), StatusCode::NOT_FOUND, "nosuchthings"),
        (s.request(Method::POST, "contacts").json(&json!({"nosuchcolumn": 1})), StatusCode::BAD_REQUEST, "nosuchcolumn"),
        (s.request(Method::POST, "contacts").json(&json!({"firstname": 5})), StatusCode::BAD_REQUEST, "firstname"),
        (s.request(Method::POST, "contacts").json(&json!({"firstname": "x".repeat(51)})), StatusCode::BAD_REQUEST, "limited to 50"),
        (s.request(Method::GET, "contacts(not-a-guid)"), StatusCode::BAD_REQUEST, "not-a-guid"),
        (s.request(Method::GET, "contacts?$filter=firstname eq"), StatusCode::BAD_REQUEST, "position"),
        (s.request(Method::GET, "contacts?$select=nosuch"), StatusCode::BAD_REQUEST, "nosuch"),
        (s.request(Method::POST, "contacts").json(&json!({"createdon": "2020-01-01"})), StatusCode::BAD_REQUEST, "createdon"),
        (s.request(Method::POST, "contacts").json(&json!({"parentcustomerid_account@odata.bind": format!("/accounts({})", uuid::Uuid::new_v4())})), StatusCode::BAD_REQUEST, "Does Not Exist"),
        (s.request(Method::POST, "asyncoperations").json(&json!({"name": "x"})), StatusCode::FORBIDDEN, "maintained by herald"),
        (s.request(Method::POST, "contacts").body(vec![b' '; 9 * 1024 * 1024]), StatusCode::PAYLOAD_TOO_LARGE, "limit"),
    ];
    for (rb, expected, needle) in cases {
        let (st, _, body) = s.send(rb).await;
        let msg = odata_error(st, &body, expected);
        assert!(
            msg.contains(needle),
            "message {msg:?} should mention {needle:?}"
        );
    }
    // Nothing was half-written.
    let (_, body) = s.get("contacts?$count=true").await;
    assert_eq!(body["@odata.count"], 0, "{body}");
}

async fn whoami_and_versions(s: TestServer) {
    for v in ["v9.0", "v9.1", "v9.2"] {
        let (st, body) = s.get(&format!("{}/api/data/{v}/WhoAmI", s.base)).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(body["UserId"], s.state.org.admin_user_id.to_string());
        assert_eq!(
            body["BusinessUnitId"],
            s.state.org.business_unit_id.to_string()
        );
        assert_eq!(
            body["OrganizationId"],
            s.state.org.organization_id.to_string()
        );
    }
    let (st, body) = s.get(&format!("{}/api/data/v8.0/WhoAmI", s.base)).await;
    odata_error(st, &body, StatusCode::NOT_FOUND);
}

async fn odata_headers_and_annotations(s: TestServer) {
    let id = s.create("accounts", json!({"name": "Fabrikam"})).await;
    s.patch(&format!("accounts({id})"), json!({"name": "Fabrikam 2"}))
        .await;
    for path in [
        "accounts?$select=name".to_string(),
        format!("accounts({id})"),
        "WhoAmI".to_string(),
        "accounts(not-a-guid)".to_string(),
    ] {
        let (_, headers, _) = s.send(s.request(Method::GET, &path)).await;
        assert_eq!(
            headers.get("odata-version").and_then(|v| v.to_str().ok()),
            Some("4.0"),
            "{path}"
        );
    }
    let (st, headers, _) = s.post("accounts", json!({"name": "B"})).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        headers.get("odata-version").and_then(|v| v.to_str().ok()),
        Some("4.0")
    );
    // List rows carry their etag, which is the row's version.
    let (_, body) = s.get("accounts?$select=name&$orderby=name").await;
    assert_eq!(body["value"][0]["name"], "B");
    assert_eq!(body["value"][0]["@odata.etag"], "W/\"1\"");
    assert_eq!(body["value"][1]["@odata.etag"], "W/\"2\"");
    let xml = "<fetch><entity name='account'><attribute name='name'/><order attribute='name'/></entity></fetch>";
    let (st, body) = s.get(&format!("accounts?fetchXml={}", enc(xml))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(body["@odata.context"].as_str().is_some(), "{body}");
    assert_eq!(body["value"][1]["@odata.etag"], "W/\"2\"", "{body}");
}
