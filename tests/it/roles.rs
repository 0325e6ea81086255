//! Security roles, the Dataverse way: a key acts as its systemuser with
//! exactly that user's roles. A Basic User cannot read, list, `$expand`
//! to or FetchXML-link the registration tables and gets 403 on every
//! write to them, and reads only the System Jobs its own writes caused; a
//! System Customizer registers webhooks but makes no keys; a custom role
//! with one privilege grants exactly that; role changes hold from the next
//! request on, on a second node too (PostgreSQL); request bins take the
//! webhook table's privileges, and a BC subscription needs Read on its
//! entity, each caller handling only its own unless it may manage webhooks.

use crate::common::cli::herald;
use crate::common::register;
use crate::common::{enc, eventually, odata_error, Backend, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

both_backends!(
    a_basic_user_cannot_see_or_change_registrations,
    a_basic_user_reads_only_its_own_system_jobs,
    a_system_customizer_registers_webhooks_but_makes_no_keys,
    role_changes_hold_from_the_next_request_on_every_node,
    a_custom_role_grants_exactly_its_privilege,
    batch_parts_and_the_bc_api_read_as_the_caller,
    bins_and_bc_subscriptions_follow_the_roles,
);

/// A request with another key.
async fn as_key(
    s: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}/{path}", s.api)
    };
    let mut rb = s.client.request(method, url).bearer_auth(key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let (st, _, body) = s.send(rb).await;
    (st, body)
}

/// A new user and a key for it with `roles` (none: Basic User).
pub(crate) async fn user_with_key(s: &TestServer, name: &str, roles: &[&str]) -> (String, String) {
    let user = s
        .create(
            "systemusers",
            json!({"firstname": name, "lastname": "Tester", "domainname": format!("{name}@example.com")}),
        )
        .await;
    let mut body = json!({"user": user, "name": name});
    if !roles.is_empty() {
        body["roles"] = json!(roles);
    }
    let (st, _, added) = s
        .send(
            s.request(Method::POST, &format!("{}/api/herald/keys", s.base))
                .json(&body),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{added}");
    let key = added["key"].as_str().unwrap_or_default().to_string();
    (user, key)
}

/// A 403 for the missing privilege `privilege`, worded as Dataverse's.
fn refused(st: StatusCode, body: &Value, privilege: &str) {
    let msg = odata_error(st, body, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "0x80040220", "{body}");
    assert!(
        msg.starts_with("Principal user (Id=") && msg.contains(", type=8, roleCount="),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("is missing {privilege} privilege (Id=")),
        "expected {privilege}: {msg}"
    );
}

async fn a_basic_user_cannot_see_or_change_registrations(s: TestServer) {
    let hook = register::webhook(&s, "hook", "http://127.0.0.1:9/hook", 4, "code").await;
    let step = register::step(&s, &hook, "Create", "contact", 40, 1, json!({})).await;
    let (bob, key) = user_with_key(&s, "bob", &[]).await;

    // Reads: lists, single rows, FetchXML and ?sql= on the tables.
    for (path, privilege) in [
        ("serviceendpoints", "prvReadServiceEndpoint"),
        (
            "sdkmessageprocessingsteps",
            "prvReadSdkMessageProcessingStep",
        ),
        (
            "sdkmessageprocessingstepimages",
            "prvReadSdkMessageProcessingStepImage",
        ),
        ("sdkmessagefilters", "prvReadSdkMessageFilter"),
        (
            &format!("serviceendpoints({hook})"),
            "prvReadServiceEndpoint",
        ),
        (
            &format!("sdkmessageprocessingsteps({step})"),
            "prvReadSdkMessageProcessingStep",
        ),
        (
            &format!(
                "serviceendpoints?fetchXml={}",
                enc(
                    r#"<fetch><entity name="serviceendpoint"><attribute name="name"/></entity></fetch>"#
                )
            ),
            "prvReadServiceEndpoint",
        ),
        (
            &format!(
                "serviceendpoints?sql={}",
                enc("SELECT name FROM serviceendpoint")
            ),
            "prvReadServiceEndpoint",
        ),
    ] {
        let (st, body) = as_key(&s, &key, Method::GET, path, None).await;
        refused(st, &body, privilege);
    }
    let msg = as_key(&s, &key, Method::GET, "serviceendpoints", None)
        .await
        .1;
    assert!(
        msg["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("on OTC=4618 for entity 'serviceendpoint'")),
        "{msg}"
    );

    // $expand to them and FetchXML link-entities to them, from a table
    // the user reads.
    let admin = s.state.org.admin_user_id;
    for (path, privilege) in [
        (format!("systemusers({admin})?$expand=lk_serviceendpoint_createdby($select=name)"), "prvReadServiceEndpoint"),
        ("systemusers?$expand=impersonatinguserid_sdkmessageprocessingstep".to_string(), "prvReadSdkMessageProcessingStep"),
        (format!(
            "systemusers?fetchXml={}",
            enc(r#"<fetch><entity name="systemuser"><attribute name="fullname"/><link-entity name="serviceendpoint" from="createdby" to="systemuserid" alias="se"><attribute name="name"/></link-entity></entity></fetch>"#)
        ), "prvReadServiceEndpoint"),
        (format!(
            "systemusers?sql={}",
            enc("SELECT u.fullname, se.name FROM systemuser u JOIN serviceendpoint se ON se.createdby = u.systemuserid")
        ), "prvReadServiceEndpoint"),
    ] {
        let (st, body) = as_key(&s, &key, Method::GET, &path, None).await;
        refused(st, &body, privilege);
    }

    // Every write to them.
    let writes = [
        (
            Method::POST,
            "serviceendpoints".to_string(),
            json!({"name": "mine", "url": "http://127.0.0.1:9/x", "contract": 8, "authtype": 4, "authvalue": "code"}),
            "prvCreateServiceEndpoint",
        ),
        (
            Method::PATCH,
            format!("serviceendpoints({hook})"),
            json!({"url": "http://127.0.0.1:9/stolen"}),
            "prvWriteServiceEndpoint",
        ),
        (
            Method::DELETE,
            format!("serviceendpoints({hook})"),
            json!({}),
            "prvDeleteServiceEndpoint",
        ),
        (
            Method::POST,
            "sdkmessageprocessingsteps".to_string(),
            json!({"stage": 40, "mode": 1}),
            "prvCreateSdkMessageProcessingStep",
        ),
        (
            Method::PATCH,
            format!("sdkmessageprocessingsteps({step})"),
            json!({"rank": 2}),
            "prvWriteSdkMessageProcessingStep",
        ),
        (
            Method::DELETE,
            format!("sdkmessageprocessingsteps({step})"),
            json!({}),
            "prvDeleteSdkMessageProcessingStep",
        ),
        (
            Method::POST,
            "sdkmessageprocessingstepimages".to_string(),
            json!({"name": "img", "imagetype": 0}),
            "prvCreateSdkMessageProcessingStepImage",
        ),
        (
            Method::POST,
            format!("serviceendpoints({hook})/Microsoft.Dynamics.CRM.herald_Notify"),
            json!({}),
            "prvWriteServiceEndpoint",
        ),
    ];
    for (method, path, body, privilege) in writes {
        let body = (method != Method::DELETE).then_some(body);
        let (st, resp) = as_key(&s, &key, method.clone(), &path, body).await;
        refused(st, &resp, privilege);
    }
    // Nothing changed.
    let (_, row) = s
        .get(&format!("serviceendpoints({hook})?$select=url"))
        .await;
    assert_eq!(row["url"], "http://127.0.0.1:9/hook");

    // Business data works, and so does $expand=createdby (users are read).
    let (st, _) = as_key(
        &s,
        &key,
        Method::POST,
        "contacts",
        Some(json!({"lastname": "Mulder"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        "contacts?$select=lastname&$expand=createdby($select=fullname)&$filter=lastname eq 'Mulder'",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body["value"][0]["createdby"]["fullname"], "bob Tester",
        "{body}"
    );

    // It writes no user, role or key.
    let (st, body) = as_key(
        &s,
        &key,
        Method::PATCH,
        &format!("systemusers({bob})"),
        Some(json!({"firstname": "Robert"})),
    )
    .await;
    refused(st, &body, "prvWriteUser");
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        "roles",
        Some(json!({"name": "mine"})),
    )
    .await;
    refused(st, &body, "prvCreateRole");
    let sa = role_id(&s, "System Administrator").await;
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        &format!("systemusers({bob})/systemuserroles_association/$ref"),
        Some(json!({"@odata.id": format!("{}/roles({sa})", s.api)})),
    )
    .await;
    refused(st, &body, "prvCreateSystemUserRoles");
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        &format!("{}/api/herald/keys", s.base),
        Some(json!({"user": bob})),
    )
    .await;
    let msg = odata_error(st, &body, StatusCode::FORBIDDEN);
    assert!(msg.contains("System Administrator"), "{msg}");
    // The roles themselves are readable.
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        &format!("systemusers({bob})/systemuserroles_association?$select=name"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["name"], "Basic User", "{body}");
}

async fn role_id(s: &TestServer, name: &str) -> String {
    let (st, body) = s
        .get(&format!("roles?$select=name&$filter=name eq '{name}'"))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["value"][0]["roleid"]
        .as_str()
        .unwrap_or_else(|| panic!("no role {name}: {body}"))
        .to_string()
}

async fn a_basic_user_reads_only_its_own_system_jobs(s: TestServer) {
    let rx = herald_testkit::Receiver::start().await;
    let hook = register::webhook(&s, "jobs", &rx.url_for("/hook"), 4, "code").await;
    register::step(&s, &hook, "Create", "contact", 40, 1, json!({})).await;
    let (bob, key) = user_with_key(&s, "bob", &["Basic User"]).await;
    s.create("contacts", json!({"lastname": "by admin"})).await;
    let (st, _) = as_key(
        &s,
        &key,
        Method::POST,
        "contacts",
        Some(json!({"lastname": "by bob"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let all = eventually(Duration::from_secs(20), "two System Jobs", || async {
        let (_, body) = s.get("asyncoperations?$select=name,_createdby_value").await;
        let rows = body["value"].as_array().cloned().unwrap_or_default();
        (rows.len() == 2).then_some(rows)
    })
    .await;
    let admins: Vec<&Value> = all
        .iter()
        .filter(|r| r["_createdby_value"] != bob.as_str())
        .collect();
    assert_eq!(admins.len(), 1, "{all:?}");
    let admins_job = admins[0]["asyncoperationid"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        "asyncoperations?$select=name,_createdby_value",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let mine = body["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(mine.len(), 1, "{body}");
    assert_eq!(mine[0]["_createdby_value"], bob.as_str());
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        &format!("asyncoperations?fetchXml={}", enc(r#"<fetch aggregate="true"><entity name="asyncoperation"><attribute name="asyncoperationid" alias="n" aggregate="count"/></entity></fetch>"#)),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["n"], 1, "{body}");
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        &format!("asyncoperations({admins_job})"),
        None,
    )
    .await;
    odata_error(st, &body, StatusCode::NOT_FOUND);
    // It cannot control jobs either.
    let (st, body) = as_key(
        &s,
        &key,
        Method::PATCH,
        &format!("asyncoperations({admins_job})"),
        Some(json!({"statecode": 3, "statuscode": 32})),
    )
    .await;
    refused(st, &body, "prvWriteAsyncOperation");

    // The console reads through the same path: its jobs only, no webhooks,
    // its roles in the nav bar.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let signed_in = browser
        .post(format!("{}/console/login", s.base))
        .form(&[("key", key.as_str())])
        .send()
        .await
        .map(|r| r.status())
        .ok();
    assert_eq!(signed_in, Some(StatusCode::SEE_OTHER));
    let page = |path: &str| {
        let (b, url) = (browser.clone(), format!("{}{path}", s.base));
        async move {
            let r = b.get(url).send().await.unwrap_or_else(|e| panic!("{e}"));
            (r.status(), r.text().await.unwrap_or_default())
        }
    };
    let (st, html) = page("/console/jobs").await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("Basic User"), "{html}");
    let (st, html) = page(&format!("/console/jobs/{admins_job}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{html}");
    let (st, html) = page("/console/webhooks").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("prvReadServiceEndpoint"), "{html}");
}

async fn a_system_customizer_registers_webhooks_but_makes_no_keys(s: TestServer) {
    let (carol, key) = user_with_key(&s, "carol", &["System Customizer"]).await;
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        "serviceendpoints",
        Some(json!({"name": "carol's", "url": "http://127.0.0.1:9/c", "contract": 8, "authtype": 4, "authvalue": "code"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        "serviceendpoints?$select=name,_createdby_value",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body["value"][0]["_createdby_value"],
        carol.as_str(),
        "{body}"
    );
    // Reads all data, writes none.
    let (st, _) = as_key(&s, &key, Method::GET, "contacts", None).await;
    assert_eq!(st, StatusCode::OK);
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        "contacts",
        Some(json!({"lastname": "x"})),
    )
    .await;
    refused(st, &body, "prvCreateContact");
    // No keys, no users, no roles.
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        &format!("{}/api/herald/keys", s.base),
        Some(json!({"user": carol})),
    )
    .await;
    let msg = odata_error(st, &body, StatusCode::FORBIDDEN);
    assert!(msg.contains("System Administrator"), "{msg}");
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        &format!("{}/api/herald/keys", s.base),
        None,
    )
    .await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        "systemusers",
        Some(json!({"domainname": "x@example.com"})),
    )
    .await;
    refused(st, &body, "prvCreateUser");
    // The CLI: --role (repeatable), and the list shows each user's roles.
    let dave = s
        .create(
            "systemusers",
            json!({"firstname": "Dave", "domainname": "dave@example.com"}),
        )
        .await;
    let run = herald(
        &s,
        &[
            "key",
            "add",
            "--user",
            &dave,
            "--role",
            "System Customizer",
            "--role",
            "basic-user",
            "-o",
            "json",
        ],
    )
    .await
    .success();
    assert_eq!(
        run.json()["roles"],
        json!(["Basic User", "System Customizer"]),
        "{}",
        run.stdout
    );
    herald(
        &s,
        &["key", "add", "--user", &dave, "--role", "No Such Role"],
    )
    .await
    .failure(&["No Such Role"]);
    let run = herald(&s, &["key", "list", "-o", "json"]).await.success();
    let listed = run.json();
    let carols = listed
        .as_array()
        .and_then(|v| v.iter().find(|k| k["name"] == "carol").cloned())
        .unwrap_or_default();
    assert_eq!(carols["roles"], json!(["System Customizer"]), "{listed}");
    let run = herald(&s, &["key", "list"]).await.success();
    assert!(
        run.stdout.contains("ROLES") && run.stdout.contains("Basic User, System Customizer"),
        "{}",
        run.stdout
    );
}

async fn role_changes_hold_from_the_next_request_on_every_node(s: TestServer) {
    let (bob, key) = user_with_key(&s, "bob", &[]).await;
    let second_node = if s.state.store.dialect() == herald_store::Dialect::Postgres {
        let url = s.state.config.database_url();
        TestServer::start_with(Backend::Sqlite, concat!(module_path!(), "::node-b"), |c| {
            c.store.database_url = Some(url);
        })
        .await
    } else {
        None
    };
    let nodes: Vec<&TestServer> = std::iter::once(&s).chain(second_node.as_ref()).collect();
    for node in &nodes {
        let (st, body) = as_key(node, &key, Method::GET, "serviceendpoints", None).await;
        refused(st, &body, "prvReadServiceEndpoint");
    }
    let sc = role_id(&s, "System Customizer").await;
    let (st, _, body) = s
        .send(
            s.request(
                Method::POST,
                &format!(
                    "{}/systemusers({bob})/systemuserroles_association/$ref",
                    s.api
                ),
            )
            .json(&json!({"@odata.id": format!("{}/roles({sc})", s.api)})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    for node in &nodes {
        let (st, body) = as_key(node, &key, Method::GET, "serviceendpoints", None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    // The intersect row is there, with its fixed id, queryable.
    let (_, rows) = s
        .get(&format!(
            "systemuserrolescollection?$filter=_systemuserid_value eq {bob}"
        ))
        .await;
    assert_eq!(rows["value"].as_array().map(Vec::len), Some(2), "{rows}");
    let (st, _, body) = s
        .send(s.request(
            Method::DELETE,
            &format!(
                "{}/systemusers({bob})/systemuserroles_association({sc})/$ref",
                s.api
            ),
        ))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    for node in &nodes {
        let (st, body) = as_key(node, &key, Method::GET, "serviceendpoints", None).await;
        refused(st, &body, "prvReadServiceEndpoint");
    }
    // Writes see it too: the role is gone, contacts (Basic User) remain.
    let (st, _) = as_key(
        nodes[nodes.len() - 1],
        &key,
        Method::POST,
        "contacts",
        Some(json!({"lastname": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
}

async fn a_custom_role_grants_exactly_its_privilege(s: TestServer) {
    // The built-in roles are rows like any, with fixed ids, and fixed.
    let (_, roles) = s.get("roles?$select=name&$orderby=name").await;
    let names: Vec<&str> = roles["value"]
        .as_array()
        .map(|v| v.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        ["Basic User", "System Administrator", "System Customizer"]
    );
    let sa = role_id(&s, "System Administrator").await;
    assert_eq!(
        sa,
        herald_core::security::BuiltinRole::SystemAdministrator
            .id()
            .to_string()
    );
    let (st, body) = s
        .patch(&format!("roles({sa})"), json!({"name": "mine"}))
        .await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    let admin = s.state.org.admin_user_id;
    let (st, _, body) = s
        .send(s.request(
            Method::DELETE,
            &format!(
                "{}/systemusers({admin})/systemuserroles_association({sa})/$ref",
                s.api
            ),
        ))
        .await;
    odata_error(st, &body, StatusCode::FORBIDDEN);

    let role = s.create("roles", json!({"name": "Account reader"})).await;
    let (_, p) = s
        .get("privileges?$select=name&$filter=name eq 'prvReadAccount'")
        .await;
    let privilege = p["value"][0]["privilegeid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        privilege,
        herald_core::fixed_ids::privilege_id("prvReadAccount").to_string()
    );
    let (st, _, body) = s
        .send(
            s.request(
                Method::POST,
                &format!("{}/roles({role})/roleprivileges_association/$ref", s.api),
            )
            .json(&json!({"@odata.id": format!("{}/privileges({privilege})", s.api)})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (_, linked) = s
        .get(&format!(
            "roles({role})/roleprivileges_association?$select=name"
        ))
        .await;
    assert_eq!(
        linked["value"].as_array().map(Vec::len),
        Some(1),
        "{linked}"
    );
    assert_eq!(linked["value"][0]["name"], "prvReadAccount");

    let (reader, key) = user_with_key(&s, "reader", &["Account reader"]).await;
    // Both many-to-many relationships expand, from either side.
    let (st, body) = s
        .get(&format!(
            "systemusers({reader})?$select=fullname&$expand=systemuserroles_association($select=name)"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body["systemuserroles_association"][0]["name"], "Account reader",
        "{body}"
    );
    assert_eq!(
        body["systemuserroles_association"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    let (st, body) = s
        .get(&format!(
            "roles?$select=name&$filter=roleid eq {role}&$expand=roleprivileges_association($select=name),systemuserroles_association($select=fullname)"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let row = &body["value"][0];
    assert_eq!(
        row["roleprivileges_association"][0]["name"], "prvReadAccount",
        "{body}"
    );
    assert_eq!(
        row["systemuserroles_association"][0]["fullname"], "reader Tester",
        "{body}"
    );
    s.create("accounts", json!({"name": "Contoso"})).await;
    let (st, body) = as_key(&s, &key, Method::GET, "accounts?$select=name", None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["name"], "Contoso");
    let (st, body) = as_key(&s, &key, Method::GET, "contacts", None).await;
    refused(st, &body, "prvReadContact");
    let (st, body) = as_key(
        &s,
        &key,
        Method::POST,
        "accounts",
        Some(json!({"name": "x"})),
    )
    .await;
    refused(st, &body, "prvCreateAccount");
    // Formatted values name only rows the role reads: not the user.
    let (st, _, body) = s
        .send(
            s.client
                .get(format!("{}/accounts?$select=name,_createdby_value", s.api))
                .bearer_auth(&key)
                .header("Prefer", "odata.include-annotations=\"*\""),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(body["value"][0]["_createdby_value"].is_string(), "{body}");
    assert!(
        body["value"][0]
            .get("_createdby_value@OData.Community.Display.V1.FormattedValue")
            .is_none(),
        "{body}"
    );
    // $expand to a table the role does not read.
    let (st, body) = as_key(
        &s,
        &key,
        Method::GET,
        "accounts?$expand=createdby($select=fullname)",
        None,
    )
    .await;
    refused(st, &body, "prvReadUser");
    // Deleting the role takes its grants along.
    assert_eq!(
        s.delete(&format!("roles({role})")).await,
        StatusCode::NO_CONTENT
    );
    let (st, body) = as_key(&s, &key, Method::GET, "accounts", None).await;
    refused(st, &body, "prvReadAccount");
}

async fn batch_parts_and_the_bc_api_read_as_the_caller(s: TestServer) {
    use crate::batch::{body, part, statuses, Item};
    let (_, key) = user_with_key(&s, "bob", &[]).await;
    let batch = body(&[
        Item::One(part("GET", format!("{}/serviceendpoints", s.api), None)),
        Item::One(part("GET", format!("{}/contacts", s.api), None)),
        Item::ChangeSet(vec![part(
            "POST",
            format!("{}/serviceendpoints", s.api),
            Some(
                json!({"name": "x", "url": "http://127.0.0.1:9/x", "contract": 8, "authtype": 4, "authvalue": "code"}),
            ),
        )]),
    ]);
    let resp = s
        .client
        .post(format!("{}/$batch", s.api))
        .bearer_auth(&key)
        .header("Content-Type", "multipart/mixed; boundary=batch_test")
        .header("Prefer", "odata.continue-on-error")
        .body(batch)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), StatusCode::OK);
    let answer = resp.text().await.unwrap_or_default();
    assert_eq!(statuses(&answer), [403, 200, 403], "{answer}");
    assert!(
        answer.contains("prvReadServiceEndpoint") && answer.contains("prvCreateServiceEndpoint"),
        "{answer}"
    );

    // The Business Central API: a Basic User reads BC data; a role
    // without it gets the same 403.
    let bc = |key: String| {
        let url = format!("{}/api/v2.0/companies", s.base);
        let client = s.client.clone();
        async move {
            let r = client
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let st = r.status();
            (st, r.json::<Value>().await.unwrap_or_default())
        }
    };
    let (st, body) = bc(key.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    s.create("roles", json!({"name": "Nothing"})).await;
    let (_, none) = user_with_key(&s, "nobody", &["Nothing"]).await;
    let (st, body) = bc(none).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("prvReadbc_company"), "{body}");
}

/// Request bins are a registration tool: they take `serviceendpoint`'s
/// privileges (a Basic User gets 403 on every bin call, on the API and in
/// the console; a System Customizer uses them). A BC subscription needs
/// Read on its entity; each caller sees, renews and deletes only its own
/// unless it holds the registration privileges (System Customizer, Admin).
async fn bins_and_bc_subscriptions_follow_the_roles(s: TestServer) {
    let (_, basic) = user_with_key(&s, "binbasic", &[]).await;
    let (_, customizer) = user_with_key(&s, "bincustomizer", &["System Customizer"]).await;
    s.create("roles", json!({"name": "Nothing at all"})).await;
    let (_, nothing) = user_with_key(&s, "binnothing", &["Nothing at all"]).await;
    let bins = format!("{}/api/herald/bins", s.base);

    let (st, bin) = as_key(
        &s,
        &s.key,
        Method::POST,
        &bins,
        Some(json!({"name": "admin's"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{bin}");
    let bin_url = format!("{bins}/{}", bin["id"].as_str().unwrap());
    for (method, url, privilege) in [
        (Method::POST, bins.clone(), "prvCreateServiceEndpoint"),
        (Method::GET, bins.clone(), "prvReadServiceEndpoint"),
        (Method::GET, bin_url.clone(), "prvReadServiceEndpoint"),
        (Method::DELETE, bin_url.clone(), "prvDeleteServiceEndpoint"),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        let (st, body) = as_key(&s, &basic, method.clone(), &url, body).await;
        refused(st, &body, privilege);
    }
    // Sending to a bin needs no key at all.
    let sent = s
        .client
        .post(bin["url"].as_str().unwrap())
        .body("hello")
        .send()
        .await
        .expect("sent");
    assert_eq!(sent.status(), StatusCode::OK);
    let (st, seen) = as_key(&s, &customizer, Method::GET, &bin_url, None).await;
    assert_eq!(st, StatusCode::OK, "{seen}");
    assert_eq!(seen["requests"][0]["body"], "hello");
    let (st, made) = as_key(&s, &customizer, Method::POST, &bins, Some(json!({}))).await;
    assert_eq!(st, StatusCode::CREATED, "{made}");
    // The console asks the same check.
    let console = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signin = console
        .post(format!("{}/console/login", s.base))
        .header("Origin", &s.base)
        .form(&[("key", basic.as_str())])
        .send()
        .await
        .expect("sign in");
    assert!(signin.status().is_redirection(), "{}", signin.status());
    let page = console
        .get(format!("{}/console/bins", s.base))
        .send()
        .await
        .expect("bins page");
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("prvReadServiceEndpoint"));

    // BC subscriptions.
    let rx =
        herald_testkit::Receiver::start_with(herald_testkit::Behavior::echo_validation_token())
            .await;
    let subs = format!("{}/api/v2.0/subscriptions", s.base);
    let resource = format!(
        "/api/v2.0/companies({})/customers",
        herald_server::bc::default_company_id()
    );
    let body = json!({"notificationUrl": rx.url(), "resource": resource});
    let (st, refusal) = as_key(&s, &nothing, Method::POST, &subs, Some(body.clone())).await;
    refused(st, &refusal, "prvReadbc_customer");
    let (st, mine) = as_key(&s, &basic, Method::POST, &subs, Some(body.clone())).await;
    assert_eq!(st, StatusCode::CREATED, "{mine}");
    let (st, admins) = as_key(&s, &s.key, Method::POST, &subs, Some(body)).await;
    assert_eq!(st, StatusCode::CREATED, "{admins}");
    let id = |v: &Value| v["subscriptionId"].as_str().unwrap().to_string();
    let listed = |v: &Value| {
        let mut ids: Vec<String> = v["value"].as_array().unwrap().iter().map(id).collect();
        ids.sort();
        ids
    };
    let (_, seen) = as_key(&s, &basic, Method::GET, &subs, None).await;
    assert_eq!(
        listed(&seen),
        [id(&mine)],
        "a Basic User sees its own: {seen}"
    );
    let mut both = vec![id(&mine), id(&admins)];
    both.sort();
    let (_, seen) = as_key(&s, &customizer, Method::GET, &subs, None).await;
    assert_eq!(listed(&seen), both, "a System Customizer sees all");
    let other = format!("{subs}('{}')", id(&admins));
    // BC's error shape (`BadRequest_NotFound`), not the Web API's.
    let (st, body) = as_key(&s, &basic, Method::GET, &other, None).await;
    assert_eq!(
        (st, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("BadRequest_NotFound")),
        "{body}"
    );
    let (st, _, body) = s
        .send(
            s.client
                .delete(&other)
                .bearer_auth(&basic)
                .header("If-Match", "*"),
        )
        .await;
    assert_eq!(
        (st, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("BadRequest_NotFound")),
        "{body}"
    );
    let (st, _, _) = s
        .send(
            s.client
                .delete(format!("{subs}('{}')", id(&mine)))
                .bearer_auth(&basic)
                .header("If-Match", "*"),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "its own it may delete");
    let (st, _, _) = s
        .send(
            s.client
                .delete(&other)
                .bearer_auth(&customizer)
                .header("If-Match", "*"),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::NO_CONTENT,
        "a System Customizer deletes anyone's"
    );
}
