//! The metadata API (`EntityDefinitions`, `RelationshipDefinitions`,
//! `GlobalOptionSetDefinitions`) over HTTP, on SQLite and PostgreSQL: the
//! requests Microsoft's clients send, every route, user tables from the
//! config, and MetadataIds that survive a restart.

mod attributes;
mod cleanup;
mod columns;
mod create;
mod custom;
mod entities;
mod many_to_many;
mod race;
mod relabel;
mod relationships;

use crate::common::enc;
use crate::common::TestServer;
use reqwest::StatusCode;
use serde_json::Value;

/// The same data (directory, and database on PostgreSQL) served again by a
/// new server, as after a restart; `tweak` adds to its configuration.
async fn restart(
    pg: bool,
    test: &str,
    dir: std::path::PathBuf,
    database_url: Option<String>,
    tweak: impl FnOnce(&mut herald_server::config::Config),
) -> TestServer {
    let again = if pg {
        crate::common::Backend::Postgres
    } else {
        crate::common::Backend::Sqlite
    };
    TestServer::start_with(again, &format!("{test}::restarted"), move |c| {
        c.server.data_dir = dir;
        c.store.database_url = database_url;
        tweak(c);
    })
    .await
    .expect("restarted server")
}

/// GET that must succeed; returns the body.
async fn ok(s: &TestServer, path: &str) -> Value {
    let (status, body) = s.get(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// The `key` property of each object of `body.value`.
fn names<'a>(body: &'a Value, key: &str) -> Vec<&'a str> {
    body["value"]
        .as_array()
        .map(|v| v.iter().filter_map(|r| r[key].as_str()).collect())
        .unwrap_or_default()
}

/// The object of `body.value` whose `LogicalName` is `name`.
fn named<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["value"]
        .as_array()
        .and_then(|v| v.iter().find(|r| r["LogicalName"] == name))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}
