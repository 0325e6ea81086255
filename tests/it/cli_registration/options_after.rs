//! Connection options (`--url`, `--key`) are accepted after the command
//! as well as before it; after `webhook add` `--url` stays the endpoint.

use crate::common::cli::{herald_command, Run};
use crate::common::TestServer;

both_backends!(connection_options_follow_the_command,);

/// `herald <args…>` with no connection options but those in `args`.
async fn bare(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        Run::from(herald_command().args(&args).output().expect("run herald"))
    })
    .await
    .expect("the blocking task")
}

fn words(line: &[&str]) -> Vec<String> {
    line.iter().map(|w| w.to_string()).collect()
}

async fn connection_options_follow_the_command(s: TestServer) {
    let (url, key) = (s.base.as_str(), s.key.as_str());
    // Before the command: the server; after `webhook add`: the endpoint.
    let id = bare(words(&[
        "--url",
        url,
        "webhook",
        "add",
        "--name",
        "after",
        "--url",
        "https://example.com/after",
        "--auth",
        "header",
        "X-Key: k",
        "--key",
        key,
    ]))
    .await
    .printed();
    let (_, row) = s.get(&format!("serviceendpoints({id})")).await;
    assert_eq!(row["url"], "https://example.com/after");

    let list = bare(words(&[
        "webhook", "list", "--url", url, "--key", key, "-o", "json",
    ]))
    .await;
    let list = list.success().json();
    assert_eq!(list[0]["name"], "after", "{list}");
    let shown = bare(words(&[
        "webhook",
        "show",
        "after",
        &format!("--url={url}"),
        "--key",
        key,
    ]))
    .await
    .printed();
    assert!(shown.contains("https://example.com/after"), "{shown}");
    bare(words(&["job", "list", "--key", key, "--url", url]))
        .await
        .success();
    bare(words(&["bin", "list", "--url", url, "--key", key]))
        .await
        .success();
    // `key remove NAME --key K`: the positional is the key to remove, --key the caller's.
    bare(words(&["key", "list", "--url", url, "--key", key]))
        .await
        .success();
    bare(words(&[
        "key",
        "remove",
        "nosuchkey",
        "--url",
        url,
        "--key",
        key,
    ]))
    .await
    .failure(&["nosuchkey"]);
}
