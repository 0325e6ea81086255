//! Reading rows: paging, `$count` and `$top`, `$expand` and navigation
//! (nested `$top`, single-valued navigation in the path), the `In`
//! operator, FetchXML, and strings compared case-insensitively.

use reqwest::StatusCode;
use serde_json::json;

use super::{enc, names};
use crate::common::{odata_error, TestServer};

both_backends!(
    paging_count_and_top,
    expand_and_navigation,
    in_operator_filters_a_list,
    nested_top_in_a_collection_expand,
    single_valued_navigation_in_the_path,
    fetchxml_results_and_errors,
    strings_compare_case_insensitively,
);

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
