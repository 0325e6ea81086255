//! `herald step add|list|enable|disable|remove` (with images), checked
//! through the Web API.

use reqwest::StatusCode;

use super::{add_hook, only};
use crate::common::cli::herald;
use crate::common::TestServer;

both_backends!(steps_add_list_enable_disable_remove,);

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
