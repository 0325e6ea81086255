//! Sales invoice lines (`salesInvoices(<id>)/salesInvoiceLines`): created
//! under their invoice or at the company with `documentId`, completed from
//! their item or account, numbered 10000, 20000, …, their amounts computed
//! and rolled up into the invoice's totals; read, listed, `$expand`ed from
//! the invoice, updated with `If-Match` and deleted (with the invoice too);
//! concurrent line writes of one invoice leave the right totals; and a
//! line change notifies the invoice's subscribers (lines themselves support
//! no webhooks, as in Business Central).

use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::harness::{error_message, notifications, values, Bc};
use crate::common::Backend;

both_backends!(
    starts_own: lines_roll_up_into_the_invoice,
    concurrent_lines_keep_the_totals_right,
    line_changes_notify_the_invoice_subscribers,
    order_quote_and_credit_memo_lines_roll_up_too,
    purchase_invoice_lines_are_priced_by_unit_cost,
);

fn lines_of(s: &Bc, invoice: &Value) -> String {
    format!(
        "{}({})/salesInvoiceLines",
        s.collection("salesInvoices"),
        invoice["id"].as_str().unwrap()
    )
}

async fn totals(s: &Bc, invoice: &Value) -> (f64, f64, f64) {
    let (st, inv) = s
        .get(&format!(
            "{}({})",
            s.collection("salesInvoices"),
            invoice["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{inv}");
    let n = |f: &str| inv[f].as_f64().unwrap_or_else(|| panic!("{f}: {inv}"));
    (
        n("totalAmountExcludingTax"),
        n("totalTaxAmount"),
        n("totalAmountIncludingTax"),
    )
}

async fn lines_roll_up_into_the_invoice(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let pcs = s
        .create(
            "unitsOfMeasure",
            json!({"code": "PCS", "displayName": "Piece"}),
        )
        .await;
    let lamp = s
        .create(
            "items",
            json!({"number": "1928-S", "displayName": "AMSTERDAM Lamp", "unitPrice": 54.9, "baseUnitOfMeasureCode": "PCS", "baseUnitOfMeasureId": pcs["id"]}),
        )
        .await;
    let freight = s
        .create(
            "accounts",
            json!({"number": "6810", "displayName": "Freight"}),
        )
        .await;
    let customer = s
        .create("customers", json!({"displayName": "Adatum"}))
        .await;
    let invoice = s
        .create("salesInvoices", json!({"customerId": customer["id"]}))
        .await;
    let inv_id = invoice["id"].as_str().unwrap().to_string();
    let path = lines_of(&s, &invoice);

    // An item line: completed from the item, amounts computed.
    let (st, h, line) = s
        .send(
            Method::POST,
            &path,
            Some(json!({"itemId": lamp["id"], "quantity": 3, "discountPercent": 10, "taxPercent": 25})),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{line}");
    assert_eq!(line["documentId"], inv_id);
    assert_eq!(line["lineType"], "Item");
    assert_eq!(line["lineObjectNumber"], "1928-S");
    assert_eq!(line["description"], "AMSTERDAM Lamp");
    assert_eq!(line["unitPrice"], 54.9);
    assert_eq!(line["unitOfMeasureCode"], "PCS");
    assert_eq!(line["unitOfMeasureId"], pcs["id"]);
    assert_eq!(line["sequence"], 10000);
    assert_eq!(line["discountAmount"], 16.47);
    assert_eq!(line["amountExcludingTax"], 148.23);
    assert_eq!(line["totalTaxAmount"], 37.06);
    assert_eq!(line["amountIncludingTax"], 185.29);
    assert_eq!(line["netAmount"], 148.23);
    assert_eq!(line["accountId"], "00000000-0000-0000-0000-000000000000");
    assert!(line["@odata.context"].as_str().unwrap().ends_with(&format!(
        "salesInvoices({inv_id})/salesInvoiceLines/$entity"
    )));
    let line_id = line["id"].as_str().unwrap().to_string();
    assert!(h["location"]
        .to_str()
        .unwrap()
        .ends_with(&format!("salesInvoiceLines({line_id})")));
    assert_eq!(totals(&s, &invoice).await, (148.23, 37.06, 185.29));

    // An account line at the company, by documentId and the account's number.
    let (st, acct) = s
        .post(
            &s.collection("salesInvoiceLines"),
            json!({"documentId": inv_id, "lineType": "Account", "lineObjectNumber": "6810", "quantity": 1, "unitPrice": 20, "discountAmount": 5}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{acct}");
    assert_eq!(acct["accountId"], freight["id"]);
    assert_eq!(acct["description"], "Freight");
    assert_eq!(acct["sequence"], 20000);
    assert_eq!(
        acct["discountPercent"], 25.0,
        "the percent follows the amount"
    );
    assert_eq!(acct["amountExcludingTax"], 15.0);
    assert_eq!(totals(&s, &invoice).await, (163.23, 37.06, 200.29));

    // Read back: nested list in sequence order, by (quoted) id, at the
    // company with a documentId filter, and expanded from the invoice.
    let (st, list) = s.get(&path).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let seqs: Vec<&Value> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["sequence"])
        .collect();
    assert_eq!(seqs, [&json!(10000), &json!(20000)]);
    let (st, one) = s.get(&format!("{path}('{line_id}')?$expand=item")).await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert_eq!(one["item"]["number"], "1928-S");
    let (st, filtered) = s
        .get(&format!(
            "{}?$filter=documentId eq {inv_id} and lineType eq 'Account'",
            s.collection("salesInvoiceLines")
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{filtered}");
    assert_eq!(filtered["value"].as_array().unwrap().len(), 1, "{filtered}");
    let (_, expanded) = s
        .get(&format!(
            "{}?$expand=salesInvoiceLines,customer",
            s.collection("salesInvoices")
        ))
        .await;
    let inv = &expanded["value"][0];
    assert_eq!(
        inv["salesInvoiceLines"].as_array().unwrap().len(),
        2,
        "{inv}"
    );
    assert_eq!(inv["salesInvoiceLines"][0]["id"], line_id.as_str());
    assert_eq!(inv["customer"]["displayName"], "Adatum");
    let (_, single) = s
        .get(&format!(
            "{}({inv_id})?$expand=salesInvoiceLines",
            s.collection("salesInvoices")
        ))
        .await;
    assert_eq!(
        single["salesInvoiceLines"][1]["lineType"], "Account",
        "{single}"
    );
    // Another invoice's path does not reach this line.
    let other = s.create("salesInvoices", json!({})).await;
    let (st, body) = s.get(&format!("{}({line_id})", lines_of(&s, &other))).await;
    error_message(st, &body, StatusCode::NOT_FOUND);

    // PATCH needs If-Match; a stale etag is 412; the computed fields are read-only.
    let url = format!("{path}({line_id})");
    let (st, _, body) = s
        .send(Method::PATCH, &url, Some(json!({"quantity": 4})), &[])
        .await;
    error_message(st, &body, StatusCode::PRECONDITION_REQUIRED);
    let etag = line["@odata.etag"].as_str().unwrap().to_string();
    let (st, _, updated) = s
        .send(
            Method::PATCH,
            &url,
            Some(json!({"quantity": 4})),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{updated}");
    assert_eq!(updated["amountExcludingTax"], 197.64, "{updated}");
    assert_eq!(updated["discountPercent"], 10.0);
    assert_eq!(totals(&s, &invoice).await, (212.64, 49.41, 262.05));
    let (st, _, body) = s
        .send(
            Method::PATCH,
            &url,
            Some(json!({"quantity": 5})),
            &[("If-Match", &etag)],
        )
        .await;
    error_message(st, &body, StatusCode::PRECONDITION_FAILED);
    for bad in [
        json!({"amountExcludingTax": 1}),
        json!({"documentId": other["id"]}),
        json!({"lineType": "Widget"}),
    ] {
        let (st, _, body) = s
            .send(Method::PATCH, &url, Some(bad.clone()), &[("If-Match", "*")])
            .await;
        error_message(st, &body, StatusCode::BAD_REQUEST);
    }
    let (st, body) = s
        .post(&s.collection("salesInvoiceLines"), json!({"quantity": 1}))
        .await;
    assert!(
        error_message(st, &body, StatusCode::BAD_REQUEST).contains("documentId"),
        "{body}"
    );
    assert_eq!(
        totals(&s, &invoice).await,
        (212.64, 49.41, 262.05),
        "refusals change nothing"
    );

    // DELETE a line, then the invoice with the other.
    let (st, _, _) = s.send(Method::DELETE, &url, None, &[]).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(totals(&s, &invoice).await, (15.0, 0.0, 15.0));
    let (st, _, _) = s
        .send(
            Method::DELETE,
            &format!("{}({inv_id})", s.collection("salesInvoices")),
            None,
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, left) = s.get(&s.collection("salesInvoiceLines")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(left["value"], json!([]), "the invoice's lines went with it");
}

async fn concurrent_lines_keep_the_totals_right(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let invoice = s.create("salesInvoices", json!({})).await;
    let bodies = (1..=8)
        .map(|i| json!({"description": format!("L{i}"), "lineType": "Item", "quantity": i, "unitPrice": 10}))
        .collect();
    // lineType Item without an item: accepted as given, priced as sent.
    for (st, body) in s.post_concurrently(&lines_of(&s, &invoice), bodies).await {
        assert_eq!(st, StatusCode::CREATED, "{body}");
    }
    assert_eq!(totals(&s, &invoice).await, (360.0, 0.0, 360.0));
    let (_, list) = s.get(&lines_of(&s, &invoice)).await;
    let mut seqs: Vec<i64> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sequence"].as_i64().unwrap())
        .collect();
    seqs.dedup();
    assert_eq!(seqs, (1..=8).map(|i| i * 10000).collect::<Vec<_>>());
}

async fn line_changes_notify_the_invoice_subscribers(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let (st, body) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": s.resource("salesInvoiceLines")}),
        )
        .await;
    assert!(
        error_message(st, &body, StatusCode::BAD_REQUEST).contains("salesInvoices"),
        "{body}"
    );
    let invoice = s.create("salesInvoices", json!({})).await;
    let quiet = s.create("salesInvoices", json!({})).await;
    s.subscribe(&rx.url(), "salesInvoices", None).await;
    for q in 1..=3 {
        s.post(
            &lines_of(&s, &invoice),
            json!({"lineType": "Comment", "description": "x", "quantity": q, "unitPrice": 1}),
        )
        .await;
    }
    // A comment-only change leaves the totals alone: no Update of `quiet`.
    s.post(&lines_of(&s, &quiet), json!({"description": "note"}))
        .await;
    let r = s.after_window().await;
    assert_eq!((r.posts, r.delivered), (1, 1), "{r:?}");
    let v = values(&notifications(&rx)[0]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["changeType"], "updated");
    assert!(v[0]["resource"].as_str().unwrap().ends_with(&format!(
        "salesInvoices({})",
        invoice["id"].as_str().unwrap()
    )));
}

/// The other sales documents' lines work the same way: under their
/// document, expanded from it, rolled up into its totals.
async fn order_quote_and_credit_memo_lines_roll_up_too(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    for (documents, lines) in [
        ("salesOrders", "salesOrderLines"),
        ("salesQuotes", "salesQuoteLines"),
        ("salesCreditMemos", "salesCreditMemoLines"),
    ] {
        let doc = s.create(documents, json!({})).await;
        let id = doc["id"].as_str().unwrap().to_string();
        let path = format!("{}({id})/{lines}", s.collection(documents));
        let (st, line) = s
            .post(&path, json!({"lineType": "Item", "description": "x", "quantity": 2, "unitPrice": 12.5, "taxPercent": 10}))
            .await;
        assert_eq!(st, StatusCode::CREATED, "{lines}: {line}");
        assert_eq!(line["amountIncludingTax"], 27.5, "{lines}: {line}");
        let (st, got) = s
            .get(&format!(
                "{}({id})?$expand={lines}",
                s.collection(documents)
            ))
            .await;
        assert_eq!(st, StatusCode::OK, "{got}");
        assert_eq!(got[lines][0]["id"], line["id"], "{documents}: {got}");
        assert_eq!(got["totalAmountIncludingTax"], 27.5, "{documents}: {got}");
        assert_eq!(got["totalTaxAmount"], 2.5, "{documents}: {got}");
    }
}

/// Purchase invoice lines are priced by `unitCost`: an item line takes the
/// item's cost (not its sales price), and the invoice's totals roll up.
async fn purchase_invoice_lines_are_priced_by_unit_cost(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let item = s
        .create(
            "items",
            json!({"number": "1896-S", "displayName": "ATHENS Desk", "unitPrice": 1000.8, "unitCost": 780.7}),
        )
        .await;
    let inv = s.create("purchaseInvoices", json!({})).await;
    let id = inv["id"].as_str().unwrap().to_string();
    let path = format!(
        "{}({id})/purchaseInvoiceLines",
        s.collection("purchaseInvoices")
    );
    let (st, line) = s
        .post(&path, json!({"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2, "taxPercent": 10}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{line}");
    assert_eq!(line["itemId"], item["id"], "{line}");
    assert_eq!(line["unitCost"], 780.7, "{line}");
    assert!(line.get("unitPrice").is_none(), "{line}");
    assert_eq!(line["amountExcludingTax"], 1561.4, "{line}");
    assert_eq!(line["sequence"], 10000, "{line}");
    // unitPrice is not a purchase line's field; the computed ones are read-only.
    let (st, body) = s
        .post(
            &path,
            json!({"lineType": "Comment", "description": "x", "amountExcludingTax": 1}),
        )
        .await;
    let msg = error_message(st, &body, StatusCode::BAD_REQUEST);
    assert!(msg.contains("unitCost"), "{msg}");
    let (st, got) = s
        .get(&format!(
            "{}({id})?$expand=purchaseInvoiceLines",
            s.collection("purchaseInvoices")
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{got}");
    assert_eq!(got["purchaseInvoiceLines"][0]["id"], line["id"], "{got}");
    assert_eq!(got["totalAmountExcludingTax"], 1561.4, "{got}");
    assert_eq!(got["totalAmountIncludingTax"], 1717.54, "{got}");
}
