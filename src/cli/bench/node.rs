//! A second herald node for `drain --nodes 2`: this same binary run as
//! `herald serve` in a child process, on the same PostgreSQL database as
//! the bench's in-process herald, with its own data directory holding a
//! copy of the first node's secret key (so it opens the webhook's sealed
//! auth values) and the same admin key.
//!
//! Why a child process and not a second server in the bench's process: two
//! nodes in one process would share one tokio runtime, one allocator and
//! one set of worker threads, which no deployment does, and their CPU time
//! could not be told apart. As a process of its own the second node is
//! what a user runs, and `/proc/<pid>/stat` gives its CPU time beside the
//! bench process's (the first node, the receiver and the idle load
//! generator).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running child node; [`Node::stop`] ends it (SIGTERM, then kill).
pub struct Node {
    child: Child,
    dir: PathBuf,
    pub pid: u32,
}

impl Node {
    /// Start `herald serve` on `database_url` with the admin key and the
    /// secret key file of the first node's `data_dir`; returns once it
    /// listens (its workers start right after).
    pub async fn start(
        database_url: &str,
        admin_key: &str,
        data_dir: &Path,
    ) -> anyhow::Result<Node> {
        let dir = std::env::temp_dir().join(format!(
            "herald-bench-node-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let key = data_dir.join("secret.key");
        if key.exists() {
            std::fs::copy(&key, dir.join("secret.key")).context("copying the secret key")?;
        }
        let exe = std::env::current_exe().context("finding the herald binary")?;
        let mut child = Command::new(exe)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--allow-private-targets"])
            .arg("--data-dir")
            .arg(&dir)
            .args(["--database-url", database_url])
            .env("HERALD_ADMIN_KEY", admin_key)
            .env_remove("HERALD_SECRET_KEY")
            .env_remove("HERALD_CONFIG")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the second node")?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the second node exited at once"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(l) = lines.next_line().await? {
                if l.contains(" listening on ") {
                    return Ok::<_, anyhow::Error>(true);
                }
            }
            Ok(false)
        })
        .await;
        match listening {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) | Ok(Err(_)) => bail!("the second node exited before it listened"),
            Err(_) => bail!("the second node did not listen within 60 s"),
        }
        // Keep reading its stdout so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Node { child, dir, pid })
    }

    /// Peak resident memory of the node, MB.
    pub fn peak_mb(&self) -> Option<f64> {
        super::procfs::peak_mb(Some(self.pid))
    }

    pub async fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
