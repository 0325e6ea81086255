//! `$ref`: setting and clearing a lookup (single-valued) and adding and
//! removing a child of a one-to-many (collection-valued) — each an Update
//! through the pipeline, so Update steps fire.

use std::time::Duration;

use herald_testkit::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::batch::HEADERS;
use crate::common::{register, TestServer};

both_backends!(
    single_valued_refs_set_and_clear_a_lookup,
    collection_valued_refs_change_the_child
);

async fn single_valued_refs_set_and_clear_a_lookup(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Update", "account", 40, 0, json!({})).await;
    let a = s.create("accounts", json!({"name": "A"})).await;
    let c = s.create("contacts", json!({"lastname": "C"})).await;
    let (st, _, b) = s
        .send(
            s.request(Method::PUT, &format!("accounts({a})/primarycontactid/$ref"))
                .json(&json!({"@odata.id": format!("{}/contacts({c})", s.api)})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    let (_, got) = s
        .get(&format!("accounts({a})?$select=_primarycontactid_value"))
        .await;
    assert_eq!(got["_primarycontactid_value"], c.as_str());
    let calls = rx.wait_for(1, Duration::from_secs(5)).await;
    let ctx = calls[0].body_json();
    assert_eq!(ctx["MessageName"], "Update");
    assert!(ctx.to_string().contains("primarycontactid"), "{ctx}");
    assert_eq!(
        s.delete(&format!("accounts({a})/primarycontactid/$ref"))
            .await,
        StatusCode::NO_CONTENT
    );
    let (_, got) = s
        .get(&format!("accounts({a})?$select=_primarycontactid_value"))
        .await;
    assert!(got["_primarycontactid_value"].is_null(), "{got}");
    rx.wait_for(2, Duration::from_secs(5)).await;
    // A collection verb on a lookup is refused.
    let (st, _, _) = s
        .send(
            s.request(
                Method::POST,
                &format!("accounts({a})/primarycontactid/$ref"),
            )
            .json(&json!({"@odata.id": "x"})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

async fn collection_valued_refs_change_the_child(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Update", "contact", 40, 0, json!({})).await;
    let a = s.create("accounts", json!({"name": "A"})).await;
    let c = s.create("contacts", json!({"lastname": "C"})).await;
    let (st, _, b) = s
        .send(
            s.request(
                Method::POST,
                &format!("accounts({a})/contact_customer_accounts/$ref"),
            )
            .json(&json!({"@odata.id": format!("contacts({c})")})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    let (_, kids) = s
        .get(&format!(
            "accounts({a})/contact_customer_accounts?$select=lastname"
        ))
        .await;
    assert_eq!(kids["value"][0]["contactid"], c.as_str(), "{kids}");
    rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        s.delete(&format!(
            "accounts({a})/contact_customer_accounts({c})/$ref"
        ))
        .await,
        StatusCode::NO_CONTENT
    );
    let (_, kids) = s
        .get(&format!("accounts({a})/contact_customer_accounts"))
        .await;
    assert_eq!(kids["value"].as_array().map(Vec::len), Some(0), "{kids}");
    rx.wait_for(2, Duration::from_secs(5)).await;
}
