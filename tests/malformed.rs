//! Hundreds of malformed requests: every answer is a 4xx with an OData
//! error body (or a success), never a 5xx, and the server stays up.

mod common;

use common::{Backend, TestServer};
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
