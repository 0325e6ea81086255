//! Fuzz the FetchXML parser: any input must give a Query or a QueryError,
//! never a panic or a stack overflow.
#![no_main]

use herald_core::fetchxml::parse_fetchxml;
use herald_core::Schema;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| Schema::build(&[]).expect("built-in schema"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_fetchxml(schema(), text);
});
