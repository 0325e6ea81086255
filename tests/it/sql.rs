//! `GET <set>?sql=SELECT …` as Microsoft's Python client sends it
//! (`client.query.sql()`, issue 13 item 4): the documented subset — joins,
//! aggregates, TOP, OFFSET/FETCH — answers from herald's query model, and
//! every statement outside it (DDL, DML, subqueries, comments, stacked
//! queries, …; the list herald-core's unit tests share) is a 400 with an
//! OData error body, on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{enc, odata_error, TestServer};

both_backends!(
    joins_and_aggregates_answer,
    statements_outside_the_subset_are_refused
);

async fn sql(s: &TestServer, set: &str, statement: &str) -> (StatusCode, Value) {
    s.get(&format!("{set}?sql={}", enc(statement))).await
}

async fn rows(s: &TestServer, set: &str, statement: &str) -> Value {
    let (st, body) = sql(s, set, statement).await;
    assert_eq!(st, StatusCode::OK, "{statement}: {body}");
    body["value"].clone()
}

/// Only the named keys of each row (herald also returns the primary key
/// and the etag of plain selects).
fn only(rows: &Value, keys: &[&str]) -> Value {
    Value::Array(
        rows.as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                Value::Object(
                    keys.iter()
                        .map(|k| (k.to_string(), r[*k].clone()))
                        .collect(),
                )
            })
            .collect(),
    )
}

async fn joins_and_aggregates_answer(s: TestServer) {
    let mut accounts = Vec::new();
    for (name, staff) in [("Contoso", 10), ("Fabrikam", 5), ("Adatum", 1)] {
        accounts.push(
            s.create(
                "accounts",
                json!({"name": name, "numberofemployees": staff}),
            )
            .await,
        );
    }
    for (first, account) in [("Ann", 0), ("Bob", 0), ("Cy", 0), ("Di", 1)] {
        s.create(
            "contacts",
            json!({"firstname": first, "lastname": "Smith",
                   "parentcustomerid_account@odata.bind": format!("/accounts({})", accounts[account])}),
        )
        .await;
    }
    // The client's documented example: a JOIN with an aggregate.
    let got = rows(
        &s,
        "accounts",
        "SELECT a.name, COUNT(c.contactid) as cnt FROM account a JOIN contact c ON a.accountid = c.parentcustomerid GROUP BY a.name ORDER BY cnt DESC",
    )
    .await;
    assert_eq!(
        got,
        json!([{"name": "Contoso", "cnt": 3}, {"name": "Fabrikam", "cnt": 1}])
    );
    // LEFT JOIN keeps the account without contacts.
    let got = rows(
        &s,
        "accounts",
        "SELECT a.name, COUNT(c.contactid) AS cnt FROM account a LEFT JOIN contact c ON c.parentcustomerid = a.accountid GROUP BY a.name ORDER BY a.name",
    )
    .await;
    assert_eq!(
        got,
        json!([{"name": "Adatum", "cnt": 0}, {"name": "Contoso", "cnt": 3}, {"name": "Fabrikam", "cnt": 1}])
    );
    // Aggregates over the whole table.
    let got = rows(
        &s,
        "accounts",
        "SELECT COUNT(*) AS n, SUM(numberofemployees) AS staff, MIN(numberofemployees), MAX(numberofemployees) FROM account",
    )
    .await;
    assert_eq!(
        got,
        json!([{"n": 3, "staff": 16, "min_numberofemployees": 1, "max_numberofemployees": 10}])
    );
    // A plain select with TOP, WHERE and ORDER BY.
    let got = rows(
        &s,
        "accounts",
        "SELECT TOP 2 name, numberofemployees FROM account WHERE numberofemployees >= 5 OR name LIKE 'ada%' ORDER BY numberofemployees DESC",
    )
    .await;
    assert_eq!(
        only(&got, &["name", "numberofemployees"]),
        json!([{"name": "Contoso", "numberofemployees": 10}, {"name": "Fabrikam", "numberofemployees": 5}])
    );
    // Columns of a joined table come back as alias.column.
    let got = rows(
        &s,
        "contacts",
        "SELECT c.firstname, a.name FROM contact c JOIN account a ON c.parentcustomerid = a.accountid WHERE a.name = 'Fabrikam'",
    )
    .await;
    assert_eq!(
        only(&got, &["firstname", "a.name"]),
        json!([{"firstname": "Di", "a.name": "Fabrikam"}])
    );
    // OFFSET … FETCH NEXT.
    let got = rows(
        &s,
        "accounts",
        "SELECT name FROM account ORDER BY name OFFSET 1 ROWS FETCH NEXT 1 ROWS ONLY",
    )
    .await;
    assert_eq!(only(&got, &["name"]), json!([{"name": "Contoso"}]));
    // IN, BETWEEN, IS NULL and DISTINCT.
    let got = rows(
        &s,
        "contacts",
        "SELECT DISTINCT lastname FROM contact WHERE firstname IN ('Ann', 'Di') AND parentcustomerid IS NOT NULL AND NOT firstname BETWEEN 'B' AND 'C'",
    )
    .await;
    assert_eq!(only(&got, &["lastname"]), json!([{"lastname": "Smith"}]));
    // The statement's table must be the entity set's.
    let (st, body) = sql(&s, "contacts", "SELECT name FROM account").await;
    let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
    assert!(
        msg.contains("'account'") && msg.contains("contacts"),
        "{msg}"
    );
}

async fn statements_outside_the_subset_are_refused(s: TestServer) {
    s.create("accounts", json!({"name": "Contoso"})).await;
    let refused: Vec<(&str, &str)> = include_str!("../../crates/herald-core/src/sql/refused.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('\t'))
        .collect();
    assert!(refused.len() >= 50, "{}", refused.len());
    for (statement, word) in refused {
        let (st, body) = sql(&s, "accounts", statement).await;
        let msg = odata_error(st, &body, StatusCode::BAD_REQUEST);
        assert!(
            msg.contains(word),
            "{statement}: '{msg}' does not say '{word}'"
        );
    }
    // Nothing was dropped, deleted or changed.
    let (st, body) = s.get("accounts?$select=name").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["value"][0]["name"], "Contoso", "{body}");
}
