//! `--output json` on the registration commands that change something.

use serde_json::json;

use super::count;
use crate::common::cli::herald;
use crate::common::TestServer;

both_backends!(changing_commands_print_json_outcomes,);

/// `--output json` on the commands that change something: one JSON object
/// on stdout saying what was done (and the generated secret, shown once).
async fn changing_commands_print_json_outcomes(s: TestServer) {
    let receiver = herald_testkit::Receiver::start_with(herald_testkit::Behavior::Reply(
        herald_testkit::Reply::status(200).with_body(r#"{"ok":true}"#),
    ))
    .await;
    let url = receiver.url();
    let run = herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "jsonhook",
            "--url",
            &url,
            "--auth",
            "webhookkey",
            "k1",
            "--signing-secret",
            "generate",
            "--output",
            "json",
        ],
    )
    .await
    .success();
    let added = run.json();
    let hook = added["id"].as_str().expect("id").to_string();
    assert!(uuid::Uuid::parse_str(&hook).is_ok(), "{added}");
    assert_eq!(added["name"], "jsonhook");
    assert_eq!(added["url"], url.as_str());
    assert_eq!(added["authtype"], "WebhookKey");
    let secret = added["signingsecret"]
        .as_str()
        .expect("the generated secret");
    assert!(secret.starts_with("whsec_"), "{added}");
    assert!(
        !run.stderr.contains(secret),
        "with --output json the secret is in the JSON only: {}",
        run.stderr
    );
    let (_, row) = s.get(&format!("serviceendpoints({hook})")).await;
    assert_eq!(row["herald_issigningsecretset"], true, "{row}");

    let step = herald(
        &s,
        &[
            "step",
            "add",
            "--webhook",
            "jsonhook",
            "--message",
            "Update",
            "--table",
            "contact",
            "--filter",
            "firstname",
            "--stage",
            "post",
            "--mode",
            "async",
            "--post-image",
            "after:fullname",
            "--output",
            "json",
        ],
    )
    .await
    .success()
    .json();
    let step_id = step["id"].as_str().expect("id").to_string();
    assert_eq!(step["webhook"], "jsonhook", "{step}");
    assert_eq!(step["webhookid"], hook.as_str());
    assert_eq!(step["message"], "Update");
    assert_eq!(step["table"], "contact");
    assert_eq!(step["enabled"], true);
    assert_eq!(step["filteringattributes"], "firstname");
    assert!(
        step["name"].as_str().is_some_and(|n| !n.is_empty()),
        "the server's default name: {step}"
    );
    assert_eq!(step["images"][0]["name"], "after", "{step}");
    assert_eq!(step["images"][0]["attributes"], "fullname");

    for (verb, enabled, statecode) in [("disable", false, 1), ("enable", true, 0)] {
        let out = herald(&s, &["step", verb, &step_id, "--output", "json"])
            .await
            .success()
            .json();
        assert_eq!(out["id"], step_id.as_str(), "{out}");
        assert_eq!(out["enabled"], enabled, "{out}");
        let (_, row) = s
            .get(&format!(
                "sdkmessageprocessingsteps({step_id})?$select=statecode"
            ))
            .await;
        assert_eq!(row["statecode"], statecode, "after {verb}: {row}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("context.json");
    std::fs::write(&file, json!({"MessageName": "Update"}).to_string()).expect("write context");
    let path = file.to_string_lossy().into_owned();
    let notified = herald(
        &s,
        &[
            "notify",
            "--webhook",
            "jsonhook",
            "--context",
            &path,
            "--output",
            "json",
        ],
    )
    .await
    .success()
    .json();
    assert_eq!(notified["webhook"], "jsonhook");
    assert_eq!(notified["id"], hook.as_str());
    assert_eq!(
        notified["response"],
        json!({"ok": true}),
        "the answer, parsed"
    );

    let removed = herald(&s, &["step", "remove", &step_id, "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(
        removed,
        json!({"id": step_id, "name": step["name"], "removed": true})
    );
    let removed = herald(&s, &["webhook", "remove", "jsonhook", "--output", "json"])
        .await
        .success()
        .json();
    assert_eq!(
        removed,
        json!({"id": hook, "name": "jsonhook", "removed": true})
    );
    assert_eq!(
        count(&s, "serviceendpoints?$filter=name eq 'jsonhook'").await,
        0
    );
}
