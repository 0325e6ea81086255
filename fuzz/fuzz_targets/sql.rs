//! Fuzz the `?sql=` translation: any input must give a Query or a
//! QueryError, never a panic or a stack overflow; and a translated query
//! always names a table of the schema.
#![no_main]

use herald_core::sql::parse_sql;
use herald_core::Schema;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| Schema::build(&[]).expect("built-in schema"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(query) = parse_sql(schema(), text) {
        assert!(schema().table(&query.table).is_some(), "{text}");
    }
});
