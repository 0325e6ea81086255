//! `herald notify`: a context file posted to `herald_Notify`, the
//! endpoint's answer printed.

use serde_json::json;

use crate::common::cli::herald;
use crate::common::TestServer;

both_backends!(notify_sends_the_context_and_prints_the_answer,);

/// `herald notify` posts the file to the bound action `herald_Notify` and
/// prints the endpoint's answer; a failed delivery is "Endpoint unavailable".
async fn notify_sends_the_context_and_prints_the_answer(s: TestServer) {
    let receiver = herald_testkit::Receiver::start_with(herald_testkit::Behavior::Reply(
        herald_testkit::Reply::status(200).with_body("thanks"),
    ))
    .await;
    let url = receiver.url_for("/hook");
    herald(
        &s,
        &[
            "webhook", "add", "--name", "hook", "--url", &url, "--auth", "header", "X-Key: k",
        ],
    )
    .await
    .success();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("context.json");
    let context = json!({"MessageName": "Update", "PrimaryEntityName": "contact", "Depth": 1});
    std::fs::write(&file, context.to_string()).expect("write context");
    let path = file.to_string_lossy().into_owned();
    let run = herald(&s, &["notify", "--webhook", "hook", "--context", &path])
        .await
        .success();
    assert_eq!(run.stdout.trim(), "thanks");
    let got = receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(got[0].header("x-key"), Some("k"));
    assert_eq!(got[0].body_json(), context);

    receiver.respond(herald_testkit::Behavior::status(500));
    herald(&s, &["notify", "--webhook", "hook", "--context", &path])
        .await
        .failure(&["Endpoint unavailable"]);
}
