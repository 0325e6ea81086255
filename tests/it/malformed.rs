//! Hundreds of malformed requests: every answer is a 4xx with an OData
//! error body (or a success), never a 5xx, and the server stays up.

use crate::common::{odata_error, Backend, TestServer};
use reqwest::Method;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PATHS: &[&str] = &[
    "contacts",
    "contacts(",
    "contacts()",
    "contacts(@)",
    "contacts(@x)",
    "contacts(00000000-0000-0000-0000-000000000000)",
    "contacts(6d81597f-0f9f-e711-8122-000d3aa2331c)/",
    "contacts(6d81597f-0f9f-e711-8122-000d3aa2331c)/nav",
    "accounts(1)",
    "%ZZ",
    "contacts%28x%29",
    "..%2F..%2Fetc",
    "WhoAmI(",
    "$metadata",
    "serviceendpoints",
    "asyncoperations(x)",
    "a/b/c/d",
    "",
    "sdkmessageprocessingsteps(@id)?@id=nope",
    "contacts('x')",
    "contacts(contactid=6d81597f-0f9f-e711-8122-000d3aa2331c)",
];
const QUERIES: &[&str] = &[
    "", "$filter=", "$filter=(", "$filter=firstname eq", "$filter=firstname eq 'x", "$filter=not not not", "$filter=contains(",
    "$filter=startswith(lastname,'a') and", "$filter=createdon gt 2020-13-45", "$filter=_parentcustomerid_value eq 123",
    "$filter=firstname eq @p&@p=", "$filter=firstname in ()", "$select=,,", "$select=a b", "$orderby=firstname sideways",
    "$top=-1", "$top=abc", "$top=99999999999999999999999", "$expand=(", "$expand=nosuch($select=x)", "$count=maybe", "$skip=1",
    "$format=json", "$search=x", "$apply=groupby((x))", "fetchXml=<fetch", "fetchXml=<fetch><entity name='contact'><filter><condition attribute='x' operator='eq' value='1'/></filter></entity></fetch>",
    "fetchXml=%3Cfetch%3E%3Centity%20name%3D%27nosuch%27%2F%3E%3C%2Ffetch%3E", "$skiptoken=!!!", "$filter=firstname eq '\u{1F600}'",
    "$filter=((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x",
    "$filter=firstname%20eq%20%27%E2%82%AC%27", "$select=authvalue", "$filter=authvalue eq 'x'",
];
const BODIES: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    "1",
    "\"x\"",
    "{\"firstname\":}",
    "{\"firstname\":[1]}",
    "{\"firstname\":{\"a\":1}}",
    "{\"birthdate\":\"yesterday\"}",
    "{\"gendercode\":99}",
    "{\"gendercode\":\"1\"}",
    "{\"creditlimit\":\"lots\"}",
    "{\"donotemail\":\"yes\"}",
    "{\"contactid\":\"nope\"}",
    "{\"parentcustomerid_account@odata.bind\":\"/contacts(x)\"}",
    "{\"parentcustomerid_account@odata.bind\":5}",
    "{\"parentcustomerid_account@odata.bind\":\"/accounts(6d81597f-0f9f-e711-8122-000d3aa2331c)\"}",
    "{\"_parentcustomerid_value\":\"6d81597f-0f9f-e711-8122-000d3aa2331c\"}",
    "{\"versionnumber\":3}",
    "{\"firstname\":\"\u{0000}\"}",
    "{\"numberofemployees\":1e400}",
    "{\"numberofemployees\":99999999999}",
    "\u{FEFF}{}",
    "{\"name\":\"a\",\"name\":\"b\"}",
];
const METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PATCH,
    Method::DELETE,
    Method::PUT,
];

async fn throw_garbage(s: TestServer, seed: u64) {
    let mut rng = Rng(seed);
    for i in 0..300 {
        let path = rng.pick(PATHS);
        let query = rng.pick(QUERIES);
        let body = rng.pick(BODIES);
        let method = METHODS[(rng.next() % METHODS.len() as u64) as usize].clone();
        let url = if query.is_empty() {
            format!("{}/{}", s.api, path)
        } else {
            format!("{}/{}?{}", s.api, path, query)
        };
        let mut rb = s
            .client
            .request(method.clone(), &url)
            .bearer_auth(&s.key)
            .body(body.to_string());
        if rng.next().is_multiple_of(3) {
            rb = rb.header("If-Match", rng.pick(&["*", "W/\"x\"", "\"1\"", ""]));
        }
        if rng.next().is_multiple_of(4) {
            rb = rb.header(
                "Prefer",
                rng.pick(&[
                    "odata.maxpagesize=0",
                    "odata.maxpagesize=-5",
                    "return=representation",
                    "odata.include-annotations=\"*\"",
                ]),
            );
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => continue, // reqwest refused to build the URL itself
            Err(e) => panic!("request {i} {method} {url} failed at the transport level: {e}"),
        };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "request {i}: {method} {url} body {body:?} → {status} {text}"
        );
        if status.is_client_error() {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| {
                panic!("request {i}: {method} {url} → {status} without an OData body: {text}")
            });
            assert!(
                v["error"]["code"].is_string() && v["error"]["message"].is_string(),
                "request {i}: {method} {url} → {text}"
            );
        }
    }
    let (st, _) = s.get("WhoAmI").await;
    assert!(st.is_success(), "server still answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_never_produce_5xx_on_sqlite() {
    let s = TestServer::start(Backend::Sqlite, "malformed")
        .await
        .unwrap();
    throw_garbage(s, 0x9E37_79B9_7F4A_7C15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_never_produce_5xx_on_postgres() {
    if let Some(s) = TestServer::start(Backend::Postgres, "malformed").await {
        throw_garbage(s, 0x2545_F491_4F6C_DD1D).await;
    }
}

both_backends!(
    nul_characters_are_rejected_with_400,
    like_pattern_with_a_trailing_backslash_is_literal,
    distinct_fetch_ordered_by_an_unselected_column,
);

/// Percent-encode a FetchXML document for the `fetchXml` query option.
fn fetch(set: &str, xml: &str) -> String {
    let mut out = format!("{set}?fetchXml=");
    for b in xml.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// PostgreSQL text cannot hold U+0000: every way of sending one is a 400
/// naming the problem, on both stores alike.
async fn nul_characters_are_rejected_with_400(s: TestServer) {
    // A JSON string escape in a body, on create and update.
    for (method, path) in [
        (Method::POST, "contacts"),
        (
            Method::PATCH,
            "contacts(6d81597f-0f9f-e711-8122-000d3aa2331c)",
        ),
    ] {
        let (st, _, body) = s
            .send(
                s.request(method.clone(), path)
                    .header("Content-Type", "application/json")
                    .body(r#"{"firstname":"a\u0000b"}"#),
            )
            .await;
        let msg = odata_error(st, &body, reqwest::StatusCode::BAD_REQUEST);
        assert!(
            msg.contains("NUL") && msg.contains("firstname"),
            "{method} {path}: {msg}"
        );
    }
    // In a property name too.
    let (st, _, body) = s
        .send(
            s.request(Method::POST, "contacts")
                .body(r#"{"first\u0000name":"x"}"#),
        )
        .await;
    assert!(odata_error(st, &body, reqwest::StatusCode::BAD_REQUEST).contains("NUL"));
    // An OData string literal, directly and through a parameter alias.
    for q in [
        "contacts?$filter=firstname eq '%00'",
        "contacts?$filter=firstname eq @p&@p='a%00'",
        "contacts?$filter=contains(firstname,'%00')",
    ] {
        let (st, body) = s.get(q).await;
        let msg = odata_error(st, &body, reqwest::StatusCode::BAD_REQUEST);
        assert!(
            msg.contains("NUL") && msg.contains("position"),
            "{q}: {msg}"
        );
    }
    // FetchXML: a raw NUL is not XML, and neither is a character reference to it.
    for xml in [
        "<fetch><entity name='contact'><filter><condition attribute='firstname' operator='eq' value='a\u{0}'/></filter></entity></fetch>",
        "<fetch><entity name='contact'><filter><condition attribute='firstname' operator='eq' value='a&#0;'/></filter></entity></fetch>",
        "<fetch><entity name='contact'><filter><condition attribute='firstname' operator='in'><value>a&#x0;</value></condition></filter></entity></fetch>",
        "<fetch><entity name='contact'><filter><condition attribute='firstname' operator='like' value='%&#0;%'/></filter></entity></fetch>",
    ] {
        let (st, body) = s.get(&fetch("contacts", xml)).await;
        let msg = odata_error(st, &body, reqwest::StatusCode::BAD_REQUEST);
        assert!(msg.contains("position"), "{xml}: {msg}");
    }
    let (_, body) = s.get("contacts?$count=true").await;
    assert_eq!(body["@odata.count"], 0, "nothing was written: {body}");
}

/// A FetchXML like / not-like value ending in a lone `\` (the escape
/// character) matches a literal backslash, the same on both stores.
async fn like_pattern_with_a_trailing_backslash_is_literal(s: TestServer) {
    s.create("contacts", serde_json::json!({"firstname": "back\\"}))
        .await;
    s.create("contacts", serde_json::json!({"firstname": "backs"}))
        .await;
    for (op, value, expected) in [
        ("like", "back\\", vec!["back\\"]),
        ("like", "%\\", vec!["back\\"]),
        ("like", "back\\\\", vec!["back\\"]),
        ("not-like", "back\\", vec!["backs"]),
        ("like", "%k\\_", vec![]),
    ] {
        let xml = format!(
            "<fetch><entity name='contact'><attribute name='firstname'/><order attribute='firstname'/>\
             <filter><condition attribute='firstname' operator='{op}' value='{value}'/></filter></entity></fetch>"
        );
        let (st, body) = s.get(&fetch("contacts", &xml)).await;
        assert_eq!(st, reqwest::StatusCode::OK, "{op} {value}: {body}");
        let names: Vec<&str> = body["value"]
            .as_array()
            .map(|v| v.iter().filter_map(|r| r["firstname"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, expected, "{op} {value}");
    }
}

/// `<fetch distinct="true">` ordered by a column it does not select: the
/// order column is added to the (distinct) select list and returned.
async fn distinct_fetch_ordered_by_an_unselected_column(s: TestServer) {
    let acc = s
        .create("accounts", serde_json::json!({"name": "Contoso"}))
        .await;
    for (first, last) in [("Ann", "Zed"), ("Bob", "Abe"), ("Cid", "Abe")] {
        s.create(
            "contacts",
            serde_json::json!({"firstname": first, "lastname": last,
                "parentcustomerid_account@odata.bind": format!("/accounts({acc})")}),
        )
        .await;
    }
    let xml = "<fetch distinct='true'><entity name='account'><attribute name='name'/>\
        <link-entity name='contact' from='parentcustomerid' to='accountid' alias='c'>\
        <order attribute='lastname'/></link-entity></entity></fetch>";
    let (st, body) = s.get(&fetch("accounts", xml)).await;
    assert_eq!(st, reqwest::StatusCode::OK, "{body}");
    let rows = body["value"].as_array().cloned().unwrap_or_default();
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["c.lastname"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Contoso".into(), "Abe".into()),
            ("Contoso".into(), "Zed".into())
        ],
        "{body}"
    );
    // On the primary entity too, descending.
    let xml = "<fetch distinct='true'><entity name='contact'><attribute name='firstname'/>\
        <order attribute='lastname' descending='true'/><order attribute='firstname'/></entity></fetch>";
    let (st, body) = s.get(&fetch("contacts", xml)).await;
    assert_eq!(st, reqwest::StatusCode::OK, "{body}");
    let firsts: Vec<&str> = body["value"]
        .as_array()
        .map(|v| v.iter().filter_map(|r| r["firstname"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(firsts, vec!["Ann", "Bob", "Cid"], "{body}");
}
