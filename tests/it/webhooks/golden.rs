//! Golden comparisons against seed 000's request body: an ordered, recursive
//! JSON comparison (serde_json's `==` ignores key order) and the blanking of
//! run-specific values (GUIDs, `\/Date(…)\/`s) so a body received from a
//! real run can be compared with the seed field for field.

use std::collections::HashMap;

use serde_json::{json, Value};

/// The request body printed in seed 000 ("Use webhooks…", Request Body),
/// verbatim (seed 002 prints the same one).
pub const SEED_000_BODY: &str = include_str!("seed-000-body.json");

/// Seed 000's body as a JSON value (keys in the seed's order).
pub fn seed_000() -> Value {
    serde_json::from_str(SEED_000_BODY).expect("seed-000-body.json is JSON")
}

/// Equal values AND equal key order at every level; panics with the path of
/// the first difference (and both sides there).
pub fn assert_same_ordered(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let ak: Vec<&String> = a.keys().collect();
            let ek: Vec<&String> = e.keys().collect();
            assert_eq!(ak, ek, "keys (in order) differ at {path}");
            for (k, v) in e {
                assert_same_ordered(&a[k], v, &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(
                a.len(),
                e.len(),
                "array length differs at {path}:\n actual {actual}\n expected {expected}"
            );
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                assert_same_ordered(x, y, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(actual, expected, "value differs at {path}"),
    }
}

/// Run-specific values blanked, everything else (keys, their order, types,
/// every other value) kept:
///
/// - each GUID string becomes `guid#N`, N numbered by first appearance, so
///   which ids are the same id (UserId = InitiatingUserId = modifiedby, the
///   record id in Target / images / PrimaryEntityId, …) is still compared;
/// - `/Date(<ms>)/` becomes `/Date(ms)/` and `/Date(<ms>±hhmm)/` becomes
///   `/Date(ms±offset)/`: the time goes, the style (with or without an
///   offset) stays.
pub fn blank_run_values(v: &Value) -> Value {
    let mut ids = HashMap::new();
    blank(v, &mut ids)
}

fn blank(v: &Value, ids: &mut HashMap<String, usize>) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), blank(v, ids))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| blank(x, ids)).collect()),
        Value::String(s) if is_guid(s) => {
            let n = ids.len() + 1;
            let n = *ids.entry(s.to_lowercase()).or_insert(n);
            Value::String(format!("guid#{n}"))
        }
        Value::String(s) => match date_style(s) {
            Some(style) => Value::String(style.to_string()),
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `/Date(ms)/` or `/Date(ms±offset)/` for a `\/Date(…)\/` value (already
/// unescaped by the JSON parser), else None.
fn date_style(s: &str) -> Option<&'static str> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let digits = inner.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    match &inner[digits..] {
        "" => Some("/Date(ms)/"),
        rest if rest.len() == 5
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            Some("/Date(ms±offset)/")
        }
        _ => None,
    }
}

#[test]
fn golden_blanking_keeps_identity_and_date_style() {
    let v: Value = serde_json::from_str(
        r#"{"a":"6D81597F-0F9F-E711-8122-000D3AA2331C","b":"75c2dd85-e89e-e711-8122-000d3aa2331c","c":"6d81597f-0f9f-e711-8122-000d3aa2331c","d":"\/Date(1506384247000)\/","e":"\/Date(1506409448000-0700)\/","f":"James"}"#,
    )
    .expect("json");
    assert_eq!(
        blank_run_values(&v).to_string(),
        r#"{"a":"guid#1","b":"guid#2","c":"guid#1","d":"/Date(ms)/","e":"/Date(ms±offset)/","f":"James"}"#
    );
}

#[test]
#[should_panic(expected = "keys (in order) differ at $.x")]
fn golden_comparison_sees_key_order() {
    let a = json!({"x": {"a": 1, "b": 2}});
    let b = json!({"x": {"b": 2, "a": 1}});
    assert_eq!(a, b, "serde_json's == alone does not see the difference");
    assert_same_ordered(&a, &b, "$");
}
