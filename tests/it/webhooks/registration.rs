//! Registering webhooks and steps over the Web API: validation and the
//! seeds' registration queries, each authtype applied to the request,
//! PATCHing a webhook changes the next delivery (authvalue write-only), and
//! private targets refused unless allowed.

use std::time::Duration;

use herald_testkit::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::HEADERS;
use crate::common::{job_of, odata_error, register, Backend, TestServer};

both_backends!(
    each_authtype_is_applied,
    patching_a_webhook_changes_the_next_delivery,
    registration_validation_and_seed_queries,
);

async fn each_authtype_is_applied(s: TestServer) {
    let rx = Receiver::start().await;
    let key = register::webhook(
        &s,
        "fn",
        &rx.url_for("/api/fn"),
        4,
        "00000000-0000-0000-0000-000000000001",
    )
    .await;
    let query = register::webhook(&s, "qs", &format!("{}?keep=1", rx.url_for("/q")), 6, r#"<settings><setting name="Key1" value="Value 1" /><setting name="Key2" value="a&amp;b" /></settings>"#).await;
    for hook in [&key, &query] {
        register::step(&s, hook, "Create", "account", 40, 0, json!({})).await;
    }
    s.create("accounts", json!({"name": "A"})).await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    let fn_req = got
        .iter()
        .find(|r| r.path == "/api/fn")
        .expect("webhookkey request");
    assert_eq!(
        fn_req.query_param("code").as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
    let q_req = got
        .iter()
        .find(|r| r.path == "/q")
        .expect("querystring request");
    assert_eq!(q_req.query_param("keep").as_deref(), Some("1"));
    assert_eq!(q_req.query_param("Key1").as_deref(), Some("Value 1"));
    assert_eq!(q_req.query_param("Key2").as_deref(), Some("a&b"));
    // Create carries the new id as an output parameter.
    let body = fn_req.body_json();
    assert_eq!(body["MessageName"], "Create");
    assert_eq!(body["OutputParameters"][0]["key"], "id");
    assert_eq!(
        body["OutputParameters"][0]["value"],
        body["PrimaryEntityId"]
    );
    assert_eq!(body["IsInTransaction"], true);
    assert_eq!(body["Mode"], 0);
}

/// Changing a webhook through the Web API (PATCH serviceendpoints) changes
/// what the next delivery does: the new url, the new authentication, for
/// synchronous steps and System Jobs alike; the write-only authvalue is
/// never read back, `isauthvalueset` says whether one is set.
async fn patching_a_webhook_changes_the_next_delivery(s: TestServer) {
    let old = Receiver::start().await;
    let new = Receiver::start().await;
    let hook = register::webhook(&s, "moving", &old.url_for("/old"), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    let job_step = register::step(&s, &hook, "Update", "account", 40, 1, json!({})).await;
    let isauthvalueset = || async {
        let (st, body) = s
            .get(&format!(
                "serviceendpoints({hook})?$select=isauthvalueset,url,authtype"
            ))
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert!(
            body.get("authvalue").is_none(),
            "authvalue is write-only: {body}"
        );
        body["isauthvalueset"].clone()
    };
    assert_eq!(isauthvalueset().await, true);
    s.create("accounts", json!({"name": "first"})).await;
    let got = old.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].header("x-test1"), Some("test1"));

    // The url alone: the next delivery goes there, with the authvalue kept.
    old.clear();
    let (st, body) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"url": new.url_for("/new?fixed=1")}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(isauthvalueset().await, true, "the authvalue is kept");
    s.create("accounts", json!({"name": "second"})).await;
    let got = new.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].path, "/new");
    assert_eq!(got[0].query_param("fixed").as_deref(), Some("1"));
    assert_eq!(got[0].header("x-test2"), Some("test2"));
    assert!(old.requests().is_empty(), "nothing goes to the old url");

    // authtype + authvalue: WebhookKey replaces the headers.
    new.clear();
    let (st, body) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"authtype": 4, "authvalue": "new-key"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(isauthvalueset().await, true);
    let (_, body) = s
        .get(&format!("serviceendpoints({hook})?$select=authtype"))
        .await;
    assert_eq!(body["authtype"], 4);
    let a = s.create("accounts", json!({"name": "third"})).await;
    let got = new.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].query_param("code").as_deref(), Some("new-key"));
    assert_eq!(got[0].query_param("fixed").as_deref(), Some("1"));
    assert!(
        got[0].header("x-test1").is_none(),
        "the old headers are gone"
    );
    // A System Job created now is delivered the same way.
    new.clear();
    s.patch(&format!("accounts({a})"), json!({"name": "third, renamed"}))
        .await;
    job_of(&s, &job_step, 30).await;
    let got = new.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].body_json()["MessageName"], "Update");
    assert_eq!(got[0].query_param("code").as_deref(), Some("new-key"));
    assert!(old.requests().is_empty());

    // An invalid authvalue is refused and changes nothing.
    new.clear();
    let (st, body) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"authtype": 5, "authvalue": "X-Test1: no settings"}),
        )
        .await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("settings"));
    s.create("accounts", json!({"name": "fourth"})).await;
    let got = new.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].query_param("code").as_deref(), Some("new-key"));

    // isauthvalueset is the server's to say, and authvalue cannot be read.
    let (st, body) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"isauthvalueset": false}),
        )
        .await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("isauthvalueset"));
    assert_eq!(isauthvalueset().await, true);
    for query in [
        format!("serviceendpoints({hook})?$select=authvalue"),
        "serviceendpoints?$filter=authvalue eq 'new-key'".to_string(),
    ] {
        let (st, body) = s.get(&query).await;
        assert!(
            odata_error(st, &body, StatusCode::BAD_REQUEST).contains("authvalue"),
            "{query}"
        );
    }
    // Clearing the authvalue would leave the webhook without its key: refused.
    let (st, body) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"authvalue": null}),
        )
        .await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("authvalue"));
    assert_eq!(isauthvalueset().await, true);
}

async fn registration_validation_and_seed_queries(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "requestbin", &rx.url(), 5, HEADERS).await;
    // The seed's query, verbatim (with its odd space after $select=).
    let (st, body) = s
        .get("serviceendpoints?$filter=contract eq 8&$select= serviceendpointid,name,authtype,url")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["name"], "requestbin");
    assert!(body["value"][0].get("authvalue").is_none());
    let (_, body) = s
        .get(&format!("serviceendpoints({hook})?$select=isauthvalueset"))
        .await;
    assert_eq!(body["isauthvalueset"], true);

    let bad = |b: Value| async {
        let (st, _, body) = s.post("serviceendpoints", b).await;
        odata_error(st, &body, StatusCode::BAD_REQUEST)
    };
    assert!(bad(
        json!({"name": "x", "url": "http://x", "contract": 1, "authtype": 4, "authvalue": "k"})
    )
    .await
    .contains("contract"));
    assert!(bad(
        json!({"name": "x", "url": "ftp://x", "contract": 8, "authtype": 4, "authvalue": "k"})
    )
    .await
    .contains("url"));
    assert!(bad(
        json!({"name": "x", "url": "not a url", "contract": 8, "authtype": 4, "authvalue": "k"})
    )
    .await
    .contains("url"));
    assert!(bad(
        json!({"name": "x", "url": "http://x", "contract": 8, "authtype": 5, "authvalue": "K: V"})
    )
    .await
    .contains("settings"));
    let (st, _, body) = s
        .post(
            "serviceendpoints",
            json!({"name": "requestbin", "url": "http://x", "authtype": 4, "authvalue": "k"}),
        )
        .await;
    assert!(odata_error(st, &body, StatusCode::PRECONDITION_FAILED).contains("already exists"));

    let mid = register::message_id(&s, "Create").await;
    let fid = register::filter_id(&s, &mid, "contact").await;
    let step_body = |extra: Value| {
        let mut b = json!({"sdkmessageid@odata.bind": format!("/sdkmessages({mid})"), "sdkmessagefilterid@odata.bind": format!("/sdkmessagefilters({fid})"),
            "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({hook})"), "stage": 40, "mode": 0});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, needle) in [
        (json!({"mode": 1, "stage": 20}), "stage 40"),
        (
            json!({"filteringattributes": "firstname"}),
            "only allowed on Update",
        ),
        (json!({"stage": 30}), "stage"),
    ] {
        let (st, _, body) = s.post("sdkmessageprocessingsteps", step_body(extra)).await;
        let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
        assert!(msg.contains(needle), "{msg} should mention {needle}");
    }
    let step = s
        .create(
            "sdkmessageprocessingsteps",
            step_body(json!({"description": "d", "asyncautodelete": false})),
        )
        .await;
    let (st, _, body) = s.post("sdkmessageprocessingstepimages", json!({"sdkmessageprocessingstepid@odata.bind": format!("/sdkmessageprocessingsteps({step})"), "imagetype": 0, "entityalias": "pre"})).await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("pre-image"));
    let umid = register::message_id(&s, "Update").await;
    let ufid = register::filter_id(&s, &umid, "contact").await;
    let (st, _, body) = s.post("sdkmessageprocessingsteps", json!({"sdkmessageid@odata.bind": format!("/sdkmessages({umid})"), "sdkmessagefilterid@odata.bind": format!("/sdkmessagefilters({ufid})"),
        "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({hook})"), "stage": 40, "filteringattributes": "firstname,nosuch"})).await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("nosuch"));

    // The seed's step queries, verbatim.
    let (st, body) = s.get(&format!("serviceendpoints(@id)/serviceendpoint_sdkmessageprocessingstep?$select=sdkmessageprocessingstepid,name,description,asyncautodelete,filteringattributes,mode,stage?@id={hook}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["sdkmessageprocessingstepid"], step);
    let (st, body) = s.get(&format!("sdkmessageprocessingsteps(@id)?$select=name,description,filteringattributes,asyncautodelete,mode,stage&$expand=plugintypeid($select=friendlyname),eventhandler_serviceendpoint($select=name),sdkmessagefilterid($select=primaryobjecttypecode),sdkmessageid($select=name)?@id={step}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["eventhandler_serviceendpoint"]["name"], "requestbin");
    assert_eq!(body["sdkmessageid"]["name"], "Create");
    assert_eq!(
        body["sdkmessagefilterid"]["primaryobjecttypecode"],
        "contact"
    );
    assert!(body["plugintypeid"]["friendlyname"].is_string());
    let fetch = format!(
        r#"<fetch><entity name="sdkmessageprocessingstep"><attribute name="name" /><attribute name="filteringattributes" /><attribute name="stage" /><attribute name="asyncautodeletename" /><attribute name="description" /><attribute name="mode" /><link-entity name="serviceendpoint" from="serviceendpointid" to="eventhandler" link-type="inner" alias="endpnt"><attribute name="name" /><filter><condition attribute="serviceendpointid" operator="eq" value="{hook}" /></filter></link-entity><link-entity name="sdkmessagefilter" from="sdkmessagefilterid" to="sdkmessagefilterid" link-type="inner" alias="fltr"><attribute name="primaryobjecttypecode" /></link-entity><link-entity name="sdkmessage" from="sdkmessageid" to="sdkmessageid" link-type="inner" alias="msg"><attribute name="name" /></link-entity></entity></fetch>"#
    );
    let (st, _, body) = s
        .send(
            s.request(Method::GET, "sdkmessageprocessingsteps")
                .query(&[("fetchXml", fetch)]),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["endpnt.name"], "requestbin");
    assert_eq!(body["value"][0]["msg.name"], "Create");
    assert_eq!(body["value"][0]["fltr.primaryobjecttypecode"], "contact");
    // A webhook with steps cannot be deleted; its steps can.
    assert_eq!(
        s.delete(&format!("serviceendpoints({hook})")).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.delete(&format!("sdkmessageprocessingsteps({step})"))
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete(&format!("serviceendpoints({hook})")).await,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_unless_allowed() {
    let s = TestServer::start_with(Backend::Sqlite, "ssrf", |c| {
        c.server.allow_private_targets = false
    })
    .await
    .unwrap();
    let rx = Receiver::start().await;
    // Refused at registration (tests/it/targets.rs has every spelling and
    // the refusal at delivery of a webhook registered earlier).
    let (st, _, body) = s
        .post(
            "serviceendpoints",
            json!({"name": "local", "url": rx.url(), "contract": 8, "authtype": 5, "authvalue": HEADERS}),
        )
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(
        msg.contains("loopback") && msg.contains("allow-private-targets"),
        "{msg}"
    );
    assert!(rx.requests().is_empty(), "nothing was sent");
}
