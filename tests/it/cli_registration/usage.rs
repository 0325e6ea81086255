//! How the registration commands explain themselves: bad input fails with
//! a clear `error:` line and changes nothing, an unreachable server and a
//! missing key are named, and `--help` lists the commands.

use super::{add_hook, count};
use crate::common::cli::{herald, herald_command, Run};
use crate::common::TestServer;

both_backends!(bad_input_fails_clearly,);

async fn bad_input_fails_clearly(s: TestServer) {
    add_hook(&s).await;
    let steps_before = count(&s, "sdkmessageprocessingsteps").await;
    let add = |extra: &'static [&'static str]| {
        let mut a = vec!["step", "add"];
        a.extend_from_slice(extra);
        a
    };

    herald(
        &s,
        &add(&[
            "--webhook",
            "nope",
            "--message",
            "Update",
            "--table",
            "contact",
            "--stage",
            "post",
            "--mode",
            "async",
        ]),
    )
    .await
    .failure(&["unknown webhook 'nope'"]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Update",
            "--table",
            "contact",
            "--stage",
            "pre",
            "--mode",
            "async",
        ]),
    )
    .await
    .failure(&["server said 400", "Asynchronous", "stage 40"]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Create",
            "--table",
            "contact",
            "--filter",
            "firstname",
            "--stage",
            "post",
            "--mode",
            "async",
        ]),
    )
    .await
    .failure(&[
        "server said 400",
        "filteringattributes",
        "only allowed on Update",
    ]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Update",
            "--table",
            "contacts",
            "--stage",
            "post",
            "--mode",
            "async",
        ]),
    )
    .await
    .failure(&["unknown table 'contacts'"]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Frobnicate",
            "--table",
            "contact",
            "--stage",
            "post",
            "--mode",
            "async",
        ]),
    )
    .await
    .failure(&["unknown message 'Frobnicate'", "Update"]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Update",
            "--table",
            "contact",
            "--stage",
            "later",
            "--mode",
            "async",
        ]),
    )
    .await
    .failure(&["--stage", "postoperation"]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Update",
            "--table",
            "contact",
            "--stage",
            "post",
            "--mode",
            "async",
            "--run-as",
            "nobody@example.com",
        ]),
    )
    .await
    .failure(&["unknown user 'nobody@example.com'"]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Update",
            "--table",
            "contact",
            "--filter",
            "nosuchcolumn",
            "--stage",
            "post",
            "--mode",
            "async",
        ]),
    )
    .await
    .failure(&["'nosuchcolumn' is not a column of 'contact'"]);
    herald(
        &s,
        &add(&[
            "--webhook",
            "hook",
            "--message",
            "Update",
            "--table",
            "contact",
            "--stage",
            "post",
            "--mode",
            "sync",
            "--delete-job-on-success",
        ]),
    )
    .await
    .failure(&["--delete-job-on-success", "async"]);
    // An image the server refuses takes its step with it.
    herald(
        &s,
        &add(&[
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
            "--post-image",
            "after",
            "--pre-image",
            "before",
        ]),
    )
    .await
    .failure(&["--pre-image 'before'", "removed again", "pre-image"]);
    assert_eq!(
        count(&s, "sdkmessageprocessingsteps").await,
        steps_before,
        "nothing half-registered"
    );
    assert_eq!(
        count(&s, "sdkmessageprocessingstepimages").await,
        0,
        "nothing half-registered"
    );

    herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "mixed",
            "--url",
            "https://example.com/m",
            "--auth",
            "header",
            "A: b",
            "--auth",
            "query",
            "c=d",
        ],
    )
    .await
    .failure(&["cannot mix --auth header and --auth query"]);
    herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "bad-url",
            "--url",
            "not a url",
            "--auth",
            "webhookkey",
            "k",
        ],
    )
    .await
    .failure(&["server said 400", "not a url"]);
    herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "bad-header",
            "--url",
            "https://example.com/h",
            "--auth",
            "header",
            "no colon",
        ],
    )
    .await
    .failure(&["expected 'Name: Value'"]);
    assert_eq!(count(&s, "serviceendpoints").await, 1);
    herald(&s, &["step", "enable", "no such step"])
        .await
        .failure(&["unknown step 'no such step'"]);
    herald(
        &s,
        &[
            "notify",
            "--webhook",
            "hook",
            "--context",
            "/nonexistent/context.json",
        ],
    )
    .await
    .failure(&["cannot read --context"]);

    // A wrong key is the server's 401, with a hint.
    let mut cmd = herald_command();
    cmd.args(["--url", &s.base, "--key", "wrong", "webhook", "list"]);
    let run = tokio::task::spawn_blocking(move || Run::from(cmd.output().expect("run")))
        .await
        .expect("task");
    run.failure(&["server said 401", "--key"]);
}

#[test]
fn unreachable_server_is_named() {
    let port = herald_testkit::free_port();
    let url = format!("http://{}", port.addr());
    let run = Run::from(
        herald_command()
            .args(["--url", &url, "--key", "k", "webhook", "list"])
            .output()
            .expect("run"),
    );
    run.failure(&[&format!("cannot reach herald at {url}")]);
}

#[test]
fn missing_key_and_misplaced_options_are_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Run::from(
        herald_command()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["webhook", "list"])
            .output()
            .expect("run"),
    );
    run.failure(&["no API key", "--key", "admin.key"]);
    // The key file of --data-dir is used when no --key is given.
    std::fs::write(dir.path().join("admin.key"), "from-file\n").expect("write key");
    let port = herald_testkit::free_port();
    let url = format!("http://{}", port.addr());
    let run = Run::from(
        herald_command()
            .args(["--url", &url, "--data-dir"])
            .arg(dir.path())
            .args(["step", "list"])
            .output()
            .expect("run"),
    );
    run.failure(&["cannot reach herald"]);
    // Connection options after the command are the same as before it.
    let run = Run::from(
        herald_command()
            .args(["step", "list", "--url", &url, "--data-dir"])
            .arg(dir.path())
            .output()
            .expect("run"),
    );
    run.failure(&["cannot reach herald"]);
}

#[test]
fn help_lists_the_registration_commands() {
    let run = Run::from(herald_command().arg("--help").output().expect("run")).success();
    for needle in ["webhook", "step", "notify", "--url", "--key"] {
        assert!(
            run.stdout.contains(needle),
            "--help should mention {needle}:\n{}",
            run.stdout
        );
    }
    let run = Run::from(
        herald_command()
            .args(["step", "add", "--help"])
            .output()
            .expect("run"),
    )
    .success();
    for needle in [
        "--webhook",
        "--message",
        "--table",
        "--filter",
        "--stage",
        "--mode",
        "--rank",
        "--pre-image",
        "--post-image",
        "--run-as",
        "--delete-job-on-success",
    ] {
        assert!(
            run.stdout.contains(needle),
            "step add --help should mention {needle}:\n{}",
            run.stdout
        );
    }
}
