//! URL-encoded form bodies and query strings, read leniently (an unknown
//! or repeated field is ignored; the first occurrence wins), plus building
//! query strings for links.

use std::collections::HashMap;

/// The fields of `a=1&b=2` (form body or query string).
#[derive(Debug, Clone, Default)]
pub struct Fields(HashMap<String, String>);

impl Fields {
    pub fn parse(raw: &[u8]) -> Fields {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        Fields(map)
    }

    pub fn query(raw: Option<&str>) -> Fields {
        Fields::parse(raw.unwrap_or("").as_bytes())
    }

    /// The field, trimmed; None when missing or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

/// `?k=v&…` of the non-empty pairs (empty string when none).
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("?{}", s.finish())
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_builds() {
        let f = Fields::parse(b"a=1+2&b=&a=3&c=%3Cx%3E");
        assert_eq!(f.get("a"), Some("1 2"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.get("c"), Some("<x>"));
        assert_eq!(
            query_string(&[("s", "failed"), ("t", ""), ("q", "a&b")]),
            "?s=failed&q=a%26b"
        );
        assert_eq!(query_string(&[("t", "")]), "");
    }
}
