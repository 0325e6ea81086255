//! BC fidelity of creates and etags: number series (`C00010`, `C00020`, …
//! per company, numbers taken by hand skipped, never the same number twice
//! under concurrent creates — on PostgreSQL across two nodes too), the
//! documented defaults (`type` `Company`, `blocked` `" "`, `status`
//! `Draft`), the documented customer fields, a foreign etag answered 412,
//! and the system fields of subscriptions.

use std::collections::HashSet;

use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::harness::{error_message, Bc};
use crate::common::Backend;

both_backends!(
    starts_own: creates_get_numbers_and_defaults,
    concurrent_creates_never_share_a_number,
    foreign_etags_are_stale_and_subscriptions_carry_system_fields,
);

async fn creates_get_numbers_and_defaults(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let first = s
        .create("customers", json!({"displayName": "Adatum"}))
        .await;
    assert_eq!(first["number"], "C00010", "{first}");
    assert_eq!(first["type"], "Company");
    assert_eq!(first["blocked"], " ");
    // A number given by hand is kept, and the series skips it later.
    let manual = s
        .create(
            "customers",
            json!({"displayName": "Hand", "number": "C00030", "type": "Person"}),
        )
        .await;
    assert_eq!(
        (manual["number"].clone(), manual["type"].clone()),
        (json!("C00030"), json!("Person"))
    );
    let second = s
        .create(
            "customers",
            json!({"displayName": "Fabrikam", "number": ""}),
        )
        .await;
    assert_eq!(second["number"], "C00020");
    let third = s
        .create("customers", json!({"displayName": "Contoso"}))
        .await;
    assert_eq!(third["number"], "C00040", "C00030 is taken");

    // The documented fields of a customer, with their types.
    let currency = uuid::Uuid::new_v4().to_string();
    let full = s
        .create(
            "customers",
            json!({
                "displayName": "Full", "salespersonCode": "JR", "taxAreaId": currency,
                "taxAreaDisplayName": "Atlanta, GA", "taxRegistrationNumber": "28012001T",
                "currencyId": currency, "paymentTermsId": currency,
                "shipmentMethodId": currency, "paymentMethodId": currency,
            }),
        )
        .await;
    for f in [
        "taxAreaId",
        "currencyId",
        "paymentTermsId",
        "shipmentMethodId",
        "paymentMethodId",
    ] {
        assert_eq!(full[f], json!(currency), "{f}");
    }
    assert_eq!(full["salespersonCode"], "JR");
    let (st, body) = s
        .post(
            &s.collection("customers"),
            json!({"currencyId": "not-a-guid"}),
        )
        .await;
    error_message(st, &body, StatusCode::BAD_REQUEST);

    // Other entities number their own way and have their own defaults.
    let v = s
        .create("vendors", json!({"displayName": "Fabrikam"}))
        .await;
    assert_eq!(
        (v["number"].clone(), v["blocked"].clone()),
        (json!("V00010"), json!(" "))
    );
    let i1 = s.create("items", json!({"displayName": "Bicycle"})).await;
    let i2 = s.create("items", json!({"displayName": "Saddle"})).await;
    assert_eq!(
        (
            i1["number"].clone(),
            i2["number"].clone(),
            i1["type"].clone()
        ),
        (json!("1000"), json!("1001"), json!("Inventory"))
    );
    let so = s
        .create("salesOrders", json!({"customerNumber": "C00010"}))
        .await;
    assert_eq!(
        (so["number"].clone(), so["status"].clone()),
        (json!("101001"), json!("Draft"))
    );
    let acc = s.create("accounts", json!({"displayName": "Cash"})).await;
    assert_eq!(acc["number"], "", "G/L accounts have no number series");

    // Each company has its own series.
    let other = uuid::Uuid::new_v4();
    let (st, _, body) = s
        .send(
            Method::POST,
            "/api/data/v9.2/bc_companies",
            Some(json!({"bc_companyid": other, "name": "Other"})),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, elsewhere) = s
        .post(
            &format!("companies({other})/customers"),
            json!({"displayName": "Elsewhere"}),
        )
        .await;
    assert_eq!(
        (st, elsewhere["number"].clone()),
        (StatusCode::CREATED, json!("C00010")),
        "{elsewhere}"
    );
}

async fn create_many(s: &Bc, n: usize, tag: &str) -> Vec<String> {
    let bodies = (0..n)
        .map(|i| json!({"displayName": format!("{tag}-{i}")}))
        .collect();
    s.post_concurrently(&s.collection("customers"), bodies)
        .await
        .into_iter()
        .map(|(st, b)| {
            assert_eq!(st, StatusCode::CREATED, "{b}");
            b["number"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

async fn concurrent_creates_never_share_a_number(b: Backend, test: &str) {
    let postgres = matches!(b, Backend::Postgres);
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let mut numbers = create_many(&s, 16, "a").await;
    if postgres {
        // Two nodes on one database draw from the same counter.
        let node2 = s.another_node().await;
        let (x, y) = tokio::join!(create_many(&s, 12, "b"), create_many(&node2, 12, "c"));
        numbers.extend(x);
        numbers.extend(y);
    }
    let distinct: HashSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), numbers.len(), "{numbers:?}");
    assert!(
        numbers.iter().all(|n| n.len() == 6 && n.starts_with('C')),
        "{numbers:?}"
    );
    let (_, list) = s
        .get(&format!("{}?$count=true&$top=1", s.collection("customers")))
        .await;
    assert_eq!(list["@odata.count"], json!(numbers.len()));
}

async fn foreign_etags_are_stale_and_subscriptions_carry_system_fields(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let c = s
        .create("customers", json!({"displayName": "Adatum"}))
        .await;
    let one = format!(
        "{}({})",
        s.collection("customers"),
        c["id"].as_str().unwrap()
    );
    let foreign = "W/\"JzQ0O0pBQUFBQUFBQUFBQUFBQUFBQUFBQUFBPTsn\"";
    for (method, body) in [
        (Method::PATCH, Some(json!({"city": "Boston"}))),
        (Method::DELETE, None),
    ] {
        let (st, _, err) = s
            .send(method.clone(), &one, body, &[("If-Match", foreign)])
            .await;
        assert_eq!(
            err["error"]["code"], "Request_EntityChanged",
            "{method} {err}"
        );
        error_message(st, &err, StatusCode::PRECONDITION_FAILED);
    }
    let (st, _, err) = s
        .send(
            Method::PATCH,
            &one,
            Some(json!({"city": "Boston"})),
            &[("If-Match", "not an etag")],
        )
        .await;
    error_message(st, &err, StatusCode::BAD_REQUEST);

    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let created = sub["systemCreatedAt"]
        .as_str()
        .unwrap_or_else(|| panic!("{sub}"));
    assert!(created.ends_with('Z'), "{sub}");
    assert_eq!(sub["systemModifiedAt"], sub["lastModifiedDateTime"]);
    assert_eq!(sub["systemCreatedBy"], sub["userId"]);
    let id = sub["subscriptionId"].as_str().unwrap();
    let path = format!("subscriptions('{id}')");
    let (st, _, err) = s
        .send(Method::DELETE, &path, None, &[("If-Match", foreign)])
        .await;
    error_message(st, &err, StatusCode::PRECONDITION_FAILED);
    s.advance(chrono::Duration::seconds(10));
    let (st, _, renewed) = s
        .send(
            Method::PATCH,
            &path,
            Some(json!({})),
            &[("If-Match", sub["@odata.etag"].as_str().unwrap())],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["systemCreatedAt"], Value::from(created));
    assert_ne!(renewed["systemModifiedAt"], renewed["systemCreatedAt"]);
}
