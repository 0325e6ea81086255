//! `BulkDelete` (Dataverse's unbound action) as a System Job: the answer
//! is the `JobId` at once; the job (operation type 13) deletes the matching
//! records through the write pipeline — a Delete step fires per record, a
//! record whose delete a step refuses is counted in `failurecount` and
//! kept — and records its counts on the `bulkdeleteoperation`. Criteria
//! herald cannot map are a 400, never a wider delete.

use std::time::Duration;

use herald_testkit::{Behavior, Receiver, Reply};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::batch::HEADERS;
use crate::common::node::{until, Api, Node};
use crate::common::{eventually, odata_error, register, TestServer};

both_backends!(
    deletes_the_matching_records_through_the_pipeline,
    criteria_it_cannot_map_are_refused,
    a_postponed_bulk_delete_can_be_canceled_and_nothing_else,
);

async fn names(s: &TestServer) -> Vec<String> {
    let (_, b) = s
        .get("contacts?$select=firstname,lastname&$orderby=firstname")
        .await;
    b["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["firstname"].as_str().unwrap_or(""),
                c["lastname"].as_str().unwrap_or("")
            )
        })
        .collect()
}

async fn completed_job(s: &TestServer, id: &str) -> Value {
    eventually(
        Duration::from_secs(30),
        "the bulk delete completes",
        || async {
            let (_, b) = s.get(&format!("asyncoperations({id})")).await;
            (b["statecode"] == 3).then_some(b)
        },
    )
    .await
}

async fn deletes_the_matching_records_through_the_pipeline(s: TestServer) {
    for (first, last) in [
        ("Ann", "Purge"),
        ("Abe", "Purge"),
        ("Amy", "Purge"),
        ("Bob", "Purge"),
        ("Al", "Keep"),
        ("Cy", "Purge"),
        ("Ava", "Purge"),
    ] {
        s.create("contacts", json!({"firstname": first, "lastname": last}))
            .await;
    }
    // A sync Delete step that refuses the third delete it sees.
    let receiver = Receiver::start_with(Behavior::Sequence {
        steps: [Reply::status(200), Reply::status(200), Reply::status(400)]
            .into_iter()
            .map(Behavior::Reply)
            .collect(),
        then: Box::new(Behavior::Reply(Reply::status(200))),
    })
    .await;
    let hook = register::webhook(&s, "deletes", &receiver.url(), 5, HEADERS).await;
    register::step(&s, &hook, "Delete", "contact", 20, 0, json!({})).await;

    let request_id = uuid::Uuid::new_v4().to_string();
    let (st, _, body) = s
        .send(
            s.request(reqwest::Method::POST, "BulkDelete")
                .header("x-ms-client-request-id", &request_id)
                .json(&json!({
                    "QuerySet": [{
                        "EntityName": "contact",
                        "ColumnSet": {"AllColumns": true},
                        "Distinct": false,
                        "Criteria": {
                            "FilterOperator": "And",
                            "Conditions": [
                                {"AttributeName": "lastname", "Operator": "Equal", "Values": [{"Value": "Purge", "Type": "System.String"}]}
                            ],
                            "Filters": [{
                                "FilterOperator": "Or",
                                "Conditions": [
                                    {"AttributeName": "firstname", "Operator": "Like", "Values": [{"Value": "A%", "Type": "System.String"}]},
                                    {"AttributeName": "firstname", "Operator": "In", "Values": [{"Value": "Bob", "Type": "System.String"}]}
                                ]
                            }]
                        }
                    }],
                    "JobName": "Purge the A contacts",
                    "SendEmailNotification": false,
                    "ToRecipients": [],
                    "CCRecipients": [],
                    "RecurrencePattern": "",
                    "StartDateTime": "2020-01-01T00:00:00Z"
                })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(
        body["@odata.context"]
            .as_str()
            .is_some_and(|c| c.ends_with("$metadata#Microsoft.Dynamics.CRM.BulkDeleteResponse")),
        "{body}"
    );
    let job_id = body["JobId"].as_str().expect("JobId").to_string();

    let job = completed_job(&s, &job_id).await;
    assert_eq!(job["operationtype"], 13, "{job}");
    assert_eq!(job["statuscode"], 30, "ran through: {job}");
    assert_eq!(job["name"], "Purge the A contacts");
    assert_eq!(job["requestid"], json!(request_id), "{job}");
    assert!(
        job["friendlymessage"]
            .as_str()
            .is_some_and(|m| m.contains("Deleted 4 record(s); 1 could not be deleted")),
        "{job}"
    );

    // Five matched (Ann, Abe, Amy, Bob, Ava); the step saw each, refused one.
    assert_eq!(
        receiver.requests().len(),
        5,
        "the Delete step fired per record"
    );
    let (_, ops) = s
        .get(&format!(
            "bulkdeleteoperations?$filter=_asyncoperationid_value eq {job_id}"
        ))
        .await;
    let op = &ops["value"][0];
    assert_eq!(
        (op["successcount"].as_i64(), op["failurecount"].as_i64()),
        (Some(4), Some(1)),
        "{ops}"
    );
    assert_eq!(
        (op["statecode"].as_i64(), op["statuscode"].as_i64()),
        (Some(3), Some(30)),
        "{ops}"
    );
    assert_eq!(op["name"], "Purge the A contacts");

    let left = names(&s).await;
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(
        left.contains(&"Al Keep".to_string()) && left.contains(&"Cy Purge".to_string()),
        "{left:?}"
    );

    // It is in the System Jobs list like any other, and only Cancel applies.
    let (_, jobs) = s.get("asyncoperations?$filter=operationtype eq 13").await;
    assert_eq!(jobs["value"].as_array().map(Vec::len), Some(1), "{jobs}");
    let (st, _, b) = s
        .post(
            &format!("asyncoperations({job_id})/Microsoft.Dynamics.CRM.herald_Retry"),
            json!({}),
        )
        .await;
    assert!(st.is_client_error(), "{st} {b}");

    // No criteria: every record of the table goes (the refused one included,
    // now that the step lets it through).
    let (st, _, body) = s
        .post(
            "BulkDelete",
            json!({"QuerySet": [{"EntityName": "contact"}], "JobName": "all"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let job = completed_job(&s, body["JobId"].as_str().unwrap()).await;
    assert_eq!(job["statuscode"], 30, "{job}");
    assert!(names(&s).await.is_empty());
}

async fn criteria_it_cannot_map_are_refused(s: TestServer) {
    let keep = s.create("contacts", json!({"lastname": "Keep"})).await;
    let cases = [
        (
            json!({"QuerySet": [{"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "createdon", "Operator": "LastXHours", "Values": [{"Value": "1", "Type": "System.Int32"}]}]}}], "JobName": "x"}),
            "LastXHours",
        ),
        (
            json!({"QuerySet": [{"EntityName": "contact"}], "JobName": "x", "RecurrencePattern": "FREQ=DAILY;INTERVAL=1"}),
            "RecurrencePattern",
        ),
        (
            json!({"QuerySet": [{"EntityName": "serviceendpoint"}], "JobName": "x"}),
            "not a business table",
        ),
        (json!({"QuerySet": [], "JobName": "x"}), "at least one"),
        (json!({"JobName": "x"}), "QuerySet"),
        (
            json!({"QuerySet": [{"EntityName": "contact", "LinkEntities": [{"LinkToEntityName": "account"}]}]}),
            "LinkEntities",
        ),
        (
            json!({"QuerySet": [{"EntityName": "contact", "Criteria": {"Conditions": [{"AttributeName": "nosuch", "Operator": "Equal", "Values": ["x"]}]}}]}),
            "nosuch",
        ),
        (
            json!({"QuerySet": [{"EntityName": "contact"}], "StartDateTime": "soon"}),
            "StartDateTime",
        ),
    ];
    for (body, needle) in cases {
        let (st, _, b) = s.post("BulkDelete", body.clone()).await;
        let message = odata_error(st, &b, StatusCode::BAD_REQUEST);
        assert!(message.contains(needle), "{body}: {b}");
    }
    let (st, _, b) = s
        .send(
            s.request(reqwest::Method::POST, "BulkDelete")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (_, jobs) = s.get("asyncoperations?$filter=operationtype eq 13").await;
    assert_eq!(
        jobs["value"].as_array().map(Vec::len),
        Some(0),
        "no job for a refused request"
    );
    let (st, _) = s.get(&format!("contacts({keep})")).await;
    assert_eq!(st, StatusCode::OK);
}

async fn a_postponed_bulk_delete_can_be_canceled_and_nothing_else(s: TestServer) {
    let keep = s.create("contacts", json!({"lastname": "Later"})).await;
    let start = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (st, _, body) = s
        .post(
            "BulkDelete",
            json!({"QuerySet": [{"EntityName": "contact"}], "JobName": "tonight", "StartDateTime": start}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let id = body["JobId"].as_str().unwrap().to_string();
    let (_, job) = s.get(&format!("asyncoperations({id})")).await;
    assert_eq!(
        (job["statecode"].as_i64(), job["operationtype"].as_i64()),
        (Some(0), Some(13)),
        "waiting for its start: {job}"
    );
    assert!(job["postponeuntil"].is_string(), "{job}");
    let (_, op) = s.get(&format!("bulkdeleteoperations({id})")).await;
    assert!(op["nextrun"].is_string(), "{op}");

    // Pause and retry are not for a bulk delete; cancel is.
    let (st, b) = s
        .patch(&format!("asyncoperations({id})"), json!({"statecode": 1}))
        .await;
    assert!(
        odata_error(st, &b, StatusCode::BAD_REQUEST).contains("can only be canceled"),
        "{b}"
    );
    let (st, b) = s
        .patch(
            &format!("asyncoperations({id})"),
            json!({"statecode": 3, "statuscode": 32}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (_, job) = s.get(&format!("asyncoperations({id})")).await;
    assert_eq!(
        (job["statecode"].as_i64(), job["statuscode"].as_i64()),
        (Some(3), Some(32)),
        "{job}"
    );
    let (_, op) = s.get(&format!("bulkdeleteoperations({id})")).await;
    assert_eq!(
        (op["statecode"].as_i64(), op["statuscode"].as_i64()),
        (Some(3), Some(32)),
        "{op}"
    );
    let (st, _, b) = s
        .post(
            &format!("asyncoperations({id})/Microsoft.Dynamics.CRM.herald_Retry"),
            json!({}),
        )
        .await;
    assert!(
        odata_error(st, &b, StatusCode::BAD_REQUEST).contains("can only be canceled"),
        "{b}"
    );
    let (st, _) = s.get(&format!("contacts({keep})")).await;
    assert_eq!(st, StatusCode::OK, "nothing was deleted");
}

/// A bulk delete that had not run when its server stopped runs when the
/// server starts again on the same data (a real `herald serve`, killed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_bulk_delete_runs_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut node = Node::start("bulk-before", dir.path(), None, &[]);
    let api = node.client();
    let id = postponed_delete_of_gone(&api, "after the restart").await;
    node.kill();

    let node = Node::start("bulk-after", dir.path(), None, &[]);
    let api = node.client();
    let done = until(
        Duration::from_secs(30),
        "the resumed bulk delete",
        || async {
            let j = api.get(&format!("asyncoperations({id})")).await;
            (j["statecode"] == 3).then_some(j)
        },
    )
    .await;
    assert_eq!(done["statuscode"], 30, "{done}");
    let op = api.get(&format!("bulkdeleteoperations({id})")).await;
    assert_eq!(op["successcount"], 3, "{op}");
    let left = api.get("contacts?$select=lastname").await;
    let left: Vec<&str> = left["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["lastname"].as_str())
        .collect();
    assert_eq!(left, ["Stays"]);
}

/// Seeds three "Gone" contacts and one "Stays", then asks for a bulk delete
/// of the "Gone" ones due in two seconds (so a test can stop its node before
/// it starts); returns the job's id.
pub async fn postponed_delete_of_gone(api: &Api, job_name: &str) -> String {
    for last in ["Gone", "Gone", "Gone", "Stays"] {
        api.create("contacts", json!({"lastname": last})).await;
    }
    let start = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (st, body) = api
        .post(
            "BulkDelete",
            &json!({
                "QuerySet": [{"EntityName": "contact", "Criteria": {"Conditions": [
                    {"AttributeName": "lastname", "Operator": "Equal", "Values": ["Gone"]}
                ]}}],
                "JobName": job_name,
                "StartDateTime": start,
            }),
        )
        .await
        .expect("POST sent");
    assert_eq!(st, StatusCode::OK, "{body}");
    let job: Value = serde_json::from_str(&body).expect("JSON");
    job["JobId"].as_str().expect("JobId").to_string()
}
