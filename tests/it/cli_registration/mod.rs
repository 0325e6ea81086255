//! The registration commands (`herald webhook …`, `herald step …`,
//! `herald notify`) run as the real binary against a real herald, checked
//! through the Web API, on SQLite and PostgreSQL. Below: the Web API reads
//! the modules check with, and the one webhook most of them start from.

mod json;
mod notify;
mod options_after;
mod steps;
mod updates;
mod usage;
mod webhooks;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::cli::herald;
use crate::common::TestServer;

/// The one row of `set` matching `filter`.
async fn only(s: &TestServer, set: &str, filter: &str) -> Value {
    let (st, body) = s.get(&format!("{set}?$filter={filter}")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let rows = body["value"].as_array().expect("value");
    assert_eq!(rows.len(), 1, "expected one {set} row for {filter}: {body}");
    rows[0].clone()
}

async fn count(s: &TestServer, set: &str) -> usize {
    let (st, body) = s.get(set).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["value"].as_array().expect("value").len()
}

/// `webhook add` of "hook" (header auth); its id.
async fn add_hook(s: &TestServer) -> String {
    herald(
        s,
        &[
            "webhook",
            "add",
            "--name",
            "hook",
            "--url",
            "https://example.com/hook",
            "--auth",
            "header",
            "X-Key: k",
        ],
    )
    .await
    .printed()
}
