//! `herald webhook update` and `herald step update`: a registration
//! changes in place (one PATCH), and a re-pointed webhook keeps its steps
//! and delivers to its new URL.

use std::time::Duration;

use herald_testkit::Receiver;
use reqwest::StatusCode;
use serde_json::json;

use super::{add_hook, count};
use crate::common::cli::herald;
use crate::common::TestServer;

both_backends!(webhook_and_step_update_in_place,);

async fn webhook_and_step_update_in_place(s: TestServer) {
    let old = Receiver::start().await;
    let new = Receiver::start().await;
    let hook = add_hook(&s).await;
    herald(&s, &["webhook", "update", "hook", "--url", &old.url()])
        .await
        .success();
    let step = herald(
        &s,
        &[
            "step",
            "add",
            "--webhook",
            "hook",
            "--message",
            "Create",
            "--table",
            "contact",
            "--stage",
            "post",
            "--mode",
            "async",
        ],
    )
    .await
    .printed();
    s.create("contacts", json!({"lastname": "Before"})).await;
    old.wait_for(1, Duration::from_secs(20)).await;

    // Re-point the webhook with its step still registered.
    let out = herald(
        &s,
        &[
            "webhook",
            "update",
            "hook",
            "--url",
            &new.url(),
            "--description",
            "moved",
            "--auth",
            "header",
            "X-Other: o",
            "-o",
            "json",
        ],
    )
    .await
    .success()
    .json();
    assert_eq!(out["id"], hook.as_str(), "{out}");
    let (st, row) = s.get(&format!("serviceendpoints({hook})")).await;
    assert_eq!(st, StatusCode::OK, "{row}");
    assert_eq!(row["url"], new.url());
    assert_eq!(row["description"], "moved");
    assert_eq!(
        count(
            &s,
            "sdkmessageprocessingsteps?$filter=name eq 'hook: Create of contact'"
        )
        .await,
        1
    );
    s.create("contacts", json!({"lastname": "After"})).await;
    let got = new.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].header("X-Other"), Some("o"), "the new auth is sent");
    assert_eq!(old.requests().len(), 1, "nothing more reaches the old URL");

    herald(&s, &["webhook", "update", "hook", "--name", "renamed"])
        .await
        .success();
    let (_, row) = s.get(&format!("serviceendpoints({hook})")).await;
    assert_eq!(row["name"], "renamed");
    herald(&s, &["webhook", "update", "renamed"])
        .await
        .failure(&["nothing to change"]);
    herald(&s, &["webhook", "update", "nosuch", "--description", "x"])
        .await
        .failure(&["nosuch"]);

    // step update: another webhook, rank, filtering attributes, name.
    let other = herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "other",
            "--url",
            "https://example.com/other",
            "--auth",
            "webhookkey",
            "k",
        ],
    )
    .await
    .printed();
    let shown = herald(
        &s,
        &[
            "step",
            "update",
            &step,
            "--webhook",
            "other",
            "--rank",
            "5",
            "--name",
            "moved step",
            "-o",
            "json",
        ],
    )
    .await
    .success()
    .json();
    assert_eq!(shown["name"], "moved step", "{shown}");
    let (_, row) = s.get(&format!("sdkmessageprocessingsteps({step})")).await;
    assert_eq!(row["_eventhandler_value"], other.as_str(), "{row}");
    assert_eq!(row["rank"], 5);
    // The server's registration rules hold for updates too.
    herald(&s, &["step", "update", "moved step", "--stage", "pre"])
        .await
        .failure(&["server said 400"]);
    herald(&s, &["step", "update", "moved step"])
        .await
        .failure(&["nothing to change"]);
}
