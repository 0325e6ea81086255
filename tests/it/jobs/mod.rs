//! System Jobs: attempts, retry, cancel, pause/resume, postpone, retention.
//! Below: the Web API calls on System Jobs the modules share.

mod control;
mod delivery;
mod retention;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestServer;

/// The webhooks' `HttpHeader` authvalue.
const HEADERS: &str = r#"<settings><setting name="X-Key" value="k" /></settings>"#;

/// PATCH a System Job (what may be written: its state and postponement).
async fn patch_job(s: &TestServer, id: &str, body: Value) -> (StatusCode, Value) {
    s.patch(&format!("asyncoperations({id})"), body).await
}

/// The bound `herald_Retry` action on a System Job.
async fn retry_job(s: &TestServer, id: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    s.post(
        &format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry"),
        json!({}),
    )
    .await
}

/// The asyncoperation id of a job as read over the Web API.
fn id_of(job: &Value) -> String {
    job["asyncoperationid"]
        .as_str()
        .unwrap_or_else(|| panic!("no asyncoperationid in {job}"))
        .to_string()
}

/// The System Jobs of `step` (any status).
async fn jobs_of(s: &TestServer, step: &str) -> Vec<Value> {
    let (st, b) = s
        .get(&format!(
            "asyncoperations?$filter=_owningextensionid_value eq {step}"
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b["value"].as_array().cloned().unwrap_or_default()
}

/// The attempts of a job over the Web API (status, body).
async fn attempts_of(s: &TestServer, id: &str) -> (StatusCode, Value) {
    s.get(&format!(
        "asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Attempts"
    ))
    .await
}
