//! FetchXML as Dataverse clients page and aggregate it (issue 13 item 3):
//! `count` + `page` with `@Microsoft.Dynamics.CRM.morerecords` and the
//! `fetchxmlpagingcookie` that Microsoft's Python client and
//! `dynamics-web-api`'s `fetchAll` copy back, every row exactly once across
//! pages; and `aggregate="true"` with groupings, date groupings and every
//! aggregate function, rows keyed by alias.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{enc, odata_error, TestServer};

both_backends!(
    five_pages_return_every_row_once,
    paging_annotations_only_when_asked,
    aggregates_group_and_order,
);

const PREFER: &str = "odata.include-annotations=\"Microsoft.Dynamics.CRM.fetchxmlpagingcookie,Microsoft.Dynamics.CRM.morerecords\"";

fn url_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn fetch_page(s: &TestServer, xml: &str) -> Value {
    let (st, _, body) = s
        .send(
            s.request(Method::GET, &format!("accounts?fetchXml={}", enc(xml)))
                .header("Prefer", PREFER),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

/// The next fetch as Microsoft's Python client writes it: the cookie's
/// `pagingcookie` decoded twice into `paging-cookie`, `page` = `pagenumber`.
fn python_next(body: &Value) -> (u64, String) {
    let cookie = body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]
        .as_str()
        .expect("a paging cookie");
    let doc = roxmltree::Document::parse(cookie).expect("the cookie is XML");
    let root = doc.root_element();
    let inner = url_decode(&url_decode(
        root.attribute("pagingcookie").expect("pagingcookie"),
    ));
    assert!(inner.starts_with("<cookie page=\""), "{inner}");
    let page = root
        .attribute("pagenumber")
        .and_then(|p| p.parse().ok())
        .expect("pagenumber");
    (page, inner)
}

/// The next fetch as `dynamics-web-api` writes it: the whole annotation
/// decoded twice, the inner `<cookie page="N">…</cookie>` found in it and
/// escaped, `page` = N + 1.
fn dynamics_web_api_next(body: &Value) -> (u64, String) {
    let cookie = body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]
        .as_str()
        .expect("a paging cookie");
    let decoded = url_decode(&url_decode(cookie));
    let start = decoded.find("pagingcookie=\"").expect("pagingcookie") + "pagingcookie=\"".len();
    let end = decoded.rfind("</cookie>").expect("inner cookie end") + "</cookie>".len();
    let inner = &decoded[start..end];
    let page: u64 = inner["<cookie page=\"".len()..]
        .split('"')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("inner page");
    (page + 1, inner.to_string())
}

async fn five_pages_return_every_row_once(s: TestServer) {
    // Ten accounts, names repeating: only the primary key tells the rows of
    // one name apart, so pages are stable only if it is the last sort key.
    let mut ids = BTreeSet::new();
    for i in 0..10 {
        ids.insert(
            s.create("accounts", json!({"name": format!("Account {}", i % 3)}))
                .await,
        );
    }
    for next in [python_next, dynamics_web_api_next] {
        let mut seen = Vec::new();
        let mut attrs = String::new();
        for page in 1..=5u64 {
            let xml = format!(
                "<fetch count=\"2\"{attrs}><entity name=\"account\"><attribute name=\"name\"/><order attribute=\"name\"/></entity></fetch>"
            );
            let body = fetch_page(&s, &xml).await;
            let rows = body["value"].as_array().expect("value");
            assert_eq!(rows.len(), 2, "page {page}: {body}");
            seen.extend(
                rows.iter()
                    .filter_map(|r| r["accountid"].as_str().map(String::from)),
            );
            let more = page < 5;
            assert_eq!(
                body["@Microsoft.Dynamics.CRM.morerecords"], more,
                "page {page}: {body}"
            );
            if more {
                let (next_page, cookie) = next(&body);
                assert_eq!(next_page, page + 1, "{body}");
                attrs = format!(
                    " page=\"{next_page}\" paging-cookie=\"{}\"",
                    xml_attr(&cookie)
                );
            } else {
                assert!(
                    body.get("@Microsoft.Dynamics.CRM.fetchxmlpagingcookie")
                        .is_none(),
                    "no cookie on the last page (fetchAll would go on): {body}"
                );
            }
        }
        let distinct: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(seen.len(), 10, "{seen:?}");
        assert_eq!(distinct, ids, "every row exactly once");
    }
    // A page past the end is empty and says there are no more.
    let body = fetch_page(
        &s,
        "<fetch count=\"2\" page=\"6\"><entity name=\"account\"><attribute name=\"name\"/></entity></fetch>",
    )
    .await;
    assert_eq!(body["value"], json!([]), "{body}");
    assert_eq!(body["@Microsoft.Dynamics.CRM.morerecords"], false, "{body}");
}

async fn paging_annotations_only_when_asked(s: TestServer) {
    for i in 0..3 {
        s.create("accounts", json!({"name": format!("A{i}")})).await;
    }
    let xml =
        "<fetch count=\"2\"><entity name=\"account\"><attribute name=\"name\"/></entity></fetch>";
    let (st, body) = s.get(&format!("accounts?fetchXml={}", enc(xml))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(2), "{body}");
    assert!(
        body.get("@Microsoft.Dynamics.CRM.morerecords").is_none(),
        "{body}"
    );
    assert!(body.get("@odata.nextLink").is_none(), "{body}");
    // `odata.include-annotations="*"` (dynamics-web-api's includeAnnotations) too.
    let (_, _, body) = s
        .send(
            s.request(Method::GET, &format!("accounts?fetchXml={}", enc(xml)))
                .header("Prefer", "odata.include-annotations=\"*\""),
        )
        .await;
    assert_eq!(body["@Microsoft.Dynamics.CRM.morerecords"], true, "{body}");
    assert!(
        body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].is_string(),
        "{body}"
    );
}

async fn aggregates_group_and_order(s: TestServer) {
    let contoso = s
        .create(
            "accounts",
            json!({"name": "Contoso", "numberofemployees": 10, "revenue": 100.5}),
        )
        .await;
    s.create(
        "accounts",
        json!({"name": "Contoso", "numberofemployees": 30, "revenue": 200.0}),
    )
    .await;
    s.create(
        "accounts",
        json!({"name": "Fabrikam", "numberofemployees": 5}),
    )
    .await;
    for (first, birth) in [
        ("Ann", "1990-02-10"),
        ("Bob", "1990-11-01"),
        ("Bob", "1991-03-05"),
    ] {
        s.create(
            "contacts",
            json!({"firstname": first, "lastname": "Smith", "birthdate": format!("{birth}T00:00:00Z"),
                   "parentcustomerid_account@odata.bind": format!("/accounts({contoso})")}),
        )
        .await;
    }
    let xml = r#"<fetch aggregate="true"><entity name="account">
        <attribute name="name" groupby="true" alias="name" />
        <attribute name="accountid" aggregate="count" alias="n" />
        <attribute name="numberofemployees" aggregate="sum" alias="staff" />
        <attribute name="numberofemployees" aggregate="avg" alias="avgstaff" />
        <attribute name="numberofemployees" aggregate="min" alias="minstaff" />
        <attribute name="numberofemployees" aggregate="max" alias="maxstaff" />
        <attribute name="revenue" aggregate="countcolumn" alias="withrevenue" />
        <attribute name="revenue" aggregate="sum" alias="revenue" />
        <order alias="n" descending="true" />
    </entity></fetch>"#;
    let (st, body) = s.get(&format!("accounts?fetchXml={}", enc(xml))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body["value"],
        json!([
            {"name": "Contoso", "n": 2, "staff": 40, "avgstaff": 20.0, "minstaff": 10, "maxstaff": 30, "withrevenue": 2, "revenue": 300.5},
            {"name": "Fabrikam", "n": 1, "staff": 5, "avgstaff": 5.0, "minstaff": 5, "maxstaff": 5, "withrevenue": 0, "revenue": null},
        ]),
        "{body}"
    );
    // Group by a linked column and by year; countcolumn distinct.
    let xml = r#"<fetch aggregate="true"><entity name="contact">
        <attribute name="birthdate" groupby="true" dategrouping="year" alias="year" />
        <attribute name="firstname" aggregate="countcolumn" distinct="true" alias="names" />
        <attribute name="contactid" aggregate="count" alias="n" />
        <link-entity name="account" from="accountid" to="parentcustomerid" alias="a">
          <attribute name="name" groupby="true" alias="account" />
        </link-entity>
        <order alias="year" />
    </entity></fetch>"#;
    let (st, body) = s.get(&format!("contacts?fetchXml={}", enc(xml))).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        body["value"],
        json!([
            {"account": "Contoso", "year": 1990, "names": 2, "n": 2},
            {"account": "Contoso", "year": 1991, "names": 1, "n": 1},
        ]),
        "{body}"
    );
    // Month, quarter, week and day of one date.
    for (grouping, value) in [("month", 2), ("quarter", 1), ("week", 6), ("day", 10)] {
        let xml = format!(
            r#"<fetch aggregate="true"><entity name="contact">
            <attribute name="birthdate" groupby="true" dategrouping="{grouping}" alias="g" />
            <attribute name="contactid" aggregate="count" alias="n" />
            <filter><condition attribute="firstname" operator="eq" value="Ann" /></filter>
            </entity></fetch>"#
        );
        let (st, body) = s.get(&format!("contacts?fetchXml={}", enc(&xml))).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(
            body["value"],
            json!([{"g": value, "n": 1}]),
            "{grouping}: {body}"
        );
    }
    // Paging over groups.
    let xml = r#"<fetch aggregate="true" count="1" page="2"><entity name="account">
        <attribute name="name" groupby="true" alias="name" />
        <attribute name="accountid" aggregate="count" alias="n" />
    </entity></fetch>"#;
    let (_, body) = s.get(&format!("accounts?fetchXml={}", enc(xml))).await;
    assert_eq!(
        body["value"],
        json!([{"name": "Fabrikam", "n": 1}]),
        "{body}"
    );
    // A sum of text is a 400 naming the aggregate.
    let xml = r#"<fetch aggregate="true"><entity name="account"><attribute name="name" aggregate="sum" alias="s" /></entity></fetch>"#;
    let (st, body) = s.get(&format!("accounts?fetchXml={}", enc(xml))).await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(msg.contains("'sum'"), "{msg}");
}
