//! Parameter aliases (`@name=value`), usable wherever a literal is expected
//! in `$filter` and in the key position (`serviceendpoints(@id)?@id=<guid>`).

use std::collections::BTreeMap;

use crate::error::QueryError;

/// The parameter aliases among the query options: `@id=<guid>` becomes
/// `"id" → "<guid>"` (name without `@`, raw value). If an alias is given
/// twice, the last value wins.
pub fn parameter_aliases(options: &[(String, String)]) -> BTreeMap<String, String> {
    options
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix('@')
                .map(|name| (name.to_string(), v.clone()))
        })
        .collect()
}

/// Resolve a value that may be a parameter alias: `@id` is replaced by the
/// value of the `@id=` option; anything else is returned unchanged (after
/// trimming surrounding whitespace). An undefined alias is an error.
pub fn resolve_alias<'a>(
    value: &'a str,
    aliases: &'a BTreeMap<String, String>,
) -> Result<&'a str, QueryError> {
    let value = value.trim();
    match value.strip_prefix('@') {
        None => Ok(value),
        Some(name) => aliases.get(name).map(|v| v.trim()).ok_or_else(|| {
            QueryError::new(format!(
                "The parameter alias '@{name}' is not defined; add '@{name}=<value>' to the query"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_aliases() {
        let opts = vec![
            ("$select".to_string(), "name".to_string()),
            (
                "@id".to_string(),
                "6d81597f-0f9f-e711-8122-000d3aa2331c".to_string(),
            ),
        ];
        let aliases = parameter_aliases(&opts);
        assert_eq!(aliases.len(), 1);
        assert_eq!(
            resolve_alias("@id", &aliases).unwrap(),
            "6d81597f-0f9f-e711-8122-000d3aa2331c"
        );
        assert_eq!(resolve_alias("abc", &aliases).unwrap(), "abc");
        let err = resolve_alias("@nope", &aliases).unwrap_err();
        assert!(err.message.contains("'@nope'"), "{}", err.message);
    }
}
