//! Fuzz the OData query options ($filter, $select, $orderby, $expand, $top,
//! aliases): any input must give a Query or a QueryError, never a panic.
#![no_main]

use herald_core::odata::{parse_options, split_query_string};
use herald_core::Schema;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| Schema::build(&[]).expect("built-in schema"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let schema = schema();
    let contact = schema.table("contact").expect("contact");
    // As a raw $filter value…
    let _ = parse_options(schema, contact, &[("$filter".to_string(), text.to_string())]);
    // …and as a whole query string.
    let options = split_query_string(text);
    let _ = parse_options(schema, contact, &options);
});
