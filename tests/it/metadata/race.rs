//! Reads and writes while the schema changes under them, on both stores:
//! readers loop over a created table (all its columns, `$select` of a
//! column that comes and goes, one row, a FetchXML query) and a writer
//! updates a row while columns are added and deleted; every read is the
//! old schema's or the new one's — a 200, or a 400 for a column that is
//! not there — and every write a 204 or a 409 (send it again), never a
//! 5xx.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{enc, TestServer};

use super::create::{create_table, project_body};

const CYCLES: usize = 12;

async fn reads_never_fail_while_columns_come_and_go(s: TestServer) {
    create_table(&s, project_body()).await;
    let row = s
        .create("new_projects", json!({"new_name": "Read me"}))
        .await;
    let paths = [
        "new_projects".to_string(),
        "new_projects?$select=new_name,new_extra".to_string(),
        format!("new_projects({row})"),
        format!(
            "new_projects?fetchXml={}",
            enc("<fetch><entity name='new_project'><all-attributes/></entity></fetch>")
        ),
    ];
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for path in paths {
        let (client, url, key, done) = (
            s.client.clone(),
            format!("{}/{path}", s.api),
            s.key.clone(),
            done.clone(),
        );
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::Acquire) {
                let resp = client
                    .get(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .expect("read sent");
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                assert!(
                    status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                    "GET {url}: {status} {body}"
                );
                seen.push(status);
            }
            seen
        }));
    }
    let writer = {
        let (client, url, key, done) = (
            s.client.clone(),
            format!("{}/new_projects({row})", s.api),
            s.key.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !done.load(Ordering::Acquire) {
                let resp = client
                    .patch(&url)
                    .bearer_auth(&key)
                    .json(&json!({"new_budget": n}))
                    .send()
                    .await
                    .expect("write sent");
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                assert!(
                    status == StatusCode::NO_CONTENT || status == StatusCode::CONFLICT,
                    "PATCH {url}: {status} {body}"
                );
                n += 1;
            }
            n
        })
    };
    let columns = format!(
        "{}/EntityDefinitions(LogicalName='new_project')/Attributes",
        s.api
    );
    for i in 0..CYCLES {
        let (status, _, body) = s
            .send(s.request(reqwest::Method::POST, &columns).json(&json!({
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "new_Extra",
                "MaxLength": 50
            })))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "add {i}: {body}");
        let (status, body) = s
            .patch(
                &format!("new_projects({row})"),
                json!({"new_extra": format!("v{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "write {i}: {body}");
        let (status, _, body) = s
            .send(s.request(
                reqwest::Method::DELETE,
                &format!("{columns}(LogicalName='new_extra')"),
            ))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "delete {i}: {body:?}");
    }
    done.store(true, Ordering::Release);
    let mut reads = 0;
    for r in readers {
        let seen: Vec<StatusCode> = r.await.expect("reader");
        reads += seen.len();
    }
    assert!(reads >= 4, "the readers ran ({reads} reads)");
    assert!(writer.await.expect("writer") >= 1, "the writer ran");
    let last: Value = s.get(&format!("new_projects({row})")).await.1;
    assert_eq!(last["new_name"], "Read me");
    assert!(last.get("new_extra").is_none(), "{last}");
}

both_backends!(reads_never_fail_while_columns_come_and_go);
