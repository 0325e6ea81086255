//! Change sets: atomic (a failed third request leaves no row and no System
//! Job), Content-ID references in URLs and bodies, sync steps inside the
//! transaction; requests outside change sets and continue-on-error.

use std::time::Duration;

use herald_testkit::{Behavior, Receiver};
use serde_json::json;

use super::{body, part, send, statuses, Item, HEADERS};
use crate::common::{register, TestServer};

both_backends!(
    a_failed_change_set_leaves_no_row_and_fires_no_webhook,
    content_ids_reference_rows_created_earlier,
    gets_outside_change_sets_and_continue_on_error,
    a_failing_sync_step_rolls_the_change_set_back,
);

async fn count(s: &TestServer, set: &str) -> usize {
    let (_, b) = s.get(set).await;
    b["value"].as_array().map(Vec::len).unwrap_or(0)
}

async fn a_failed_change_set_leaves_no_row_and_fires_no_webhook(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "account", 40, 1, json!({})).await;
    let cs = vec![
        part("POST", "accounts", Some(json!({"name": "one"}))).id("1"),
        part("POST", "accounts", Some(json!({"name": "two"}))).id("2"),
        part("POST", "accounts", Some(json!({"nosuchcolumn": 1}))).id("3"),
    ];
    let (st, ct, answer) = send(&s, body(&[Item::ChangeSet(cs)]), None).await;
    assert_eq!(st, 200, "{answer}");
    assert!(
        ct.starts_with("multipart/mixed; boundary=batchresponse_"),
        "{ct}"
    );
    assert_eq!(statuses(&answer), vec![400], "only the failure: {answer}");
    assert!(answer.contains("Content-ID: 3"), "{answer}");
    assert_eq!(
        count(&s, "accounts").await,
        0,
        "nothing of the change set is kept"
    );
    assert_eq!(
        count(&s, "asyncoperations").await,
        0,
        "no System Job: no webhook will fire"
    );
    assert!(rx.requests().is_empty());
}

async fn content_ids_reference_rows_created_earlier(s: TestServer) {
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Update", "account", 40, 1, json!({})).await;
    let cs = vec![
        part(
            "POST",
            format!("{}/accounts", s.api),
            Some(json!({"name": "parent"})),
        )
        .id("1"),
        part(
            "POST",
            "/api/data/v9.2/contacts",
            Some(json!({"lastname": "kid", "parentcustomerid_account@odata.bind": "$1"})),
        )
        .id("2"),
        part("PATCH", "$1", Some(json!({"name": "renamed"}))).id("3"),
        part(
            "PUT",
            "$1/primarycontactid/$ref",
            Some(json!({"@odata.id": "$2"})),
        )
        .id("4"),
    ];
    let (st, _, answer) = send(&s, body(&[Item::ChangeSet(cs)]), None).await;
    assert_eq!(st, 200);
    assert_eq!(statuses(&answer), vec![204, 204, 204, 204], "{answer}");
    assert!(answer.contains("boundary=changesetresponse_"), "{answer}");
    for id in 1..=4 {
        assert!(
            answer.contains(&format!("Content-ID: {id}\r\n")),
            "{answer}"
        );
    }
    assert!(answer.contains("OData-EntityId: "), "{answer}");
    let (_, accounts) = s
        .get("accounts?$select=name,_primarycontactid_value&$expand=contact_customer_accounts($select=lastname)")
        .await;
    let a = &accounts["value"][0];
    assert_eq!(a["name"], "renamed");
    assert_eq!(a["contact_customer_accounts"][0]["lastname"], "kid");
    assert_eq!(
        a["_primarycontactid_value"], a["contact_customer_accounts"][0]["contactid"],
        "{accounts}"
    );
    // Both Updates of the account (PATCH and $ref) fired the async step.
    rx.wait_for(2, Duration::from_secs(10)).await;
}

async fn gets_outside_change_sets_and_continue_on_error(s: TestServer) {
    s.create("accounts", json!({"name": "there"})).await;
    let items = || {
        vec![
            Item::One(part("GET", "accounts?$select=name", None)),
            Item::One(part("POST", "accounts", Some(json!({"bad": 1})))),
            Item::One(part("POST", "accounts", Some(json!({"name": "after"})))),
        ]
    };
    let (_, _, answer) = send(&s, body(&items()), None).await;
    assert_eq!(
        statuses(&answer),
        vec![200, 400],
        "stops at the failure: {answer}"
    );
    assert!(answer.contains("\"name\":\"there\""), "{answer}");
    assert_eq!(count(&s, "accounts").await, 1);
    let (_, _, answer) = send(&s, body(&items()), Some("odata.continue-on-error")).await;
    assert_eq!(statuses(&answer), vec![200, 400, 204], "{answer}");
    assert_eq!(count(&s, "accounts").await, 2);
}

async fn a_failing_sync_step_rolls_the_change_set_back(s: TestServer) {
    let rx = Receiver::start_with(Behavior::status(500)).await;
    let hook = register::webhook(&s, "h", &rx.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Create", "contact", 40, 0, json!({})).await;
    let cs = vec![
        part("POST", "accounts", Some(json!({"name": "a"}))).id("1"),
        part("POST", "contacts", Some(json!({"lastname": "c"}))).id("2"),
    ];
    let (_, _, answer) = send(&s, body(&[Item::ChangeSet(cs)]), None).await;
    assert_eq!(statuses(&answer), vec![502], "{answer}");
    assert_eq!(count(&s, "accounts").await, 0);
    assert_eq!(count(&s, "contacts").await, 0);
    assert!(
        !rx.requests().is_empty(),
        "the sync step ran inside the change set"
    );
}
