//! The audit trail (`audits`): every create, change and delete of a
//! webhook, step, step image, role, user role, user or API key is one
//! audit row written in the change's own transaction, in Dataverse's
//! shape (operation, action, objectid + objecttypecode, userid as a
//! lookup, attributemask, changedata), never with a secret's value;
//! queryable like any table, by System Administrators only; shown on the
//! console's Audit page; purged after `[audit] retention`.

use crate::common::register;
use crate::common::{enc, odata_error, TestServer};
use crate::console::browser::{browser, get, post, signed_in, text};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

both_backends!(
    registration_changes_are_audited_without_secrets,
    roles_users_and_keys_are_audited,
    only_system_administrators_read_the_audit_trail,
    a_change_that_rolls_back_leaves_no_audit_row,
    old_audit_rows_are_purged,
);

const SECRET: &str = "s3cr3t-never-in-the-audit";

/// The audit rows of one record, oldest first.
async fn audits_of(s: &TestServer, object: &str) -> Vec<Value> {
    let (st, body) = s
        .get(&format!(
            "audits?$filter=objectid eq {object}&$orderby=createdon asc,action asc"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["value"].as_array().cloned().unwrap_or_default()
}

/// The changed attribute of an audit row's changedata.
fn changed<'a>(data: &'a Value, name: &str) -> Option<&'a Value> {
    data["changedAttributes"]
        .as_array()?
        .iter()
        .find(|a| a["logicalName"] == name)
}

fn change_data(row: &Value) -> Value {
    serde_json::from_str(row["changedata"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

use crate::roles::user_with_key;

async fn registration_changes_are_audited_without_secrets(s: TestServer) {
    let admin = s.state.org.admin_user_id.to_string();
    // A webhook with a secret key (loopback, never called).
    let hook = register::webhook(&s, "audited", "http://127.0.0.1:9/a", 4, SECRET).await;
    let (st, body) = s
        .patch(
            &format!("serviceendpoints({hook})"),
            json!({"url": "http://127.0.0.1:9/b", "authvalue": format!("{SECRET}-2")}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let step = register::step(&s, &hook, "Create", "contact", 40, 1, json!({})).await;
    let image = register::image(&s, &step, 1, "post", "lastname").await;
    assert_eq!(
        s.delete(&format!("sdkmessageprocessingsteps({step})"))
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete(&format!("serviceendpoints({hook})")).await,
        StatusCode::NO_CONTENT
    );

    let rows = audits_of(&s, &hook).await;
    let actions: Vec<i64> = rows.iter().map(|r| r["action"].as_i64().unwrap()).collect();
    assert_eq!(actions, [1, 2, 3], "create, update, delete: {rows:?}");
    let operations: Vec<i64> = rows
        .iter()
        .map(|r| r["operation"].as_i64().unwrap())
        .collect();
    assert_eq!(operations, [1, 2, 3]);
    for r in &rows {
        assert_eq!(r["objecttypecode"], "serviceendpoint", "{r}");
        assert_eq!(r["_userid_value"], admin.as_str(), "{r}");
        assert_eq!(r["_callinguserid_value"], admin.as_str(), "{r}");
        assert!(
            r["createdon"].as_str().is_some_and(|c| c.ends_with('Z')),
            "{r}"
        );
    }
    let update = change_data(&rows[1]);
    let url = changed(&update, "url").expect("url listed");
    assert_eq!(url["oldValue"], "http://127.0.0.1:9/a");
    assert_eq!(url["newValue"], "http://127.0.0.1:9/b");
    let auth = changed(&update, "authvalue").expect("authvalue listed");
    assert_eq!(auth["oldValue"], "***");
    assert_eq!(auth["newValue"], "***");
    assert!(
        changed(&update, "name").is_none(),
        "unchanged columns are not listed: {update}"
    );
    assert!(rows[1]["attributemask"]
        .as_str()
        .is_some_and(|m| m.starts_with(',') && m.ends_with(',')));
    assert_eq!(
        change_data(&rows[2]).pointer("/changedAttributes/0/newValue"),
        Some(&Value::Null),
        "a delete lists old values"
    );

    // The step's delete cascades to its image: audited too.
    let image_rows = audits_of(&s, &image).await;
    let actions: Vec<i64> = image_rows
        .iter()
        .map(|r| r["action"].as_i64().unwrap())
        .collect();
    assert_eq!(actions, [1, 3], "{image_rows:?}");
    assert_eq!(audits_of(&s, &step).await.len(), 2);

    // No secret anywhere in the trail, whatever is selected.
    let (_, all) = s.get("audits").await;
    assert!(
        !all.to_string().contains(SECRET),
        "a secret in the audit trail"
    );

    // Queried like any table: $select, $filter on choices, $expand=userid.
    let (st, body) = s
        .get(&format!(
            "audits?$select=action,objecttypecode&$filter=objectid eq {hook} and action eq 2&$expand=userid($select=fullname,domainname)"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let one = &body["value"][0];
    assert_eq!(body["value"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(one["userid"]["systemuserid"], admin.as_str(), "{body}");
    assert!(
        one.get("changedata").is_none(),
        "$select keeps to the columns: {one}"
    );
    let (st, body) = s
        .get(&format!(
            "audits?$filter=objectid eq {hook}&$orderby=createdon desc&$top=1&$select=action"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["action"], 3, "{body}");
    let (st, body) = s
        .get(&format!(
            "audits?$select=action&$filter=objectid eq {hook}&$count=true"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["@odata.count"], 3, "{body}");
    let fetch = format!(
        r#"<fetch><entity name="audit"><attribute name="action"/><filter><condition attribute="objectid" operator="eq" value="{hook}"/></filter></entity></fetch>"#
    );
    let (st, body) = s.get(&format!("audits?fetchXml={}", enc(&fetch))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(3), "{body}");
}

async fn roles_users_and_keys_are_audited(s: TestServer) {
    let admin = s.state.org.admin_user_id.to_string();
    let (user, _key) = user_with_key(&s, "carol", &["System Customizer"]).await;
    let user_rows = audits_of(&s, &user).await;
    let actions: Vec<i64> = user_rows
        .iter()
        .map(|r| r["action"].as_i64().unwrap())
        .collect();
    assert_eq!(
        actions,
        [1, 33],
        "created, then given a role: {user_rows:?}"
    );
    let assoc = change_data(&user_rows[1]);
    assert_eq!(assoc["relationshipName"], "systemuserroles_association");
    assert_eq!(assoc["targetRecords"][0]["logicalName"], "role");

    // The key: created with an id, a name and its user, never the key.
    let (st, body) = s
        .get("audits?$filter=objecttypecode eq 'apikey'&$orderby=createdon asc")
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let key_rows = body["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(key_rows.len(), 1, "{body}");
    let data = change_data(&key_rows[0]);
    assert_eq!(changed(&data, "name").unwrap()["newValue"], "carol");
    assert_eq!(
        changed(&data, "systemuserid").unwrap()["newValue"],
        user.as_str()
    );
    assert!(
        !body.to_string().contains(&_key),
        "the key itself is audited"
    );
    let key_id = changed(&data, "id").unwrap()["newValue"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _, b) = s
        .send(s.request(
            Method::DELETE,
            &format!("{}/api/herald/keys/{key_id}", s.base),
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let object = key_rows[0]["objectid"].as_str().unwrap().to_string();
    let rows = audits_of(&s, &object).await;
    let actions: Vec<i64> = rows.iter().map(|r| r["action"].as_i64().unwrap()).collect();
    assert_eq!(actions, [1, 3], "{rows:?}");
    assert_eq!(rows[1]["_userid_value"], admin.as_str());

    // A custom role: created, given a privilege, renamed, deleted (which
    // takes its privilege link with it: a Disassociate).
    let role = s.create("roles", json!({"name": "Auditors"})).await;
    let (_, privs) = s
        .get("privileges?$select=name&$filter=name eq 'prvReadAuditSummary'")
        .await;
    let privilege = privs["value"][0]["privilegeid"]
        .as_str()
        .expect("prvReadAuditSummary exists")
        .to_string();
    let (st, _, b) = s
        .post(
            &format!("roles({role})/roleprivileges_association/$ref"),
            json!({"@odata.id": format!("{}/privileges({privilege})", s.api)}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    let (st, b) = s
        .patch(&format!("roles({role})"), json!({"name": "Auditors 2"}))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(
        s.delete(&format!("roles({role})")).await,
        StatusCode::NO_CONTENT
    );
    let rows = audits_of(&s, &role).await;
    let mut actions: Vec<i64> = rows.iter().map(|r| r["action"].as_i64().unwrap()).collect();
    actions.sort();
    assert_eq!(actions, [1, 2, 3, 33, 34], "{rows:?}");
    let renamed = rows.iter().find(|r| r["action"] == 2).unwrap();
    let name = changed(&change_data(renamed), "name").cloned().unwrap();
    assert_eq!(name["oldValue"], "Auditors");
    assert_eq!(name["newValue"], "Auditors 2");

    // A user's change and delete.
    let (st, b) = s
        .patch(&format!("systemusers({user})"), json!({"isdisabled": true}))
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    let rows = audits_of(&s, &user).await;
    let update = rows
        .iter()
        .find(|r| r["action"] == 2)
        .expect("the update is audited");
    assert_eq!(
        changed(&change_data(update), "isdisabled").unwrap()["newValue"],
        true
    );
}

async fn only_system_administrators_read_the_audit_trail(s: TestServer) {
    register::webhook(&s, "seen", "http://127.0.0.1:9/a", 4, "code").await;
    let (_, basic) = user_with_key(&s, "bob", &[]).await;
    let (_, customizer) = user_with_key(&s, "cathy", &["System Customizer"]).await;
    for key in [&basic, &customizer] {
        for path in [
            "audits",
            "audits?$select=action&$expand=userid($select=fullname)",
        ] {
            let (st, _, body) = s
                .send(s.client.get(format!("{}/{path}", s.api)).bearer_auth(key))
                .await;
            let msg = odata_error(st, &body, StatusCode::FORBIDDEN);
            assert!(
                msg.contains("is missing prvReadAuditSummary privilege"),
                "{msg}"
            );
        }
        // $expand from a table they read to the trail is refused too.
        let (st, _, body) = s
            .send(
                s.client
                    .get(format!(
                        "{}/systemusers?$expand=lk_audit_userid($select=action)",
                        s.api
                    ))
                    .bearer_auth(key),
            )
            .await;
        assert!(
            st == StatusCode::FORBIDDEN || st == StatusCode::BAD_REQUEST,
            "{st} {body}"
        );
        assert!(!body.to_string().contains("\"action\""), "{body}");
    }
    // Nobody writes it, not even an administrator.
    let (_, rows) = s.get("audits?$select=auditid&$top=1").await;
    let id = rows["value"][0]["auditid"]
        .as_str()
        .expect("an audit row")
        .to_string();
    let (st, _, body) = s.post("audits", json!({"objecttypecode": "forged"})).await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    let (st, body) = s
        .patch(
            &format!("audits({id})"),
            json!({"objecttypecode": "forged"}),
        )
        .await;
    odata_error(st, &body, StatusCode::FORBIDDEN);
    assert_eq!(
        s.delete(&format!("audits({id})")).await,
        StatusCode::FORBIDDEN
    );

    // The console: the admin sees the page (linked from the nav), a Basic
    // User neither the link nor the page.
    let (c, _) = signed_in(&s).await;
    let page = get(&c, &s, "/console/audit").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("href=\"/console/audit\""), "nav link");
    let html = text(&page.html);
    assert!(
        html.contains("serviceendpoint") && html.contains("Create"),
        "{html}"
    );
    let filtered = get(&c, &s, "/console/audit?table=role").await;
    assert!(
        !text(&filtered.html).contains("serviceendpoint\u{3c}"),
        "table filter"
    );
    assert!(
        text(&filtered.html).contains("No audit rows match."),
        "{}",
        filtered.html
    );
    let b = browser();
    let p = post(&b, &s, "/console/login", &[("key", &basic)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let jobs = get(&b, &s, "/console/jobs").await;
    assert!(
        !jobs.html.contains("href=\"/console/audit\""),
        "no nav link for a Basic User"
    );
    let page = get(&b, &s, "/console/audit").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
}

async fn a_change_that_rolls_back_leaves_no_audit_row(s: TestServer) {
    // A step on a webhook that does not exist: refused after the step's
    // row was checked, nothing committed, nothing audited.
    let (_, before) = s.get("audits?$select=auditid&$count=true").await;
    let hook = register::webhook(&s, "rollback", "http://127.0.0.1:9/a", 4, "code").await;
    let (st, _, body) = s
        .post(
            "serviceendpoints",
            json!({"name": "rollback", "url": "http://127.0.0.1:9/b", "contract": 8, "authtype": 4, "authvalue": "x"}),
        )
        .await;
    assert!(
        st.is_client_error(),
        "a duplicate name is refused: {st} {body}"
    );
    let (_, after) = s.get("audits?$select=auditid&$count=true").await;
    assert_eq!(
        after["@odata.count"].as_i64().unwrap() - before["@odata.count"].as_i64().unwrap(),
        1,
        "only the committed create is audited: {after}"
    );
    assert_eq!(audits_of(&s, &hook).await.len(), 1);
}

async fn old_audit_rows_are_purged(s: TestServer) {
    let hook = register::webhook(&s, "old", "http://127.0.0.1:9/a", 4, "code").await;
    assert_eq!(audits_of(&s, &hook).await.len(), 1);
    let now = chrono::Utc::now();
    // Within the retention (90 days by default): kept.
    let n = herald_server::audit::retention::purge_once_before(
        &s.state,
        now + chrono::Duration::days(89),
    )
    .await
    .unwrap();
    assert_eq!(n, 0);
    assert_eq!(audits_of(&s, &hook).await.len(), 1);
    // Past it: gone, on every node (the purge is a plain delete by age).
    let n = herald_server::audit::retention::purge_once_before(
        &s.state,
        now + chrono::Duration::days(91),
    )
    .await
    .unwrap();
    assert!(n >= 1, "{n}");
    assert!(audits_of(&s, &hook).await.is_empty());
    let again = herald_server::audit::retention::purge_once_before(
        &s.state,
        now + chrono::Duration::days(91),
    )
    .await
    .unwrap();
    assert_eq!(again, 0, "a second purge finds nothing and does not fail");
}
