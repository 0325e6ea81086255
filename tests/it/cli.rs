//! The binary itself: help, version, and `herald serve` printing where it
//! listens and the key it generated.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn herald() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herald"))
}

#[test]
fn help_explains_the_commands() {
    let out = herald().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["serve", "version", "Dataverse", "herald serve"] {
        assert!(
            text.contains(needle),
            "--help should mention {needle}:\n{text}"
        );
    }
    let out = herald().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--config",
        "HERALD_DATABASE_URL",
    ] {
        assert!(
            text.contains(needle),
            "serve --help should mention {needle}:\n{text}"
        );
    }
}

/// `herald version` and `herald --version`: the package version and, in a
/// git checkout (this one, when git is installed), the commit.
#[test]
fn version_prints_the_version_and_the_commit() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let expected = match &commit {
        Some(c) => format!("herald {} ({c})", env!("CARGO_PKG_VERSION")),
        None => format!("herald {}", env!("CARGO_PKG_VERSION")),
    };
    for args in [&["version"][..], &["--version"][..]] {
        let out = herald().args(args).output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            expected,
            "{args:?}"
        );
    }
}

/// `herald completions bash|zsh|fish` prints a script naming the commands;
/// the bash one loads and registers a completion for `herald`.
#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = herald().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for needle in ["webhook", "serve", "completions"] {
            assert!(script.contains(needle), "{shell} completions lack {needle}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("herald.bash");
    let out = herald().args(["completions", "bash"]).output().unwrap();
    std::fs::write(&file, &out.stdout).unwrap();
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p herald", file.display()))
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let bad = herald().args(["completions", "tcsh"]).output().unwrap();
    assert!(!bad.status.success());
}

#[test]
fn serve_prints_address_and_generated_key_then_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let mut child = herald()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env_remove("HERALD_ADMIN_KEY")
            .env_remove("HERALD_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.contains("admin key");
            lines.push(line);
            if done || Instant::now() > deadline {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        lines.join("\n")
    };
    let first = run();
    assert!(first.contains("listening on http://127.0.0.1:"), "{first}");
    let key = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
    assert!(
        first.contains(key.trim()),
        "the generated key is printed:\n{first}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("admin.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let second = run();
    assert!(
        !second.contains(key.trim()),
        "the key is printed only once:\n{second}"
    );
    assert!(dir.path().join("herald.db").exists());
}

#[test]
fn a_busy_port_is_named_once() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = herald()
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(dir.path())
        .env_remove("HERALD_ADMIN_KEY")
        .env_remove("HERALD_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}: address already in use")),
        "{stderr}"
    );
    assert_eq!(stderr.matches(&addr).count(), 1, "{stderr}");
    assert!(!stderr.contains("os error"), "{stderr}");
}
