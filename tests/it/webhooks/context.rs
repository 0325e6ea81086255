//! The execution context a receiver gets, field for field: seed 000's
//! asynchronous Update compared with the seed's body in key order, Delete
//! (a reference and the pre-image), Assign and SetState, and a step on a
//! table from the TOML configuration.

use std::time::Duration;

use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::golden;
use super::HEADERS;
use crate::common::{eventually, odata_error, register, TestServer};

both_backends!(
    seed_scenario_async_update_matches_the_seed_shape,
    delete_steps_end_to_end,
    owner_and_state_changes_raise_assign_and_setstate,
);

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
    let schema = s.state.schema();
    let table = schema.table("new_ticket").expect("configured table");
    // The bulk messages (issue 13 item 2) are registrable wherever Create is.
    let mut expected: Vec<&str> = vec![
        "Create",
        "Delete",
        "Update",
        "CreateMultiple",
        "UpdateMultiple",
        "UpsertMultiple",
    ];
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
