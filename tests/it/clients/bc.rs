//! The PyPI Business Central client `pybusinesscentral` (generated from
//! Microsoft's API v2.0 description), unchanged, against herald's BC API on
//! HTTPS: companies, a customer created without a number (number series,
//! documented defaults), read with `$expand`, listed with `$filter` and
//! `$select`, updated with its etag and refused (412) with a stale and a
//! foreign-looking one, a sales invoice for it read with its customer
//! expanded, lines added to it (from an item, and by hand), listed,
//! updated with their etag, expanded from the invoice whose totals they
//! roll up into, one deleted, both deleted. The generated models validate every answer, so
//! a field of the wrong type or shape fails the program.

use serde_json::json;

use super::harness::{https_server, Clients};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pybusinesscentral_customers_and_sales_invoices_over_https() {
    let test = "clients::bc::pybusinesscentral";
    let Some(clients) = Clients::installed(test).await else {
        return;
    };
    let s = https_server(test).await;
    let out = clients.python(&s, "bc.py").await;

    assert_eq!(out.step("companies")["count"], 1);
    let created = out.step("create");
    assert_eq!(
        created["number"], "C00010",
        "the customer number series: {created}"
    );
    assert_eq!(created["type"], "Company", "{created}");
    assert_eq!(created["blocked"], " ", "{created}");
    let got = out.step("get");
    assert_eq!(
        (&got["displayName"], &got["city"], &got["email"]),
        (
            &json!("Adatum Corporation"),
            &json!("Redmond"),
            &json!("info@adatum.example")
        ),
        "{got}"
    );
    assert!(
        got["etag"].as_str().is_some_and(|e| e.starts_with("W/")),
        "{got}"
    );
    assert_eq!(out.step("list")["numbers"], json!(["C00010"]));
    assert_eq!(out.step("update")["phoneNumber"], "555-0123");
    assert_eq!(
        out.step("staleUpdate")["statuses"],
        json!([412, 412]),
        "a stale etag and one that is not herald's are both 412"
    );
    let invoice = out.step("invoice");
    assert_eq!(invoice["status"], "Draft", "{invoice}");
    assert_eq!(
        invoice["number"], "102001",
        "the invoice number series: {invoice}"
    );
    assert_eq!(invoice["customerId"], created["id"], "{invoice}");
    assert_eq!(
        invoice["customerNumber"], "C00010",
        "$expand=customer: {invoice}"
    );
    assert_eq!(invoice["externalDocumentNumber"], "PO-4711");
    let lines = out.step("lines");
    assert_eq!(
        lines["lamp"],
        json!({"sequence": 10000, "lineType": "Item", "description": "AMSTERDAM Lamp", "unitPrice": 54.9, "amountIncludingTax": 137.25}),
        "the line is completed from its item: {lines}"
    );
    assert_eq!(
        lines["manual"],
        json!({"sequence": 20000, "amountExcludingTax": 10.0})
    );
    let with = out.step("invoiceLines");
    assert_eq!(with["patchedAmount"], 30.0, "{with}");
    assert_eq!(with["listed"], json!([10000, 20000]));
    assert_eq!(with["expanded"], json!(["AMSTERDAM Lamp", "Assembly"]));
    assert_eq!(
        (
            &with["totalAmountExcludingTax"],
            &with["totalTaxAmount"],
            &with["totalAmountIncludingTax"]
        ),
        (&json!(139.8), &json!(27.45), &json!(167.25)),
        "the invoice's totals are its lines' sums: {with}"
    );
    assert_eq!(out.step("lineDeleted")["totalAmountIncludingTax"], 30.0);
    assert_eq!(out.step("delete")["remaining"], 0);
}
