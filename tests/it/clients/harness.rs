//! Running the real clients: `scripts/clients` installs them (once per test
//! process, reused from `target/clients/` afterwards), a herald on HTTPS
//! with its self-signed certificate serves them, and a client program from
//! `tests/clients/` runs as a child process whose stdout is one JSON object
//! per step. Where the clients cannot be installed (no package registry,
//! no python3 or Node.js), a test prints SKIPPED and passes — unless
//! `HERALD_CLIENT_TESTS` is set (CI sets it), where it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::common::{Backend, TestServer};

/// A client program may take this long (the Python client retries a failed
/// connection with back-off, so a broken TLS setup still ends in time).
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(180);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where `scripts/clients` installs.
pub struct Clients {
    dir: PathBuf,
}

impl Clients {
    /// The installed clients, or `None` (after printing SKIPPED) when they
    /// cannot be installed and `HERALD_CLIENT_TESTS` is unset.
    pub async fn installed(test: &str) -> Option<Clients> {
        static INSTALL: OnceLock<Result<(), String>> = OnceLock::new();
        let outcome = tokio::task::spawn_blocking(|| INSTALL.get_or_init(install).clone())
            .await
            .expect("the install task");
        match outcome {
            Ok(()) => Some(Clients {
                dir: repo().join("target").join("clients"),
            }),
            Err(reason)
                if std::env::var_os("HERALD_CLIENT_TESTS").is_some_and(|v| !v.is_empty()) =>
            {
                panic!("{test}: HERALD_CLIENT_TESTS is set but the clients cannot be installed: {reason}")
            }
            Err(reason) => {
                eprintln!("SKIPPED {test}: the real clients cannot be installed: {reason}");
                None
            }
        }
    }

    /// Run `tests/clients/python/<program>` with the venv's python.
    pub async fn python(&self, s: &TestServer, program: &str) -> Steps {
        let script = repo().join("tests/clients/python").join(program);
        let mut cmd = tokio::process::Command::new(self.dir.join("venv/bin/python"));
        cmd.arg(script)
            .env("HERALD_URL", &s.base)
            .env("REQUESTS_CA_BUNDLE", certificate(s))
            // For clients that take the CA file as an argument
            // (pybusinesscentral's Configuration.ssl_ca_cert).
            .env("HERALD_CA", certificate(s));
        run(cmd, s, program).await
    }

    /// Run `tests/clients/node/<program>` with Node.js. The program is
    /// copied beside the private `node_modules` first: an ES module finds
    /// its packages from where it lies (`NODE_PATH` does not apply).
    pub async fn node(&self, s: &TestServer, program: &str) -> Steps {
        let source = repo().join("tests/clients/node").join(program);
        let copy = self.dir.join("node").join(program);
        std::fs::copy(&source, &copy).expect("copy the node program beside node_modules");
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(copy)
            .env("HERALD_URL", format!("{}/", s.base))
            .env("NODE_EXTRA_CA_CERTS", certificate(s));
        run(cmd, s, program).await
    }
}

fn install() -> Result<(), String> {
    let out = std::process::Command::new(repo().join("scripts/clients"))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run scripts/clients: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        Err(format!(
            "scripts/clients exited with {}: {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    }
}

/// A herald on HTTPS with its self-signed certificate (SQLite).
pub async fn https_server(test: &str) -> TestServer {
    TestServer::start_with(Backend::Sqlite, test, |c| c.server.tls_self_signed = true)
        .await
        .expect("server")
}

fn certificate(s: &TestServer) -> PathBuf {
    herald_server::tls::self_signed::cert_path(&s.state.config.server.data_dir)
}

/// What a client program printed: its steps by name.
pub struct Steps {
    steps: BTreeMap<String, Value>,
    transcript: String,
}

impl Steps {
    /// The step `name`'s output; panics with the whole transcript if absent.
    pub fn step(&self, name: &str) -> &Value {
        self.steps
            .get(name)
            .unwrap_or_else(|| panic!("the program printed no step '{name}':\n{}", self.transcript))
    }
}

async fn run(mut cmd: tokio::process::Command, s: &TestServer, program: &str) -> Steps {
    cmd.env("HERALD_KEY", &s.key)
        .env("NO_PROXY", "127.0.0.1,localhost,::1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(PROGRAM_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{program} did not finish within {PROGRAM_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let transcript = format!(
        "--- {program} ({}) stdout:\n{stdout}--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{transcript}");
    let steps = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["step"].as_str()?.to_string(), v)))
        .collect();
    Steps { steps, transcript }
}
