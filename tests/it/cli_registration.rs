//! The registration commands (`herald webhook …`, `herald step …`,
//! `herald notify`) run as the real binary against a real herald, checked
//! through the Web API, on SQLite and PostgreSQL.

use crate::common::cli::{herald, herald_command, Run};

use crate::common::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

both_backends!(
    webhooks_add_list_show_remove,
    steps_add_list_enable_disable_remove,
    bad_input_fails_clearly,
    notify_sends_the_context_and_prints_the_answer,
    changing_commands_print_json_outcomes,
);

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

async fn webhooks_add_list_show_remove(s: TestServer) {
    let id = herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "requestbin",
            "--url",
            "https://example.com/hook",
            "--auth",
            "header",
            "X-Test1: test1",
            "--auth",
            "header",
            "X-Test2: test2",
            "--description",
            "logs requests",
        ],
    )
    .await
    .printed();
    let (st, row) = s.get(&format!("serviceendpoints({id})")).await;
    assert_eq!(st, StatusCode::OK, "{row}");
    assert_eq!(row["name"], "requestbin");
    assert_eq!(row["url"], "https://example.com/hook");
    assert_eq!(row["contract"], 8);
    assert_eq!(row["authtype"], 5);
    assert_eq!(row["messageformat"], 2);
    assert_eq!(row["isauthvalueset"], true);
    assert_eq!(row["description"], "logs requests");
    assert!(
        row.get("authvalue").is_none_or(Value::is_null),
        "authvalue is write-only: {row}"
    );

    let key_id = herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "azure-fn",
            "--url",
            "https://example.com/api/fn",
            "--auth",
            "webhookkey",
            "s3cret",
        ],
    )
    .await
    .printed();
    let row = only(&s, "serviceendpoints", "name eq 'azure-fn'").await;
    assert_eq!(
        (
            row["serviceendpointid"].as_str(),
            row["authtype"].as_i64(),
            row["isauthvalueset"].as_bool()
        ),
        (Some(key_id.as_str()), Some(4), Some(true))
    );
    herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "query",
            "--url",
            "https://example.com/q",
            "--auth",
            "query",
            "a=1",
            "--auth",
            "query",
            "b=2",
        ],
    )
    .await
    .success();
    let row = only(&s, "serviceendpoints", "name eq 'query'").await;
    assert_eq!(
        (row["authtype"].as_i64(), row["isauthvalueset"].as_bool()),
        (Some(6), Some(true))
    );

    // list: a table with every webhook, and JSON that parses.
    let table = herald(&s, &["webhook", "list"]).await.success().stdout;
    let header = table.lines().next().unwrap_or_default();
    for col in ["NAME", "ID", "AUTHTYPE", "URL"] {
        assert!(header.contains(col), "header {header:?}");
    }
    for needle in [
        "requestbin",
        id.as_str(),
        "HttpHeader",
        "https://example.com/hook",
        "azure-fn",
        "WebhookKey",
        "HttpQueryString",
    ] {
        assert!(
            table.contains(needle),
            "webhook list should show {needle}:\n{table}"
        );
    }
    let listed = herald(&s, &["webhook", "list", "--output", "json"])
        .await
        .success()
        .json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 3, "{listed:?}");
    let bin = listed
        .iter()
        .find(|w| w["name"] == "requestbin")
        .expect("requestbin listed");
    assert_eq!(
        (
            bin["id"].as_str(),
            bin["authtype"].as_str(),
            bin["url"].as_str()
        ),
        (
            Some(id.as_str()),
            Some("HttpHeader"),
            Some("https://example.com/hook")
        )
    );

    // show, by name and by id.
    let shown = herald(&s, &["webhook", "show", "requestbin", "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(
        (shown["id"].as_str(), shown["authvalueset"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    let shown = herald(&s, &["webhook", "show", &id]).await.success().stdout;
    assert!(
        shown.contains("requestbin") && shown.contains("logs requests"),
        "{shown}"
    );

    // Names are unique; the server's reason is passed on.
    herald(
        &s,
        &[
            "webhook",
            "add",
            "--name",
            "requestbin",
            "--url",
            "https://example.com/other",
            "--auth",
            "webhookkey",
            "k",
        ],
    )
    .await
    .failure(&["server said 412", "already exists"]);

    // remove by name and by id.
    herald(&s, &["webhook", "remove", "requestbin"])
        .await
        .success();
    let (st, _) = s.get(&format!("serviceendpoints({id})")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    herald(&s, &["webhook", "remove", &key_id]).await.success();
    assert_eq!(count(&s, "serviceendpoints").await, 1);
    herald(&s, &["webhook", "remove", "requestbin"])
        .await
        .failure(&["unknown webhook 'requestbin'"]);
}

async fn steps_add_list_enable_disable_remove(s: TestServer) {
    let hook = add_hook(&s).await;
    let step = herald(
        &s,
        &[
            "step",
            "add",
            "--webhook",
            "hook",
            "--message",
            "Update",
            "--table",
            "contact",
            "--filter",
            "firstname,lastname",
            "--stage",
            "post",
            "--mode",
            "async",
            "--rank",
            "2",
            "--pre-image",
            "before:firstname,lastname",
            "--post-image",
            "after",
            "--run-as",
            "admin@herald.local",
            "--delete-job-on-success",
            "--description",
            "names changed",
        ],
    )
    .await
    .printed();

    // The ids the CLI had to discover, looked up the same way.
    let update = only(&s, "sdkmessages", "name eq 'Update'").await["sdkmessageid"]
        .as_str()
        .expect("id")
        .to_string();
    let filter = only(
        &s,
        "sdkmessagefilters",
        &format!("_sdkmessageid_value eq {update} and primaryobjecttypecode eq 'contact'"),
    )
    .await["sdkmessagefilterid"]
        .as_str()
        .expect("id")
        .to_string();
    let (st, row) = s.get(&format!("sdkmessageprocessingsteps({step})")).await;
    assert_eq!(st, StatusCode::OK, "{row}");
    assert_eq!(row["_sdkmessageid_value"], update);
    assert_eq!(row["_sdkmessagefilterid_value"], filter);
    assert_eq!(row["_eventhandler_value"], hook);
    assert_eq!(
        row["_impersonatinguserid_value"],
        s.state.org.admin_user_id.to_string()
    );
    assert_eq!(row["stage"], 40);
    assert_eq!(row["mode"], 1);
    assert_eq!(row["rank"], 2);
    assert_eq!(row["filteringattributes"], "firstname,lastname");
    assert_eq!(row["asyncautodelete"], true);
    assert_eq!(row["supporteddeployment"], 0);
    assert_eq!(row["description"], "names changed");
    assert_eq!(row["name"], "hook: Update of contact");
    assert_eq!(
        (row["statecode"].as_i64(), row["statuscode"].as_i64()),
        (Some(0), Some(1))
    );

    let (st, images) = s.get(&format!("sdkmessageprocessingstepimages?$filter=_sdkmessageprocessingstepid_value eq {step}&$orderby=imagetype")).await;
    assert_eq!(st, StatusCode::OK, "{images}");
    let images = images["value"].as_array().expect("value").clone();
    assert_eq!(images.len(), 2, "{images:?}");
    assert_eq!(
        (
            images[0]["imagetype"].as_i64(),
            images[0]["name"].as_str(),
            images[0]["entityalias"].as_str()
        ),
        (Some(0), Some("before"), Some("before"))
    );
    assert_eq!(images[0]["attributes"], "firstname,lastname");
    assert_eq!(
        (
            images[1]["imagetype"].as_i64(),
            images[1]["name"].as_str(),
            images[1]["entityalias"].as_str()
        ),
        (Some(1), Some("after"), Some("after"))
    );
    assert!(
        images[1]["attributes"].as_str().is_none_or(str::is_empty),
        "no columns = all: {}",
        images[1]
    );

    // A second, synchronous step on another webhook, named and found by name.
    herald(
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
    .success();
    let create = herald(
        &s,
        &[
            "step",
            "add",
            "--webhook",
            "other",
            "--message",
            "create",
            "--table",
            "account",
            "--stage",
            "20",
            "--mode",
            "sync",
            "--name",
            "account created",
        ],
    )
    .await
    .printed();
    let (_, row) = s.get(&format!("sdkmessageprocessingsteps({create})")).await;
    assert_eq!(
        (
            row["stage"].as_i64(),
            row["mode"].as_i64(),
            row["name"].as_str()
        ),
        (Some(20), Some(0), Some("account created"))
    );

    // list: table, JSON, and the --webhook filter.
    let table = herald(&s, &["step", "list"]).await.success().stdout;
    for needle in [
        "NAME",
        "MESSAGE",
        "TABLE",
        "STAGE",
        "MODE",
        "RANK",
        "ENABLED",
        "hook: Update of contact",
        step.as_str(),
        "Update",
        "contact",
        "PostOperation",
        "async",
        "firstname,lastname",
        "account created",
        "PreOperation",
        "sync",
    ] {
        assert!(
            table.contains(needle),
            "step list should show {needle}:\n{table}"
        );
    }
    let listed = herald(
        &s,
        &["step", "list", "--webhook", "hook", "--output", "json"],
    )
    .await
    .success()
    .json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let l = &listed[0];
    assert_eq!(
        (
            l["id"].as_str(),
            l["message"].as_str(),
            l["table"].as_str(),
            l["stage"].as_str(),
            l["mode"].as_str(),
            l["rank"].as_i64(),
            l["enabled"].as_bool(),
            l["filteringattributes"].as_str()
        ),
        (
            Some(step.as_str()),
            Some("Update"),
            Some("contact"),
            Some("PostOperation"),
            Some("async"),
            Some(2),
            Some(true),
            Some("firstname,lastname")
        )
    );
    let shown = herald(&s, &["step", "show", &step, "-o", "json"])
        .await
        .success()
        .json();
    assert_eq!(shown["images"].as_array().map(Vec::len), Some(2), "{shown}");
    assert_eq!(shown["webhook"], "hook");

    // disable / enable flip statecode and statuscode; by id and by name.
    herald(&s, &["step", "disable", &step]).await.success();
    let (_, row) = s
        .get(&format!(
            "sdkmessageprocessingsteps({step})?$select=statecode,statuscode"
        ))
        .await;
    assert_eq!(
        (row["statecode"].as_i64(), row["statuscode"].as_i64()),
        (Some(1), Some(2)),
        "{row}"
    );
    let listed = herald(&s, &["step", "list", "-o", "json"])
        .await
        .success()
        .json();
    assert!(
        listed
            .as_array()
            .expect("array")
            .iter()
            .any(|r| r["id"] == step.as_str() && r["enabled"] == false),
        "{listed}"
    );
    herald(&s, &["step", "enable", "hook: Update of contact"])
        .await
        .success();
    let (_, row) = s
        .get(&format!(
            "sdkmessageprocessingsteps({step})?$select=statecode,statuscode"
        ))
        .await;
    assert_eq!(
        (row["statecode"].as_i64(), row["statuscode"].as_i64()),
        (Some(0), Some(1)),
        "{row}"
    );

    // A webhook with steps is not removed; its steps are named.
    herald(&s, &["webhook", "remove", "hook"])
        .await
        .failure(&["still has 1 step", "hook: Update of contact"]);

    // remove deletes the step and its images.
    herald(&s, &["step", "remove", "hook: Update of contact"])
        .await
        .success();
    let (st, _) = s.get(&format!("sdkmessageprocessingsteps({step})")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, images) = s
        .get(&format!(
            "sdkmessageprocessingstepimages?$filter=_sdkmessageprocessingstepid_value eq {step}"
        ))
        .await;
    assert_eq!(
        images["value"].as_array().map(Vec::len),
        Some(0),
        "{images}"
    );
    herald(&s, &["step", "remove", &create]).await.success();
    herald(&s, &["step", "list"]).await.success();
    herald(&s, &["webhook", "remove", "hook"]).await.success();
    herald(&s, &["step", "remove", &step])
        .await
        .failure(&["unknown step"]);
}

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
    let run = Run::from(
        herald_command()
            .args(["step", "list", "--url", "http://127.0.0.1:5080"])
            .output()
            .expect("run"),
    );
    run.failure(&["hint: connection options go before the command"]);
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
