//! `docs/herald.toml`, the commented example configuration, parses, gives
//! exactly the defaults (`Config::default()`), and names every key of
//! every section (set, or commented out when it has no default value).

use std::path::Path;

use herald_server::config::Config;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/herald.toml");

#[test]
fn the_example_config_parses_to_the_defaults() {
    let parsed = Config::load(Some(Path::new(EXAMPLE)), &[]).expect("docs/herald.toml parses");
    // Config has no PartialEq; its Debug form shows every field's value.
    assert_eq!(
        format!("{parsed:#?}"),
        format!("{:#?}", Config::default()),
        "docs/herald.toml should set every key to its default"
    );
}

#[test]
fn the_example_config_names_every_key() {
    let text = std::fs::read_to_string(EXAMPLE).expect("read docs/herald.toml");
    let defaults = format!("{:#?}", Config::default());
    // The sections' fields: `name: value,` lines two levels deep in the Debug form.
    let mut keys = Vec::new();
    let mut section = String::new();
    for line in defaults.lines() {
        let depth = line.len() - line.trim_start().len();
        let Some((name, _)) = line.trim().split_once(':') else {
            continue;
        };
        match depth {
            4 => section = name.to_string(),
            8 if section != "tables" => keys.push((section.clone(), name.to_string())),
            _ => {}
        }
    }
    assert!(
        keys.len() > 20,
        "the defaults' keys were not found: {keys:?}"
    );
    for (section, key) in keys {
        let body = text
            .split(&format!("[{section}]\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("docs/herald.toml has no [{section}] section"));
        let body = body.split("\n[").next().unwrap_or(body);
        let named = body.lines().any(|l| {
            let l = l.trim_start_matches('#').trim_start();
            l.starts_with(&format!("{key} ="))
        });
        assert!(named, "docs/herald.toml does not name [{section}] {key}");
    }
}
