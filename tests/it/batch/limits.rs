//! What a batch may not be: more than 1000 requests, or a body that is not
//! a multipart batch — each a 400 with an OData error, never a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{body, part, send, Item};
use crate::common::{odata_error, TestServer};

both_backends!(more_than_1000_requests_is_a_400, malformed_bodies_are_400s);

async fn more_than_1000_requests_is_a_400(s: TestServer) {
    let items: Vec<Item> = (0..1001)
        .map(|_| Item::One(part("GET", "WhoAmI", None)))
        .collect();
    let (st, _, answer) = send(&s, body(&items), None).await;
    let json: Value = serde_json::from_str(&answer).expect("an OData error");
    let m = odata_error(st, &json, StatusCode::BAD_REQUEST);
    assert!(m.contains("1000"), "{m}");
    let items: Vec<Item> = (0..1000)
        .map(|_| Item::One(part("GET", "WhoAmI", None)))
        .collect();
    let (st, _, _) = send(&s, body(&items), None).await;
    assert_eq!(st, StatusCode::OK);
}

async fn malformed_bodies_are_400s(s: TestServer) {
    let good = body(&[Item::One(part("GET", "WhoAmI", None))]);
    let cases: Vec<(&str, String)> = vec![
        ("multipart/mixed; boundary=batch_test", String::new()),
        ("multipart/mixed; boundary=batch_test", "garbage".into()),
        (
            "multipart/mixed; boundary=batch_test",
            good[..good.len() / 2].to_string(),
        ),
        ("multipart/mixed", good.clone()),
        ("application/json", "{}".into()),
        (
            "multipart/mixed; boundary=batch_test",
            good.replace("GET WhoAmI HTTP/1.1", "GET"),
        ),
        (
            "multipart/mixed; boundary=batch_test",
            good.replace("application/http", "text/plain"),
        ),
    ];
    for (ct, b) in cases {
        let (st, _, text) = s
            .send(
                s.request(Method::POST, "$batch")
                    .header("Content-Type", ct)
                    .body(b.clone()),
            )
            .await;
        odata_error(st, &text, StatusCode::BAD_REQUEST);
    }
    let (st, _, _) = s.send(s.request(Method::GET, "$batch")).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
}
