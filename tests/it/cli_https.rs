//! The CLI talking to a server started with `serve --tls-self-signed` over
//! https: it trusts the data directory's self-signed certificate by itself
//! (`--data-dir`), or the one named by `--ca-cert` / `HERALD_CA_CERT`;
//! without either it refuses the connection with a message naming the
//! options (verification is never turned off), and a `--ca-cert` that is
//! missing or not PEM is an error of its own.

use crate::common::cli::{herald_command, Run};
use crate::common::{Backend, TestServer};

async fn run(s: &TestServer, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = herald_command();
    cmd.arg("--url")
        .arg(&s.base)
        .arg("--key")
        .arg(&s.key)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || Run::from(cmd.output().expect("run the herald binary")))
        .await
        .expect("the blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_trusts_its_servers_self_signed_certificate() {
    let s = TestServer::start_with(Backend::Sqlite, "cli_https", |c| {
        c.server.tls_self_signed = true
    })
    .await
    .expect("server");
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let data_dir = s.state.config.server.data_dir.clone();
    let cert = herald_server::tls::self_signed::cert_path(&data_dir);
    let (data_dir, cert) = (data_dir.display().to_string(), cert.display().to_string());
    let elsewhere = tempfile::tempdir().expect("an empty data dir");
    let empty = elsewhere.path().display().to_string();

    // The server's own data directory: its certificate is trusted.
    run(&s, &["--data-dir", &data_dir, "webhook", "list"], &[])
        .await
        .success();
    run(&s, &["webhook", "list"], &[("HERALD_DATA_DIR", &data_dir)])
        .await
        .success();
    // Named explicitly, from anywhere.
    run(
        &s,
        &["--data-dir", &empty, "--ca-cert", &cert, "job", "list"],
        &[],
    )
    .await
    .success();
    run(
        &s,
        &["--data-dir", &empty, "webhook", "list"],
        &[("HERALD_CA_CERT", &cert)],
    )
    .await
    .success();

    // Nobody vouches for it: refused, saying how to fix it.
    run(&s, &["--data-dir", &empty, "webhook", "list"], &[])
        .await
        .failure(&["not trusted", "--ca-cert", "self-signed.crt"]);
    // Another certificate is no help.
    let other = tempfile::tempdir().expect("a dir for another pair");
    let pair = herald_server::tls::self_signed::ensure(other.path()).expect("another pair");
    let wrong = pair.cert.display().to_string();
    run(
        &s,
        &["--data-dir", &empty, "--ca-cert", &wrong, "webhook", "list"],
        &[],
    )
    .await
    .failure(&["not trusted", &wrong]);
    // A --ca-cert that cannot be used is its own error.
    let missing = elsewhere.path().join("missing.crt").display().to_string();
    run(&s, &["--ca-cert", &missing, "webhook", "list"], &[])
        .await
        .failure(&["cannot read --ca-cert", "missing.crt"]);
    let garbage = elsewhere.path().join("garbage.crt");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let garbage = garbage.display().to_string();
    run(&s, &["--ca-cert", &garbage, "webhook", "list"], &[])
        .await
        .failure(&["garbage.crt", "no PEM certificate"]);
}
