//! Running the real `herald` binary from tests: the command-line tools
//! against a test server.

use std::process::{Command, Output};

use serde_json::Value;

use super::TestServer;

/// What one run of the binary did.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert!(
            self.ok,
            "herald failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Must succeed; its stdout trimmed (e.g. the id an `add` prints).
    #[track_caller]
    pub fn printed(self) -> String {
        self.success().stdout.trim().to_string()
    }

    /// Must fail with an `error:` line containing every needle.
    #[track_caller]
    pub fn failure(self, needles: &[&str]) -> Run {
        assert!(
            !self.ok,
            "herald should have failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr should mention {n:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("--output json is not JSON ({e}):\n{}", self.stdout))
    }
}

pub fn herald_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    for var in [
        "HERALD_URL",
        "HERALD_KEY",
        "HERALD_ADMIN_KEY",
        "HERALD_DATA_DIR",
        "HERALD_CA_CERT",
    ] {
        c.env_remove(var);
    }
    c
}

/// `herald --url <server> --key <key> <args…>`, off the async runtime.
pub async fn herald(s: &TestServer, args: &[&str]) -> Run {
    let mut cmd = herald_command();
    cmd.arg("--url")
        .arg(&s.base)
        .arg("--key")
        .arg(&s.key)
        .args(args);
    tokio::task::spawn_blocking(move || Run::from(cmd.output().expect("run the herald binary")))
        .await
        .expect("the blocking task")
}
