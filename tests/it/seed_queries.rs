//! Every query printed in the seeds (Web API and FetchXML), verbatim — only
//! `[organization URI]` and the `<id>` placeholders are substituted — on
//! SQLite and PostgreSQL, with the same answers on both.

use std::time::Duration;

use crate::common::{eventually, register, TestServer};
use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(seed_queries_work_verbatim);

const REGISTRATIONS_FETCH: &str = r#"<fetch>
  <entity name="serviceendpoint" >
    <attribute name="serviceendpointid" />
    <attribute name="name" />
    <attribute name="authtype" />
    <attribute name="url" />
    <filter>
      <condition attribute="contract" operator="eq" value="8" />
    </filter>
  </entity>
</fetch> "#;

const STEPS_FETCH: &str = r#"<fetch>
  <entity name="sdkmessageprocessingstep" >
    <attribute name="name" />
    <attribute name="filteringattributes" />
    <attribute name="stage" />
    <attribute name="asyncautodeletename" />
    <attribute name="description" />
    <attribute name="mode" />
    <link-entity name="serviceendpoint" from="serviceendpointid" to="eventhandler" link-type="inner" alias="endpnt" >
      <attribute name="name" />
      <filter>
        <condition attribute="serviceendpointid" operator="eq" value="<serviceendpointid>" />
      </filter>
    </link-entity>
    <link-entity name="sdkmessagefilter" from="sdkmessagefilterid" to="sdkmessagefilterid" link-type="inner" alias="fltr" >
      <attribute name="primaryobjecttypecode" />
    </link-entity>
    <link-entity name="sdkmessage" from="sdkmessageid" to="sdkmessageid" link-type="inner" alias="msg" >
      <attribute name="name" />
    </link-entity>
  </entity>
</fetch>
"#;

const FAILED_JOBS_FETCH: &str = r#"<fetch>
  <entity name="asyncoperation" >
    <attribute name="name" />
    	<attribute name="friendlymessage" />
    <attribute name="errorcode" />
    <attribute name="message" />
    <attribute name="completedon" />     
    <filter>
      <condition attribute="owningextensionid" operator="eq" value="<stepid>" />
    </filter>
    <order attribute="completedon" descending="true" />
  </entity>
</fetch>"#;

async fn fetch(s: &TestServer, set: &str, xml: &str) -> Value {
    let (st, _, body) = s
        .send(
            s.request(Method::GET, &format!("{}/api/data/v9.0/{set}", s.base))
                .query(&[("fetchXml", xml)]),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

async fn seed_queries_work_verbatim(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(500)).await;
    let hook = register::webhook(
        &s,
        "requestbin",
        &rx.url(),
        5,
        r#"<settings><setting name="X-Test1" value="test1" /></settings>"#,
    )
    .await;
    let other = register::webhook(&s, "other", &rx.url(), 4, "key").await;
    let step = register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        1,
        json!({"filteringattributes": "firstname,lastname", "description": "seed step", "rank": 1}),
    )
    .await;
    register::step(&s, &other, "Create", "account", 40, 1, json!({})).await;
    let c = s
        .create(
            "contacts",
            json!({"firstname": "Jim", "lastname": "Glynn (sample)"}),
        )
        .await;
    s.patch(&format!("contacts({c})"), json!({"firstname": "James"}))
        .await;
    eventually(Duration::from_secs(15), "the failed job", || async {
        let (_, b) = s
            .get(&format!(
                "asyncoperations?$filter=statuscode eq 31 and _owningextensionid_value eq {step}"
            ))
            .await;
        (b["value"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    let v90 = |q: &str| format!("{}/api/data/v9.0/{}", s.base, q);

    // Query webhook registrations (Web API + FetchXML).
    let (st, body) = s
        .get(&v90(
            "serviceendpoints?$filter=contract eq 8&$select= serviceendpointid,name,authtype,url",
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    let names: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"requestbin") && names.contains(&"other"));
    let body = fetch(&s, "serviceendpoints", REGISTRATIONS_FETCH).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    assert!(body["value"][0].get("authvalue").is_none());

    // Query steps registered for a webhook (two Web API queries + FetchXML).
    let (st, body) = s.get(&v90(&format!("serviceendpoints(@id)/serviceendpoint_sdkmessageprocessingstep?$select=sdkmessageprocessingstepid,name,description,asyncautodelete,filteringattributes,mode,stage?@id={hook}"))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["value"][0]["filteringattributes"],
        "firstname,lastname"
    );
    assert_eq!(body["value"][0]["mode"], 1);
    assert_eq!(body["value"][0]["stage"], 40);
    let (st, body) = s.get(&v90(&format!("sdkmessageprocessingsteps(@id)?$select=name,description,filteringattributes,asyncautodelete,mode,stage&$expand=plugintypeid($select=friendlyname),eventhandler_serviceendpoint($select=name),sdkmessagefilterid($select=primaryobjecttypecode),sdkmessageid($select=name)?@id={step}"))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["description"], "seed step");
    assert_eq!(body["eventhandler_serviceendpoint"]["name"], "requestbin");
    assert_eq!(body["sdkmessageid"]["name"], "Update");
    assert_eq!(
        body["sdkmessagefilterid"]["primaryobjecttypecode"],
        "contact"
    );
    let body = fetch(
        &s,
        "sdkmessageprocessingsteps",
        &STEPS_FETCH.replace("<serviceendpointid>", &hook),
    )
    .await;
    let rows = body["value"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(rows[0]["endpnt.name"], "requestbin");
    assert_eq!(rows[0]["fltr.primaryobjecttypecode"], "contact");
    assert_eq!(rows[0]["msg.name"], "Update");
    assert_eq!(rows[0]["filteringattributes"], "firstname,lastname");

    // Query failed asynchronous jobs for a given step (Web API + FetchXML).
    let (st, body) = s.get(&v90(&format!("asyncoperations?$orderby=completedon desc&$filter=statuscode eq 31 and _owningextensionid_value eq @stepid&$select=name,friendlymessage,errorcode,message,completedon?@stepid={step}"))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert!(body["value"][0]["message"]
        .as_str()
        .unwrap()
        .contains("500"));
    let body = fetch(
        &s,
        "asyncoperations",
        &FAILED_JOBS_FETCH.replace("<stepid>", &step),
    )
    .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "{body}");
    assert!(body["value"][0]["friendlymessage"].is_string());
}
