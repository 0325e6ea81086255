//! Splitting a raw URL query string into decoded `(key, value)` pairs,
//! including the seeds' second `?` that introduces parameter aliases.

/// Split a raw URL query (the part after the first `?`) into decoded
/// `(key, value)` pairs, in order.
///
/// * Pairs are separated by `&`; a pair without `=` has an empty value and
///   empty pairs (`a=1&&b=2`) are skipped.
/// * Keys and values are percent-decoded and `+` means a space. Invalid
///   escapes (`%zz`) are kept literally; invalid UTF-8 is replaced by U+FFFD.
/// * The Dataverse documentation prints URLs such as
///   `…?$select=a,b?@id=<guid>`, where a second `?` introduces parameter
///   aliases. A raw `?` is therefore also a separator, but only when it is
///   directly followed by `@`; any other `?` stays part of the value.
/// * A single leading `?` is tolerated.
pub fn split_query_string(raw: &str) -> Vec<(String, String)> {
    let raw = raw.strip_prefix('?').unwrap_or(raw);
    let mut out = Vec::new();
    for part in raw.split('&') {
        for piece in split_alias_marks(part) {
            if piece.is_empty() {
                continue;
            }
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            out.push((percent_decode(key), percent_decode(value)));
        }
    }
    out
}

/// Split `part` at every `?` that is directly followed by `@`.
fn split_alias_marks(part: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let bytes = part.as_bytes();
    for i in 0..bytes.len() {
        // Both bytes are ASCII, so `i` and `i + 1` are char boundaries.
        if bytes[i] == b'?' && bytes.get(i + 1) == Some(&b'@') {
            pieces.push(&part[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&part[start..]);
    pieces
}

/// Decode `%XX` escapes and `+` (a space) of a URL query component.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_digit(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_digit(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn splits_and_decodes() {
        assert_eq!(
            split_query_string("$filter=contract%20eq%208&$select=+serviceendpointid,name"),
            pairs(&[
                ("$filter", "contract eq 8"),
                ("$select", " serviceendpointid,name")
            ])
        );
        assert_eq!(split_query_string(""), pairs(&[]));
        assert_eq!(
            split_query_string("?a&&b=1="),
            pairs(&[("a", ""), ("b", "1=")])
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn second_question_mark_introduces_aliases() {
        let id = "2c7f5e4b-6d77-4f0c-9a71-8f1f2c3d4e5f";
        assert_eq!(
            split_query_string(&format!("$select=a,b?@id={id}")),
            pairs(&[("$select", "a,b"), ("@id", id)])
        );
        assert_eq!(
            split_query_string("$filter=x eq @s&$top=3?@s=1?@t=2"),
            pairs(&[
                ("$filter", "x eq @s"),
                ("$top", "3"),
                ("@s", "1"),
                ("@t", "2")
            ])
        );
        // A '?' not followed by '@' (or an encoded one) stays in the value.
        assert_eq!(
            split_query_string("$filter=name eq 'a?b'&x=%3F@y"),
            pairs(&[("$filter", "name eq 'a?b'"), ("x", "?@y")])
        );
    }
}
