//! Webhook registrations, the event pipeline and delivery, against a real
//! loopback receiver, on SQLite and PostgreSQL.

use std::time::Duration;

use crate::common::{self, eventually, golden, odata_error, register, TestServer};
use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(
    seed_scenario_async_update_matches_the_seed_shape,
    each_authtype_is_applied,
    filtering_attributes_decide_whether_a_step_fires,
    stages_and_ranks_run_in_order_with_images_and_impersonation,
    sync_failure_rolls_the_write_back,
    delete_steps_end_to_end,
    prevalidation_failure_stops_the_write,
    patching_a_webhook_changes_the_next_delivery,
    retry_only_on_502_503_504,
    payload_over_256kb_is_trimmed,
    async_payload_over_256kb_is_trimmed,
    notify_payload_over_256kb_is_trimmed,
    registration_validation_and_seed_queries,
    async_failures_are_queryable_as_system_jobs,
    loops_are_stopped_at_depth_8,
    notify_invokes_a_webhook_without_a_step,
    owner_and_state_changes_raise_assign_and_setstate,
);

const HEADERS: &str = r#"<settings><setting name="X-Test1" value="test1" /><setting name="X-Test2" value="test2" /></settings>"#;

async fn seed_scenario_async_update_matches_the_seed_shape(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "requestbin", &rx.url(), 5, HEADERS).await;
    let step = register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        1,
        json!({"rank": 1, "filteringattributes": "firstname,lastname"}),
    )
    .await;
    register::image(
        &s,
        &step,
        1,
        "AsynchronousStepPrimaryName",
        "fullname,contactid",
    )
    .await;
    let contact = s
        .create(
            "contacts",
            json!({"firstname": "Jim", "lastname": "Glynn (sample)"}),
        )
        .await;
    let (st, _) = s
        .patch(
            &format!("contacts({contact})"),
            json!({"firstname": "James"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    let got = rx.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "one request for one update");
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("x-test1"), Some("test1"));
    assert_eq!(r.header("x-test2"), Some("test2"));
    assert_eq!(r.header("x-ms-dynamics-organization"), Some("herald"));
    assert_eq!(r.header("x-ms-dynamics-entity-name"), Some("contact"));
    assert_eq!(r.header("x-ms-dynamics-request-name"), Some("update"));
    assert!(r.header("x-request-id").is_some());
    assert!(r.header("x-ms-correlation-request-id").is_some());
    assert!(r.header("x-ms-dynamics-msg-size-exceeded").is_none());
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let raw = r.body_text();
    assert!(
        raw.contains(r#""Entity:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts""#),
        "Dataverse escapes '/': {raw}"
    );
    assert!(raw.contains(r#"\/Date("#));

    let body = r.body_json();
    // The whole body against the seed's, recursively and in key order, with
    // only run-specific values blanked (see `expected_seed_000`).
    let expected = expected_seed_000(&s);
    golden::assert_same_ordered(
        &golden::blank_run_values(&body),
        &golden::blank_run_values(&expected),
        "$",
    );
    // The blanked values, checked for what they must be in this run.
    assert_eq!(body["PrimaryEntityId"], contact);
    assert_eq!(body["InputParameters"][0]["value"]["Id"], contact);
    assert_eq!(body["OwningExtension"]["Id"], step);
    assert_eq!(body["UserId"], s.state.org.admin_user_id.to_string());
    assert_eq!(
        body["InitiatingUserId"],
        s.state.org.admin_user_id.to_string()
    );
    assert_eq!(
        body["BusinessUnitId"],
        s.state.org.business_unit_id.to_string()
    );
    assert_eq!(
        body["OrganizationId"],
        s.state.org.organization_id.to_string()
    );
    assert_eq!(
        body["CorrelationId"],
        r.header("x-ms-correlation-request-id").unwrap_or_default()
    );
    assert_eq!(
        body["ParentContext"]["CorrelationId"],
        body["CorrelationId"]
    );
    let modifiedon = body["InputParameters"][0]["value"]["Attributes"][4]["value"].clone();
    let (_, row) = s
        .get(&format!("contacts({contact})?$select=modifiedon"))
        .await;
    let stored = chrono::DateTime::parse_from_rfc3339(row["modifiedon"].as_str().unwrap_or(""))
        .map(|t| format!("/Date({})/", t.timestamp_millis()));
    assert_eq!(modifiedon.as_str(), stored.as_deref().ok(), "{row}");
    // The System Job succeeded and is queryable.
    let job = eventually(Duration::from_secs(10), "the job to succeed", || async {
        let (_, b) = s.get(&format!("asyncoperations?$filter=_owningextensionid_value eq {step}&$select=statuscode,statecode,name,createdon,startedon,completedon")).await;
        b["value"].as_array().and_then(|v| v.first().cloned()).filter(|j| j["statuscode"] == 30)
    })
    .await;
    assert_eq!(job["statecode"], 3);
    assert!(job["completedon"].is_string() && job["startedon"].is_string());
    // An async step's OperationId is its System Job.
    assert_eq!(body["OperationId"], job["asyncoperationid"]);
    assert_eq!(
        body["ParentContext"]["OperationId"],
        job["asyncoperationid"]
    );
}

/// Seed 000's body with herald's documented choices applied (README, "What a
/// receiver gets"): the configured organization name at both levels (the
/// seed's `OrgName` / `OneFarm` is an artefact of the docs), and as
/// `ChangedEntityTypes` the tables this operation wrote — the contact — where
/// Dataverse also lists tables its own plug-ins touched.
fn expected_seed_000(s: &TestServer) -> Value {
    let mut seed = golden::seed_000();
    let org = Value::from(s.state.config.server.organization.clone());
    seed["OrganizationName"] = org.clone();
    seed["ParentContext"]["OrganizationName"] = org;
    let changed = &mut seed["ParentContext"]["SharedVariables"][0]["value"];
    let contact = changed
        .as_array()
        .and_then(|a| a.iter().find(|p| p["key"] == "contact").cloned())
        .expect("the seed lists contact among ChangedEntityTypes");
    *changed = Value::Array(vec![contact]);
    seed
}

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

async fn filtering_attributes_decide_whether_a_step_fires(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        0,
        json!({"filteringattributes": "telephone1"}),
    )
    .await;
    let c = s.create("contacts", json!({"lastname": "X"})).await;
    s.patch(&format!("contacts({c})"), json!({"firstname": "no"}))
        .await;
    assert!(
        rx.requests().is_empty(),
        "firstname is not a filtering attribute"
    );
    s.patch(
        &format!("contacts({c})"),
        json!({"telephone1": "555", "firstname": "yes"}),
    )
    .await;
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        got[0].body_json()["InputParameters"][0]["value"]["Attributes"][0]["key"],
        "telephone1"
    );
}

async fn stages_and_ranks_run_in_order_with_images_and_impersonation(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let runner = s
        .create("systemusers", json!({"firstname": "Run", "lastname": "As"}))
        .await;
    let post2 = register::step(
        &s,
        &hook,
        "Update",
        "account",
        40,
        0,
        json!({"rank": 2, "name": "post2"}),
    )
    .await;
    let post1 = register::step(&s, &hook, "Update", "account", 40, 0, json!({"rank": 1, "name": "post1", "impersonatinguserid@odata.bind": format!("/systemusers({runner})")})).await;
    let pre = register::step(
        &s,
        &hook,
        "Update",
        "account",
        20,
        0,
        json!({"rank": 5, "name": "pre"}),
    )
    .await;
    let val = register::step(
        &s,
        &hook,
        "Update",
        "account",
        10,
        0,
        json!({"rank": 9, "name": "val"}),
    )
    .await;
    register::image(&s, &post1, 2, "both", "name").await;
    let a = s
        .create("accounts", json!({"name": "Old", "telephone1": "1"}))
        .await;
    s.patch(&format!("accounts({a})"), json!({"name": "New"}))
        .await;
    let got = rx.wait_for(4, Duration::from_secs(10)).await;
    let order: Vec<String> = got
        .iter()
        .map(|r| {
            r.body_json()["OwningExtension"]["Id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(order, vec![val.clone(), pre, post1.clone(), post2]);
    let stages: Vec<i64> = got
        .iter()
        .map(|r| r.body_json()["Stage"].as_i64().unwrap())
        .collect();
    assert_eq!(stages, vec![10, 20, 40, 40]);
    let b = got[2].body_json();
    assert_eq!(b["UserId"], runner, "Run in User's Context");
    assert_eq!(b["InitiatingUserId"], s.state.org.admin_user_id.to_string());
    let pre_img = &b["PreEntityImages"][0]["value"]["Attributes"];
    let post_img = &b["PostEntityImages"][0]["value"]["Attributes"];
    let val_of = |attrs: &Value, k: &str| {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["key"] == k)
            .map(|x| x["value"].clone())
    };
    assert_eq!(val_of(pre_img, "name"), Some(json!("Old")));
    assert_eq!(val_of(post_img, "name"), Some(json!("New")));
    assert_eq!(
        val_of(post_img, "telephone1"),
        None,
        "only the listed attributes"
    );
    assert_eq!(
        got[0].body_json()["UserId"],
        s.state.org.admin_user_id.to_string()
    );
    // Disabled steps do not run.
    s.patch(
        &format!("sdkmessageprocessingsteps({val})"),
        json!({"statecode": 1, "statuscode": 2}),
    )
    .await;
    rx.clear();
    s.patch(&format!("accounts({a})"), json!({"name": "Newer"}))
        .await;
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    assert!(got.iter().all(|r| r.body_json()["Stage"] != 10));
}

async fn sync_failure_rolls_the_write_back(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(500)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "lead", 40, 0, json!({})).await;
    let (st, _, body) = s.post("leads", json!({"subject": "never stored"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(msg.starts_with("Endpoint unavailable"), "{msg}");
    assert!(msg.contains("500"), "{msg}");
    let (_, list) = s.get("leads?$count=true").await;
    assert_eq!(list["@odata.count"], 0, "the record was rolled back");

    // Pre-operation failures stop the write before it happens; connection refused is explained.
    let port = herald_testkit::free_port();
    let dead = register::webhook(&s, "dead", &port.url(), 5, HEADERS).await;
    register::step(&s, &dead, "Create", "incident", 20, 0, json!({})).await;
    let (st, _, body) = s.post("incidents", json!({"title": "x"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(
        msg.starts_with("Endpoint unavailable") && msg.to_lowercase().contains("connect"),
        "{msg}"
    );
    let (_, list) = s.get("incidents?$count=true").await;
    assert_eq!(list["@odata.count"], 0);
}

async fn delete_steps_end_to_end(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(500)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Delete", "account", 40, 0, json!({})).await;
    register::image(&s, &step, 0, "before", "name,telephone1").await;
    // No post-image on Delete (alone or as Both): the row is gone afterwards.
    for imagetype in [1, 2] {
        let (st, _, body) = s
            .post(
                "sdkmessageprocessingstepimages",
                json!({"sdkmessageprocessingstepid@odata.bind": format!("/sdkmessageprocessingsteps({step})"),
                       "imagetype": imagetype, "entityalias": "after", "name": "after"}),
            )
            .await;
        let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
        assert!(msg.contains("post-image"), "{msg}");
    }
    let a = s
        .create(
            "accounts",
            json!({"name": "Doomed", "telephone1": "555", "description": "not in the image"}),
        )
        .await;

    // The endpoint fails: the delete is rolled back.
    let (st, _, body) = s
        .send(s.request(Method::DELETE, &format!("accounts({a})")))
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(
        msg.starts_with("Endpoint unavailable") && msg.contains("500"),
        "{msg}"
    );
    let (st, row) = s.get(&format!("accounts({a})?$select=name")).await;
    assert_eq!(st, StatusCode::OK, "the record still exists: {row}");
    assert_eq!(row["name"], "Doomed");
    assert_eq!(rx.requests().len(), 1, "500 is not retried");

    // The endpoint accepts: the row is deleted and the receiver got a reference and the pre-image.
    rx.clear();
    rx.respond(Behavior::status(200));
    assert_eq!(
        s.delete(&format!("accounts({a})")).await,
        StatusCode::NO_CONTENT
    );
    let (st, _) = s.get(&format!("accounts({a})")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-ms-dynamics-request-name"), Some("delete"));
    assert_eq!(got[0].header("x-ms-dynamics-entity-name"), Some("account"));
    let b = got[0].body_json();
    assert_eq!(b["MessageName"], "Delete");
    assert_eq!(b["Stage"], 40);
    assert_eq!(b["Mode"], 0);
    assert_eq!(b["IsInTransaction"], true);
    assert_eq!(b["PrimaryEntityId"], a);
    assert_eq!(b["OwningExtension"]["Id"], step);
    let target = &b["InputParameters"][0];
    assert_eq!(target["key"], "Target");
    golden::assert_same_ordered(
        &target["value"],
        &json!({
            "__type": "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts",
            "Id": a,
            "KeyAttributes": [],
            "LogicalName": "account",
            "Name": null,
            "RowVersion": null
        }),
        "$.InputParameters[0].value",
    );
    assert_eq!(b["InputParameters"].as_array().map(Vec::len), Some(1));
    assert_eq!(b["PostEntityImages"], json!([]));
    let image = &b["PreEntityImages"][0];
    assert_eq!(image["key"], "before");
    assert!(image["value"].get("__type").is_none());
    assert_eq!(image["value"]["LogicalName"], "account");
    assert_eq!(image["value"]["Id"], a);
    golden::assert_same_ordered(
        &image["value"]["Attributes"],
        &json!([
            {"key": "name", "value": "Doomed"},
            {"key": "telephone1", "value": "555"},
            {"key": "accountid", "value": a}
        ]),
        "$.PreEntityImages[0].value.Attributes",
    );
    let parent = &b["ParentContext"];
    assert_eq!(parent["Stage"], 30);
    assert_eq!(parent["InputParameters"][0]["value"]["Id"], a);
    assert_eq!(parent["PreEntityImages"], json!([]));
}

async fn prevalidation_failure_stops_the_write(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(503)).await;
    let hook = register::webhook(&s, "validate", &rx.url_for("/stage10"), 5, HEADERS).await;
    let later = register::webhook(&s, "later", &rx.url_for("/stage40"), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "lead", 10, 0, json!({})).await;
    register::step(&s, &later, "Create", "lead", 40, 0, json!({})).await;
    let (st, _, body) = s.post("leads", json!({"subject": "stopped at 10"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(
        msg.starts_with("Endpoint unavailable") && msg.contains("503"),
        "{msg}"
    );
    let (_, list) = s.get("leads?$count=true").await;
    assert_eq!(list["@odata.count"], 0, "no record was written");
    let got = rx.requests();
    assert!(
        got.iter().all(|r| r.path == "/stage10"),
        "stage 40 never ran"
    );
    assert_eq!(got.len(), 2, "503 got exactly one more attempt");
    let b = got[0].body_json();
    assert_eq!(b["Stage"], 10);
    assert_eq!(
        b["IsInTransaction"], false,
        "PreValidation runs outside the transaction"
    );
    assert_eq!(b["OutputParameters"], json!([]));

    // Once the endpoint accepts, the same write goes through both stages.
    rx.clear();
    rx.respond(Behavior::status(200));
    let id = s.create("leads", json!({"subject": "passes"})).await;
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/stage10", "/stage40"]);
    assert_eq!(got[1].body_json()["PrimaryEntityId"], id);
}

/// A synchronous step whose endpoint never answers, with the delivery
/// timeout configured to 300 ms: the write fails with a message naming the
/// timeout, after about that long, and is rolled back (Create and Update).
async fn sync_timeout_rolls_the_write_back(s: TestServer) {
    let rx = Receiver::start_with(Behavior::Hang).await;
    let hook = register::webhook(&s, "slow", &rx.url(), 5, HEADERS).await;
    let c = s.create("contacts", json!({"lastname": "Before"})).await;
    register::step(&s, &hook, "Create", "contact", 40, 0, json!({})).await;
    register::step(&s, &hook, "Update", "contact", 20, 0, json!({})).await;

    let started = std::time::Instant::now();
    let (st, _, body) = s.post("contacts", json!({"lastname": "Never"})).await;
    let took = started.elapsed();
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(msg.starts_with("Endpoint unavailable"), "{msg}");
    assert!(msg.contains("timeout") && msg.contains("300"), "{msg}");
    assert!(took >= Duration::from_millis(300), "gave up after {took:?}");
    assert!(
        took < Duration::from_secs(10),
        "the configured timeout applies: {took:?}"
    );
    assert_eq!(rx.requests().len(), 1, "a timeout is not retried");
    let (_, list) = s
        .get("contacts?$filter=lastname eq 'Never'&$count=true")
        .await;
    assert_eq!(list["@odata.count"], 0, "the create was rolled back");

    let (st, body) = s
        .patch(&format!("contacts({c})"), json!({"lastname": "After"}))
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(msg.contains("timeout"), "{msg}");
    let (_, row) = s.get(&format!("contacts({c})?$select=lastname")).await;
    assert_eq!(row["lastname"], "Before", "the update was rolled back");
}

fn short_timeout(c: &mut herald_server::config::Config) {
    c.delivery.timeout = Duration::from_millis(300);
}

both_backends!(tweak = short_timeout; sync_timeout_rolls_the_write_back);

/// A table from the TOML configuration is an event source like the built-in
/// ones: it gets its sdkmessagefilter rows, and a Create step on it fires
/// with its columns in their Dataverse shapes.
fn ticket_table() -> herald_core::schema::UserTableConfig {
    toml::from_str(
        r#"
        logical_name = "new_ticket"
        primary_name = "new_name"
        [columns]
        new_name = "string(100)"
        new_amount = "money"
        new_priority = "choice(1:Low,2:High)"
        new_accountid = "lookup(account)"
        "#,
    )
    .expect("the ticket table's TOML")
}

async fn user_table_steps_fire(s: TestServer) {
    let table = s
        .state
        .schema
        .table("new_ticket")
        .expect("configured table");
    let mut expected: Vec<&str> = vec!["Create", "Delete", "Update"];
    if table.column("ownerid").is_some() {
        expected.push("Assign");
    }
    if table.column("statecode").is_some() {
        expected.push("SetState");
    }
    expected.sort_unstable();
    let (st, body) = s
        .get("sdkmessagefilters?$select=primaryobjecttypecode,secondaryobjecttypecode&$filter=primaryobjecttypecode eq 'new_ticket'&$expand=sdkmessageid($select=name)")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let rows = body["value"].as_array().cloned().unwrap_or_default();
    let mut messages: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["sdkmessageid"]["name"].as_str())
        .collect();
    messages.sort_unstable();
    assert_eq!(messages, expected, "{body}");
    assert!(rows.iter().all(|r| r["secondaryobjecttypecode"] == "none"));

    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "tickets", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Create", "new_ticket", 40, 0, json!({})).await;
    register::image(&s, &step, 1, "created", "new_name,new_priority").await;
    let account = s.create("accounts", json!({"name": "Contoso"})).await;
    let id = s
        .create(
            "new_tickets",
            json!({"new_name": "Printer on fire", "new_amount": 12.5, "new_priority": 2,
                   "new_accountid@odata.bind": format!("/accounts({account})")}),
        )
        .await;
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("x-ms-dynamics-entity-name"),
        Some("new_ticket")
    );
    assert_eq!(got[0].header("x-ms-dynamics-request-name"), Some("create"));
    let b = got[0].body_json();
    assert_eq!(b["MessageName"], "Create");
    assert_eq!(b["PrimaryEntityName"], "new_ticket");
    assert_eq!(b["PrimaryEntityId"], id);
    assert_eq!(b["OwningExtension"]["Id"], step);
    assert_eq!(b["OutputParameters"][0]["value"], id);
    let target = &b["InputParameters"][0]["value"];
    assert_eq!(target["LogicalName"], "new_ticket");
    let attr = |k: &str| {
        target["Attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["key"] == k))
            .map(|x| x["value"].clone())
            .unwrap_or_else(|| panic!("no {k} in {target}"))
    };
    assert_eq!(attr("new_name"), "Printer on fire");
    assert_eq!(
        attr("new_amount"),
        json!({"__type": "Money:http://schemas.microsoft.com/xrm/2011/Contracts", "Value": 12.5})
    );
    assert_eq!(
        attr("new_priority"),
        json!({"__type": "OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts", "Value": 2})
    );
    assert_eq!(attr("new_accountid")["LogicalName"], "account");
    assert_eq!(attr("new_accountid")["Id"], account);
    assert_eq!(attr("new_ticketid"), id);
    let image = &b["PostEntityImages"][0]["value"];
    assert_eq!(
        image["FormattedValues"],
        json!([{"key": "new_priority", "value": "High"}])
    );
}

both_backends!(tweak = |c| c.tables = vec![ticket_table()]; user_table_steps_fire);

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
    common::job_of(&s, &job_step, 30).await;
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

async fn retry_only_on_502_503_504(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "opportunity", 40, 0, json!({})).await;
    for status in [502u16, 503, 504] {
        rx.clear();
        rx.respond(Behavior::statuses([status], Behavior::status(200)));
        s.create("opportunities", json!({"name": format!("after {status}")}))
            .await;
        assert_eq!(
            rx.requests().len(),
            2,
            "{status} gets exactly one more attempt"
        );
        rx.clear();
        rx.respond(Behavior::status(status));
        let (st, _, body) = s.post("opportunities", json!({"name": "fails"})).await;
        odata_error(st, &body, StatusCode::BAD_GATEWAY);
        assert_eq!(rx.requests().len(), 2, "{status} twice and then give up");
    }
    rx.clear();
    rx.respond(Behavior::status(500));
    let (st, _, body) = s.post("opportunities", json!({"name": "fails"})).await;
    odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert_eq!(rx.requests().len(), 1, "500 is not retried");
}

/// A request whose body went over 256 KB: flagged, and without the four
/// properties Dataverse removes — the keys are gone, the others in order.
fn assert_trimmed(r: &herald_testkit::Captured, message: &str) {
    assert_eq!(r.header("x-ms-dynamics-msg-size-exceeded"), Some("true"));
    assert!(r.body.len() < 262_144, "{} bytes", r.body.len());
    let body = r.body_json();
    let removed = [
        "ParentContext",
        "InputParameters",
        "PreEntityImages",
        "PostEntityImages",
    ];
    let expected: Vec<String> = golden::seed_000()
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !removed.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let got: Vec<String> = body
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(
        got, expected,
        "the four properties are removed, nothing else"
    );
    assert_eq!(body["MessageName"], message);
}

async fn payload_over_256kb_is_trimmed(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    register::image(&s, &step, 1, "post", "name").await;
    s.create("accounts", json!({"name": "small"})).await;
    let big = s
        .create(
            "accounts",
            json!({"name": "big", "description": "x".repeat(300_000)}),
        )
        .await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert!(got[0].header("x-ms-dynamics-msg-size-exceeded").is_none());
    let small = got[0].body_json();
    assert!(small["ParentContext"].is_object() && small["PostEntityImages"][0].is_object());
    assert_trimmed(&got[1], "Create");
    assert_eq!(got[1].body_json()["PrimaryEntityId"], big);
    assert_eq!(got[1].body_json()["OutputParameters"][0]["value"], big);
}

async fn async_payload_over_256kb_is_trimmed(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(&s, &hook, "Update", "account", 40, 1, json!({})).await;
    register::image(&s, &step, 2, "both", "").await;
    let a = s.create("accounts", json!({"name": "a"})).await;
    let (st, _) = s
        .patch(
            &format!("accounts({a})"),
            json!({"description": "y".repeat(300_000)}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let got = rx.wait_for(1, Duration::from_secs(20)).await;
    assert_trimmed(&got[0], "Update");
    assert_eq!(got[0].body_json()["Mode"], 1);
    // The System Job succeeded; its stored context is the whole one.
    let job = common::job_of(&s, &step, 30).await;
    let id = job["asyncoperationid"].as_str().unwrap_or_default();
    let (_, row) = s.get(&format!("asyncoperations({id})?$select=data")).await;
    let data: Value =
        serde_json::from_str(row["data"].as_str().unwrap_or("null")).unwrap_or_default();
    assert!(
        data["ParentContext"].is_object(),
        "the job keeps the full context"
    );
    assert_eq!(data["PostEntityImages"][0]["key"], "both");
}

/// The bound `herald_Notify` action: invoke the webhook with `ctx`.
async fn notify(
    s: &TestServer,
    hook: &str,
    ctx: Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    s.post(
        &format!("serviceendpoints({hook})/Microsoft.Dynamics.CRM.herald_Notify"),
        ctx,
    )
    .await
}

async fn notify_payload_over_256kb_is_trimmed(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "fn", &rx.url(), 4, "k").await;
    let mut ctx = golden::seed_000();
    ctx["InputParameters"][0]["value"]["Attributes"][0]["value"] = json!("z".repeat(300_000));
    let (st, _, body) = notify(&s, &hook, ctx.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_trimmed(&got[0], "Update");
    let mut expected = ctx;
    if let Some(m) = expected.as_object_mut() {
        for k in [
            "ParentContext",
            "InputParameters",
            "PreEntityImages",
            "PostEntityImages",
        ] {
            m.shift_remove(k);
        }
    }
    golden::assert_same_ordered(&got[0].body_json(), &expected, "$");
    // A small context goes as it was sent.
    rx.clear();
    let small = golden::seed_000();
    let (st, _, _) = s
        .post(
            &format!("serviceendpoints({hook})/herald_Notify"),
            small.clone(),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert!(got[0].header("x-ms-dynamics-msg-size-exceeded").is_none());
    golden::assert_same_ordered(&got[0].body_json(), &small, "$");
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

async fn async_failures_are_queryable_as_system_jobs(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(503)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let step = register::step(
        &s,
        &hook,
        "Create",
        "contact",
        40,
        1,
        json!({"name": "failing step"}),
    )
    .await;
    let ok_step = register::step(
        &s,
        &hook,
        "Update",
        "contact",
        40,
        1,
        json!({"name": "autodeleted", "asyncautodelete": true}),
    )
    .await;
    let c = s.create("contacts", json!({"lastname": "Async"})).await;
    // The seed's query, verbatim.
    let url = format!("asyncoperations?$orderby=completedon desc&$filter=statuscode eq 31 and _owningextensionid_value eq @stepid&$select=name,friendlymessage,errorcode,message,completedon?@stepid={step}");
    let failed = eventually(Duration::from_secs(10), "a failed job", || async {
        let (st, b) = s.get(&url).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        b["value"].as_array().and_then(|v| v.first().cloned())
    })
    .await;
    assert_eq!(failed["name"], "failing step");
    assert!(
        failed["message"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    assert!(failed["friendlymessage"].is_string());
    assert!(failed["errorcode"].is_i64());
    assert_eq!(rx.requests().len(), 2, "503 got exactly one more attempt");
    // Succeeded jobs of an asyncautodelete step are deleted.
    rx.respond(Behavior::status(200));
    s.patch(&format!("contacts({c})"), json!({"firstname": "x"}))
        .await;
    rx.wait_for(3, Duration::from_secs(10)).await;
    eventually(
        Duration::from_secs(10),
        "the succeeded job to be deleted",
        || async {
            let (_, b) = s
                .get(&format!(
                    "asyncoperations?$filter=_owningextensionid_value eq {ok_step}&$count=true"
                ))
                .await;
            (b["@odata.count"] == 0).then_some(())
        },
    )
    .await;
}

async fn loops_are_stopped_at_depth_8(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Update", "account", 40, 0, json!({})).await;
    let a = s.create("accounts", json!({"name": "loop"})).await;
    s.patch(&format!("accounts({a})"), json!({"name": "0"}))
        .await;
    let mut correlation = rx.wait_for(1, Duration::from_secs(5)).await[0]
        .header("x-ms-correlation-request-id")
        .unwrap()
        .to_string();
    // A receiver that writes back echoes the correlation id: depth grows by one each time.
    for depth in 2..=8 {
        let (st, _, body) = s
            .send(
                s.request(Method::PATCH, &format!("accounts({a})"))
                    .header("x-ms-correlation-request-id", &correlation)
                    .json(&json!({"name": depth.to_string()})),
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "depth {depth}: {body}");
        let got = rx.wait_for(depth as usize, Duration::from_secs(5)).await;
        let last = got.last().unwrap();
        assert_eq!(last.body_json()["Depth"], depth);
        correlation = last
            .header("x-ms-correlation-request-id")
            .unwrap()
            .to_string();
    }
    let (st, _, body) = s
        .send(
            s.request(Method::PATCH, &format!("accounts({a})"))
                .header("x-ms-correlation-request-id", &correlation)
                .json(&json!({"name": "9"})),
        )
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(msg.contains("infinite loop"), "{msg}");
}

async fn notify_invokes_a_webhook_without_a_step(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status_with_body(200, "handled: 42")).await;
    let hook = register::webhook(&s, "fn", &rx.url_for("/api/fn"), 4, "secret-key").await;
    let ctx = json!({"CorrelationId": "b374239d-4233-41a9-8b17-a86cb4f737b5", "MessageName": "Update", "PrimaryEntityName": "contact", "Depth": 1});
    let (st, _, body) = notify(&s, &hook, ctx.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "handled: 42");
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].query_param("code").as_deref(), Some("secret-key"));
    assert_eq!(got[0].header("x-ms-dynamics-request-name"), Some("update"));
    assert_eq!(
        got[0].header("x-ms-correlation-request-id"),
        Some("b374239d-4233-41a9-8b17-a86cb4f737b5")
    );
    assert_eq!(got[0].body_json(), ctx);
    rx.respond(Behavior::status(504));
    let (st, _, body) = s
        .post(&format!("serviceendpoints({hook})/herald_Notify"), ctx)
        .await;
    assert!(odata_error(st, &body, StatusCode::BAD_GATEWAY).starts_with("Endpoint unavailable"));
    assert_eq!(rx.requests().len(), 3, "504 got one more attempt");
    let (st, _, body) = s
        .post(
            &format!("serviceendpoints({})/herald_Notify", uuid::Uuid::new_v4()),
            json!({}),
        )
        .await;
    odata_error(st, &body, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_unless_allowed() {
    let s = TestServer::start_with(common::Backend::Sqlite, "ssrf", |c| {
        c.server.allow_private_targets = false
    })
    .await
    .unwrap();
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "local", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "account", 40, 0, json!({})).await;
    let (st, _, body) = s.post("accounts", json!({"name": "x"})).await;
    let msg = odata_error(st, &body, StatusCode::BAD_GATEWAY);
    assert!(
        msg.contains("loopback") && msg.contains("allow-private-targets"),
        "{msg}"
    );
    assert!(rx.requests().is_empty(), "nothing was sent");
}

async fn owner_and_state_changes_raise_assign_and_setstate(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    let assign = register::step(&s, &hook, "Assign", "account", 40, 0, json!({})).await;
    let setstate = register::step(&s, &hook, "SetState", "account", 40, 0, json!({})).await;
    let user = s
        .create(
            "systemusers",
            json!({"firstname": "New", "lastname": "Owner"}),
        )
        .await;
    let a = s.create("accounts", json!({"name": "A"})).await;
    s.patch(&format!("accounts({a})"), json!({"name": "renamed"}))
        .await;
    assert!(
        rx.requests().is_empty(),
        "a plain update is neither Assign nor SetState"
    );

    let (st, _) = s
        .patch(
            &format!("accounts({a})"),
            json!({"ownerid@odata.bind": format!("/systemusers({user})")}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    let b = got[0].body_json();
    assert_eq!(got[0].header("x-ms-dynamics-request-name"), Some("assign"));
    assert_eq!(b["MessageName"], "Assign");
    assert_eq!(b["OwningExtension"]["Id"], assign);
    assert_eq!(b["InputParameters"][0]["key"], "Target");
    assert_eq!(
        b["InputParameters"][0]["value"]["__type"],
        "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts"
    );
    assert_eq!(b["InputParameters"][0]["value"]["Id"], a);
    assert_eq!(b["InputParameters"][1]["key"], "Assignee");
    assert_eq!(b["InputParameters"][1]["value"]["Id"], user);

    rx.clear();
    let (st, _) = s
        .patch(
            &format!("accounts({a})"),
            json!({"statecode": 1, "statuscode": 2}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let got = rx.wait_for(1, Duration::from_secs(5)).await;
    let b = got[0].body_json();
    assert_eq!(b["MessageName"], "SetState");
    assert_eq!(b["OwningExtension"]["Id"], setstate);
    let keys: Vec<&str> = b["InputParameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["EntityMoniker", "State", "Status"]);
    assert_eq!(b["InputParameters"][1]["value"]["Value"], 1);
    assert_eq!(b["InputParameters"][2]["value"]["Value"], 2);
    assert_eq!(b["PrimaryEntityId"], a);
}

#[test]
fn golden_blanking_keeps_identity_and_date_style() {
    let v: Value = serde_json::from_str(
        r#"{"a":"6D81597F-0F9F-E711-8122-000D3AA2331C","b":"75c2dd85-e89e-e711-8122-000d3aa2331c","c":"6d81597f-0f9f-e711-8122-000d3aa2331c","d":"\/Date(1506384247000)\/","e":"\/Date(1506409448000-0700)\/","f":"James"}"#,
    )
    .expect("json");
    assert_eq!(
        golden::blank_run_values(&v).to_string(),
        r#"{"a":"guid#1","b":"guid#2","c":"guid#1","d":"/Date(ms)/","e":"/Date(ms±offset)/","f":"James"}"#
    );
}

#[test]
#[should_panic(expected = "keys (in order) differ at $.x")]
fn golden_comparison_sees_key_order() {
    let a = json!({"x": {"a": 1, "b": 2}});
    let b = json!({"x": {"b": 2, "a": 1}});
    assert_eq!(a, b, "serde_json's == alone does not see the difference");
    golden::assert_same_ordered(&a, &b, "$");
}
