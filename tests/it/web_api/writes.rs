//! Writing rows: create (with representation and a client id), update,
//! upsert, delete, the conditional headers (If-Match / If-None-Match), and
//! a table from the TOML configuration written and read like a built-in one.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{odata_error, TestServer};

both_backends!(
    contact_lifecycle,
    create_with_representation_and_client_id,
    upsert_and_conditional_headers,
    conditional_create_and_delete,
);

async fn contact_lifecycle(s: TestServer) {
    let account = s.create("accounts", json!({"name": "Fabrikam"})).await;
    let contact = s
        .create(
            "contacts",
            json!({"firstname": "Jim", "lastname": "Glynn", "emailaddress1": "jim@example.com",
                   "parentcustomerid_account@odata.bind": format!("/accounts({account})")}),
        )
        .await;
    s.create("contacts", json!({"firstname": "Ann", "lastname": "Glass"}))
        .await;

    let (st, body) = s
        .get(&format!(
            "contacts({contact})?$select=firstname,lastname,fullname,_parentcustomerid_value"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["firstname"], "Jim");
    assert_eq!(body["fullname"], "Jim Glynn");
    assert_eq!(body["_parentcustomerid_value"], account);
    assert_eq!(body["@odata.etag"], "W/\"1\"");
    assert!(body["@odata.context"].as_str().unwrap().ends_with(
        "$metadata#contacts(firstname,lastname,fullname,_parentcustomerid_value)/$entity"
    ));
    assert!(
        body.get("emailaddress1").is_none(),
        "$select limits the columns"
    );

    let (st, body) = s
        .get(&format!("contacts?$select=fullname&$filter=startswith(lastname,'Gl') and _parentcustomerid_value eq {account}"))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let rows = body["value"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{body}");
    assert_eq!(rows[0]["contactid"], contact);

    let (st, _) = s
        .patch(
            &format!("contacts({contact})"),
            json!({"firstname": "James"}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, body) = s.get(&format!("contacts({contact})")).await;
    assert_eq!(body["fullname"], "James Glynn");
    assert_eq!(body["versionnumber"], 2);
    assert_eq!(
        body["_modifiedby_value"],
        s.state.org.admin_user_id.to_string()
    );

    assert_eq!(
        s.delete(&format!("contacts({contact})")).await,
        StatusCode::NO_CONTENT
    );
    let (st, body) = s.get(&format!("contacts({contact})")).await;
    let msg = odata_error(st, &body, StatusCode::NOT_FOUND);
    assert_eq!(msg, format!("contact With Id = {contact} Does Not Exist"));
    assert_eq!(
        s.delete(&format!("contacts({contact})")).await,
        StatusCode::NOT_FOUND
    );
}

async fn create_with_representation_and_client_id(s: TestServer) {
    let id = "6d81597f-0f9f-e711-8122-000d3aa2331c";
    let (st, headers, body) = s
        .send(
            s.request(Method::POST, "contacts?$select=firstname,contactid")
                .header("Prefer", "return=representation")
                .json(&json!({"contactid": id, "firstname": "Jim", "birthdate": "1980-02-01", "creditlimit": 1500.5, "gendercode": 1})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["contactid"], id);
    assert_eq!(body["firstname"], "Jim");
    assert!(headers
        .get("odata-entityid")
        .unwrap()
        .to_str()
        .unwrap()
        .ends_with(&format!("contacts({id})")));
    let (_, _, body) = s
        .send(
            s.request(Method::GET, &format!("contacts({id})"))
                .header("Prefer", "odata.include-annotations=\"*\""),
        )
        .await;
    assert_eq!(body["birthdate"], "1980-02-01T00:00:00Z");
    assert_eq!(body["creditlimit"], 1500.5);
    assert_eq!(
        body["gendercode@OData.Community.Display.V1.FormattedValue"],
        "Male"
    );
    assert_eq!(
        body["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "systemuser"
    );
    // The same id again is a duplicate.
    let (st, _, body) = s.post("contacts", json!({"contactid": id})).await;
    odata_error(st, &body, StatusCode::PRECONDITION_FAILED);
}

async fn upsert_and_conditional_headers(s: TestServer) {
    let id = uuid::Uuid::new_v4();
    // PATCH on a missing row with If-Match: * is update-only → 404.
    let (st, _, body) = s
        .send(
            s.request(Method::PATCH, &format!("accounts({id})"))
                .header("If-Match", "*")
                .json(&json!({"name": "A"})),
        )
        .await;
    odata_error(st, &body, StatusCode::NOT_FOUND);
    // Plain PATCH upserts (creates).
    let (st, _) = s
        .patch(&format!("accounts({id})"), json!({"name": "A"}))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = s.get(&format!("accounts({id})?$select=name")).await;
    assert_eq!((st, body["name"].clone()), (StatusCode::OK, json!("A")));
    // If-None-Match: * is create-only → 412 now.
    let (st, _, body) = s
        .send(
            s.request(Method::PATCH, &format!("accounts({id})"))
                .header("If-None-Match", "*")
                .json(&json!({"name": "B"})),
        )
        .await;
    odata_error(st, &body, StatusCode::PRECONDITION_FAILED);
    // Optimistic concurrency.
    let (st, _, body) = s
        .send(
            s.request(Method::PATCH, &format!("accounts({id})"))
                .header("If-Match", "W/\"7\"")
                .json(&json!({"name": "B"})),
        )
        .await;
    odata_error(st, &body, StatusCode::PRECONDITION_FAILED);
    let (st, _, body) = s
        .send(
            s.request(Method::PATCH, &format!("accounts({id})?$select=name"))
                .header("If-Match", "W/\"1\"")
                .header("Prefer", "return=representation")
                .json(&json!({"name": "B"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "B");
    assert_eq!(body["@odata.etag"], "W/\"2\"");
}

async fn conditional_create_and_delete(s: TestServer) {
    // If-None-Match: * on a missing row creates it.
    let id = uuid::Uuid::new_v4();
    let (st, _, body) = s
        .send(
            s.request(Method::PATCH, &format!("accounts({id})"))
                .header("If-None-Match", "*")
                .json(&json!({"name": "Created"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, body) = s.get(&format!("accounts({id})?$select=name")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["name"], "Created");
    assert_eq!(body["@odata.etag"], "W/\"1\"");
    s.patch(&format!("accounts({id})"), json!({"name": "Changed"}))
        .await;
    // DELETE with a stale If-Match is refused and deletes nothing.
    let (st, _, body) = s
        .send(
            s.request(Method::DELETE, &format!("accounts({id})"))
                .header("If-Match", "W/\"1\""),
        )
        .await;
    odata_error(st, &body, StatusCode::PRECONDITION_FAILED);
    let (st, _) = s.get(&format!("accounts({id})")).await;
    assert_eq!(st, StatusCode::OK, "still there");
    // With the current etag it goes.
    let (st, _, body) = s
        .send(
            s.request(Method::DELETE, &format!("accounts({id})"))
                .header("If-Match", "W/\"2\""),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, _) = s.get(&format!("accounts({id})")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// A user table declared in the TOML config behaves like a built-in one.
async fn user_table_round_trip(s: TestServer) {
    let account = s.create("accounts", json!({"name": "Owner"})).await;
    let id = s
        .create(
            "new_projects",
            json!({"new_name": "Apollo", "new_budget": 1250.5, "new_phase": 2,
                   "new_accountid@odata.bind": format!("/accounts({account})")}),
        )
        .await;
    let (st, body) = s.get("new_projects?$select=new_name,new_budget,_new_accountid_value&$filter=new_phase eq 2 and startswith(new_name,'apo')").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["new_projectid"], id);
    assert_eq!(body["value"][0]["new_budget"], 1250.5);
    assert_eq!(body["value"][0]["_new_accountid_value"], account);
    let (st, _, body) = s.post("new_projects", json!({"new_phase": 9})).await;
    assert!(odata_error(st, &body, StatusCode::BAD_REQUEST).contains("valid option"));
}

fn project_table() -> herald_core::schema::UserTableConfig {
    toml::from_str(
        r#"
        logical_name = "new_project"
        primary_name = "new_name"
        [columns]
        new_name = "string(200)"
        new_budget = "money"
        new_accountid = "lookup(account)"
        new_phase = "choice(1:Plan,2:Build,3:Run)"
        "#,
    )
    .unwrap()
}

both_backends!(tweak = |c| c.tables = vec![project_table()]; user_table_round_trip);
