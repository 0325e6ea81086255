//! The Dataverse-dialect Web API over HTTP, on SQLite and PostgreSQL.

use crate::common::{odata_error, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_backends!(
    contact_lifecycle,
    create_with_representation_and_client_id,
    upsert_and_conditional_headers,
    paging_count_and_top,
    auth_is_required,
    bad_input_gets_clear_errors,
    whoami_and_versions,
    expand_and_navigation,
    in_operator_filters_a_list,
    nested_top_in_a_collection_expand,
    single_valued_navigation_in_the_path,
    fetchxml_results_and_errors,
    odata_headers_and_annotations,
    conditional_create_and_delete,
    strings_compare_case_insensitively,
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
    let (_, body) = s
        .send(
            s.request(Method::GET, &format!("contacts({id})"))
                .header("Prefer", "odata.include-annotations=\"*\""),
        )
        .await
        .2
        .pipe(|b| (StatusCode::OK, b));
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

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

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

async fn paging_count_and_top(s: TestServer) {
    for i in 0..7 {
        s.create(
            "leads",
            json!({"subject": format!("lead {i}"), "lastname": format!("L{i}")}),
        )
        .await;
    }
    let (_, body) = s
        .get("leads?$select=subject&$top=3&$orderby=subject desc&$count=true")
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 3);
    assert_eq!(body["value"][0]["subject"], "lead 6");
    assert_eq!(body["@odata.count"], 7);
    let mut url = format!("{}/leads?$select=subject&$orderby=subject", s.api);
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (st, headers, body) = s
            .send(
                s.client
                    .get(&url)
                    .bearer_auth(&s.key)
                    .header("Prefer", "odata.maxpagesize=3"),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(
            headers.get("preference-applied").unwrap(),
            "odata.maxpagesize=3"
        );
        for r in body["value"].as_array().unwrap() {
            seen.push(r["subject"].as_str().unwrap().to_string());
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..7).map(|i| format!("lead {i}")).collect::<Vec<_>>()
    );
    let (st, body) = s.get("leads?$skip=2").await;
    odata_error(st, &body, StatusCode::BAD_REQUEST);
}

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

async fn expand_and_navigation(s: TestServer) {
    let account = s.create("accounts", json!({"name": "Contoso"})).await;
    for n in ["Ann", "Bob", "Cid"] {
        s.create("contacts", json!({"firstname": n, "parentcustomerid_account@odata.bind": format!("/accounts({account})")})).await;
    }
    let (st, body) = s
        .get(&format!("accounts({account})?$select=name&$expand=contact_customer_accounts($select=firstname;$filter=firstname ne 'Bob';$orderby=firstname desc)"))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let kids: Vec<&str> = body["contact_customer_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["firstname"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec!["Cid", "Ann"]);
    let (st, body) = s.get(&format!("accounts(@a)/contact_customer_accounts?$select=firstname&$orderby=firstname?@a={account}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 3);
    let (st, body) = s
        .get("contacts?$select=firstname&$expand=parentcustomerid_account($select=name)&$top=1")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body["value"][0]["parentcustomerid_account"]["name"],
        "Contoso"
    );
}

/// Percent-encode a query option value.
fn enc(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn names<'a>(rows: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    rows.as_array()
        .map(|v| v.iter().filter_map(|r| r[key].as_str()).collect())
        .unwrap_or_default()
}

async fn in_operator_filters_a_list(s: TestServer) {
    for n in ["Ann", "Bob", "Cid", "O'Neil"] {
        s.create("contacts", json!({"firstname": n})).await;
    }
    let (st, body) = s
        .get("contacts?$select=firstname&$filter=firstname in ('Cid','Ann','Zed','O''Neil')&$orderby=firstname")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        names(&body["value"], "firstname"),
        vec!["Ann", "Cid", "O'Neil"]
    );
    // Negated, and through a parameter alias per value.
    let (st, body) = s
        .get("contacts?$select=firstname&$filter=not (firstname in (@a,@b))&$orderby=firstname&@a='Ann'&@b='Bob'")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(names(&body["value"], "firstname"), vec!["Cid", "O'Neil"]);
}

async fn nested_top_in_a_collection_expand(s: TestServer) {
    let mut accounts = Vec::new();
    for a in ["A", "B"] {
        let id = s.create("accounts", json!({"name": a})).await;
        for n in ["Ann", "Bob", "Cid"] {
            s.create(
                "contacts",
                json!({"firstname": format!("{a}-{n}"), "parentcustomerid_account@odata.bind": format!("/accounts({id})")}),
            )
            .await;
        }
        accounts.push(id);
    }
    // On one record.
    let (st, body) = s
        .get(&format!(
            "accounts({})?$select=name&$expand=contact_customer_accounts($select=firstname;$orderby=firstname desc;$top=2)",
            accounts[0]
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        names(&body["contact_customer_accounts"], "firstname"),
        vec!["A-Cid", "A-Bob"]
    );
    // On a list: the $top applies to each parent's collection.
    let (st, body) = s
        .get("accounts?$select=name&$orderby=name&$expand=contact_customer_accounts($select=firstname;$orderby=firstname;$top=1)")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let rows = body["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!(
        names(&rows[0]["contact_customer_accounts"], "firstname"),
        vec!["A-Ann"]
    );
    assert_eq!(
        names(&rows[1]["contact_customer_accounts"], "firstname"),
        vec!["B-Ann"]
    );
}

async fn single_valued_navigation_in_the_path(s: TestServer) {
    let account = s.create("accounts", json!({"name": "Contoso"})).await;
    let contact = s
        .create(
            "contacts",
            json!({"firstname": "Jim", "parentcustomerid_account@odata.bind": format!("/accounts({account})")}),
        )
        .await;
    let (st, body) = s
        .get(&format!(
            "contacts({contact})/parentcustomerid_account?$select=name"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["accountid"], account);
    assert_eq!(body["name"], "Contoso");
    assert!(body["@odata.context"].as_str().is_some(), "{body}");
    // A contact without an account: nothing to navigate to.
    let lonely = s.create("contacts", json!({"firstname": "Solo"})).await;
    let (st, body) = s
        .get(&format!("contacts({lonely})/parentcustomerid_account"))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "no related row: {body}");
    // An unknown navigation property is a 400 naming it.
    let (st, body) = s.get(&format!("contacts({contact})/nosuchnav")).await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(msg.contains("nosuchnav"), "{msg}");
}

async fn fetchxml_results_and_errors(s: TestServer) {
    s.create("contacts", json!({"firstname": "Jim", "lastname": "Glynn"}))
        .await;
    let xml = "<fetch><entity name='contact'><attribute name='firstname'/></entity></fetch>";
    let (st, body) = s.get(&format!("contacts?fetchXml={}", enc(xml))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let context = body["@odata.context"].as_str().unwrap_or("");
    assert!(
        context.starts_with(&format!("{}/$metadata#contacts", s.api)),
        "{body}"
    );
    assert_eq!(body["value"][0]["firstname"], "Jim");
    // An unknown attribute: the token and its position in the XML.
    let bad = "<fetch><entity name='contact'><attribute name='nosuch'/></entity></fetch>";
    let (st, body) = s.get(&format!("contacts?fetchXml={}", enc(bad))).await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    let pos = bad.find("nosuch").unwrap_or(0);
    assert!(
        msg.contains("'nosuch'") && msg.contains(&format!("position {pos}")),
        "{msg}"
    );
    // Malformed XML: where it broke.
    let (st, body) = s
        .get(&format!(
            "contacts?fetchXml={}",
            enc("<fetch><entity name='contact'></fetch>")
        ))
        .await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(msg.contains("position"), "{msg}");
    // An unknown operator names it.
    let op = "<fetch><entity name='contact'><filter><condition attribute='firstname' operator='sounds-like' value='x'/></filter></entity></fetch>";
    let (st, body) = s.get(&format!("contacts?fetchXml={}", enc(op))).await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(
        msg.contains("'sounds-like'")
            && msg.contains(&format!("position {}", op.find("sounds-like").unwrap_or(0))),
        "{msg}"
    );
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

/// Text compares as in Dataverse (SQL Server's case-insensitive collation):
/// `$filter`, `$orderby` and FetchXML ignore ASCII case on string columns,
/// and so do webhook names' uniqueness and the lookups by name.
async fn strings_compare_case_insensitively(s: TestServer) {
    for (first, last) in [
        ("Jim", "Glynn"),
        ("Tim", "glynn"),
        ("Ann", "apple"),
        ("Bob", "Gladstone"),
        ("Zoe", "Zed"),
    ] {
        s.create("contacts", json!({"firstname": first, "lastname": last}))
            .await;
    }
    let (st, body) = s
        .get("contacts?$select=firstname&$filter=lastname eq 'glynn'&$orderby=firstname")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(names(&body["value"], "firstname"), vec!["Jim", "Tim"]);
    let (st, body) = s
        .get("contacts?$select=firstname&$filter=startswith(lastname,'GL') and lastname ne 'GLYNN'")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(names(&body["value"], "firstname"), vec!["Bob"]);
    // Case-sensitively 'Zed' and 'Gladstone' would come before 'apple'.
    let (st, body) = s
        .get("contacts?$select=lastname&$orderby=lastname,firstname")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        names(&body["value"], "lastname"),
        vec!["apple", "Gladstone", "Glynn", "glynn", "Zed"]
    );
    let xml = "<fetch><entity name='contact'><attribute name='firstname'/><filter><condition attribute='lastname' operator='in'><value>GLYNN</value><value>zed</value></condition></filter><order attribute='firstname'/></entity></fetch>";
    let (st, body) = s.get(&format!("contacts?fetchXml={}", enc(xml))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        names(&body["value"], "firstname"),
        vec!["Jim", "Tim", "Zoe"]
    );

    // Webhook names: unique regardless of case, found regardless of case.
    let hook = json!({"name": "RequestBin", "url": "http://x", "authtype": 4, "authvalue": "k"});
    s.create("serviceendpoints", hook).await;
    let (st, _, body) = s
        .post(
            "serviceendpoints",
            json!({"name": "requestbin", "url": "http://y", "authtype": 4, "authvalue": "k"}),
        )
        .await;
    let msg = odata_error(st, &body, StatusCode::PRECONDITION_FAILED);
    assert!(msg.contains("already exists"), "{msg}");
    let (st, body) = s
        .get("serviceendpoints?$select=name&$filter=name eq 'REQUESTBIN'")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(names(&body["value"], "name"), vec!["RequestBin"]);
    // herald's own rows by name, as `herald step add --message` looks them up.
    let (_, body) = s
        .get("sdkmessages?$select=name&$filter=name eq 'create'")
        .await;
    assert_eq!(names(&body["value"], "name"), vec!["Create"]);
}
