//! The README, followed literally: every ```` ```sh ```` block runs, in
//! order, in ONE shell (as if pasted into one terminal), in a fresh
//! temporary directory, with `herald` on the PATH the way the README's
//! "Install" section says (`target/release` on the PATH: here the
//! directory of the binary this test run built) and `herald serve` started
//! there first, as "Start it" says. Any non-zero exit fails the test.
//!
//! A block preceded by `<!-- readme-test: skip (why) -->` is not run: the
//! install (a release build), `herald serve` itself (this test starts it),
//! `./scripts/test` (which runs this test) and the benchmarks. The only
//! change made to the text is the port: `127.0.0.1:5080` becomes the free
//! loopback port the server was started on (`HERALD_LISTEN`, which the
//! shell also sees, so `herald doctor` checks the same address).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const README: &str = include_str!("../../README.md");
const SKIP_MARKER: &str = "<!-- readme-test: skip";
const DEFAULT_ADDR: &str = "127.0.0.1:5080";

/// One ```` ```sh ```` block of the README.
struct Block {
    line: usize,
    text: String,
    skipped: bool,
}

fn sh_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut previous = "";
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        match open.as_mut() {
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.extend(open.take());
            }
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            None if line.trim() == "```sh" => {
                open = Some(Block {
                    line: i + 1,
                    text: String::new(),
                    skipped: previous.trim_start().starts_with(SKIP_MARKER),
                });
            }
            None => {}
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    blocks
}

/// A server process that is killed when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The environment of a fresh terminal: none of herald's variables.
fn clean(cmd: &mut Command, dir: &Path, path: &str, listen: &str) {
    for var in [
        "HERALD_URL",
        "HERALD_KEY",
        "HERALD_ADMIN_KEY",
        "HERALD_SECRET_KEY",
        "HERALD_DATA_DIR",
        "HERALD_DATABASE_URL",
        "HERALD_CONFIG",
        "HERALD_ORGANIZATION",
        "HERALD_ALLOW_PRIVATE_TARGETS",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir)
        .env("PATH", path)
        .env("HERALD_LISTEN", listen);
}

/// `herald serve` in `dir`, returned once its start banner is printed
/// (the listener is bound by then).
fn start_server(dir: &Path, path: &str, listen: &str) -> Server {
    let mut cmd = Command::new("herald");
    cmd.arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    clean(&mut cmd, dir, path, listen);
    let mut child = cmd.spawn().expect("start `herald serve` from the PATH");
    let stdout = child.stdout.take().expect("piped stdout");
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    for line in lines.by_ref() {
        let line = line.expect("read the start banner");
        banner.push_str(&line);
        banner.push('\n');
        if line.trim_start().starts_with("try:") {
            break;
        }
    }
    assert!(
        banner.contains(&format!("listening on http://{listen}")),
        "herald serve did not start:\n{banner}"
    );
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    server
}

#[test]
fn every_readme_shell_block_runs_as_pasted() {
    let blocks = sh_blocks(README);
    let skipped: Vec<&str> = blocks
        .iter()
        .filter(|b| b.skipped)
        .map(|b| b.text.as_str())
        .collect();
    for excluded in ["cargo install --path .", "herald serve", "./scripts/test"] {
        assert!(
            skipped.iter().any(|t| t.contains(excluded)),
            "the README block with `{excluded}` should carry the skip marker"
        );
    }
    let runnable: Vec<&Block> = blocks.iter().filter(|b| !b.skipped).collect();
    assert!(runnable.len() >= 5, "too few runnable blocks found");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        probe.local_addr().expect("its address").to_string()
    };
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_herald"))
        .parent()
        .expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let _server = start_server(dir.path(), &path, &listen);

    let mut script = String::from("set -eo pipefail\n");
    for block in &runnable {
        script.push_str(&format!("echo '### README.md line {}' >&2\n", block.line));
        script.push_str(&block.text.replace(DEFAULT_ADDR, &listen));
    }
    let mut shell = Command::new("bash");
    shell.arg("-c").arg(&script);
    clean(&mut shell, dir.path(), &path, &listen);
    let out = shell.output().expect("run bash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a README block failed ({}); the last `### README.md line N` below is the block:\n\
         --- stdout\n{}\n--- stderr\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
    );
    for block in &runnable {
        assert!(
            stderr.contains(&format!("### README.md line {}\n", block.line)),
            "block at line {} did not run",
            block.line
        );
    }
}

#[test]
fn blocks_are_found_with_their_markers() {
    let blocks = sh_blocks(
        "x\n<!-- readme-test: skip (why) -->\n```sh\na\n```\n\n```sh\nb\nc\n```\n```toml\nd\n```\n",
    );
    assert_eq!(blocks.len(), 2);
    assert!(blocks[0].skipped);
    assert_eq!(blocks[0].text, "a\n");
    assert!(!blocks[1].skipped);
    assert_eq!(blocks[1].text, "b\nc\n");
    assert_eq!(blocks[1].line, 7);
}

#[test]
fn the_license_file_is_the_one_cargo_toml_names() {
    let license = include_str!("../../LICENSE");
    let manifest = include_str!("../../Cargo.toml");
    assert!(manifest.contains("license = \"Apache-2.0\""));
    assert!(
        license.trim_start().starts_with("Apache License")
            && license.contains("Version 2.0, January 2004"),
        "LICENSE should be the Apache License 2.0 text"
    );
}

/// The README and docs/ stand alone: nothing points at files a clone does
/// not have (the spec folder beside the repository, its seeds and sections).
#[test]
fn the_docs_stand_alone() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut texts = vec![("README.md".to_string(), README.to_string())];
    for entry in std::fs::read_dir(&docs).expect("docs/") {
        let path = entry.expect("a docs/ entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).expect("read a doc");
            texts.push((path.display().to_string(), text));
        }
    }
    for (name, text) in texts {
        for needle in ["../shared", "shared/spec", "seed 0", "the seeds", "SPEC §"] {
            assert!(!text.contains(needle), "{name} refers to {needle:?}");
        }
    }
}
