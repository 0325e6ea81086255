//! The command line before clap sees it: `--url` (where the running
//! herald is) may follow the command (`herald job list --url URL`), and is
//! moved in front of it here.
//!
//! Why not clap's `global = true`, as `--key` and `--data-dir` are: `herald
//! webhook add --url` / `webhook update --url` is the *endpoint's* URL, and a
//! global `--url` would either clash with it or take its value. So a
//! `--url` after any client command other than those two is hoisted; after
//! `webhook add|update` it stays the endpoint (give the server's before the
//! command there, or use `HERALD_URL`).

use std::ffi::OsString;

/// The commands that talk to a running herald.
const CLIENT_COMMANDS: &[&str] = &[
    "webhook",
    "step",
    "notify",
    "job",
    "bin",
    "subscription",
    "key",
];

/// Top-level options that take a value as the next argument.
const VALUE_OPTIONS: &[&str] = &["--url", "--key", "--data-dir", "--ca-cert"];

/// `args` (program name first) with every `--url V` / `--url=V` that
/// follows a client command moved to just after the program name.
pub fn hoist_server_url(args: Vec<OsString>) -> Vec<OsString> {
    let text: Vec<Option<&str>> = args.iter().map(|a| a.to_str()).collect();
    // Find the command: the first argument that is not a top-level option or its value.
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            Some(a) if VALUE_OPTIONS.contains(&a) => i += 2,
            Some(a) if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let Some(Some(command)) = text.get(i).copied() else {
        return args;
    };
    if !CLIENT_COMMANDS.contains(&command) {
        return args;
    }
    let sub = text.get(i + 1).copied().flatten();
    if command == "webhook" && matches!(sub, Some("add" | "update")) {
        return args;
    }
    let mut hoisted = Vec::new();
    let mut rest = Vec::new();
    let mut j = i;
    while j < args.len() {
        match text[j] {
            Some("--") => {
                rest.extend(args[j..].iter().cloned());
                break;
            }
            Some("--url") if j + 1 < args.len() => {
                hoisted.extend(args[j..j + 2].iter().cloned());
                j += 2;
                continue;
            }
            Some(a) if a.starts_with("--url=") => hoisted.push(args[j].clone()),
            _ => rest.push(args[j].clone()),
        }
        j += 1;
    }
    let mut out = Vec::with_capacity(args.len());
    out.push(args[0].clone());
    out.extend(hoisted);
    out.extend(args[1..i].iter().cloned());
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hoist(line: &str) -> String {
        let args = line.split(' ').map(OsString::from).collect();
        hoist_server_url(args)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_url_after_a_client_command_moves_in_front() {
        assert_eq!(hoist("herald job list --url U"), "herald --url U job list");
        assert_eq!(
            hoist("herald --key K step list --url=U -o json"),
            "herald --url=U --key K step list -o json"
        );
        assert_eq!(hoist("herald job list"), "herald job list");
    }

    #[test]
    fn the_endpoint_url_of_webhook_add_and_update_stays() {
        for line in [
            "herald webhook add --name n --url E",
            "herald --url U webhook update n --url E",
            "herald serve --url X",
            "herald job show -- --url",
        ] {
            assert_eq!(hoist(line), line);
        }
    }
}
