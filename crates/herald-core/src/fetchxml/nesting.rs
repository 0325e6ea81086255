//! A structural pre-scan of FetchXML text: refuse too deeply nested
//! documents before roxmltree (which parses elements recursively) sees
//! them, and convert roxmltree's row/column positions to character offsets.

use crate::error::QueryError;

/// How deeply `<filter>` and `<link-entity>` elements may nest.
pub const MAX_FETCH_DEPTH: usize = 50;

/// How deeply XML elements may nest at all.
pub(super) const MAX_XML_DEPTH: usize = 4 * MAX_FETCH_DEPTH;

/// Refuse documents whose elements nest deeper than [`MAX_XML_DEPTH`],
/// with a scan that follows the XML structure just enough (tags, quoted
/// attribute values, comments, CDATA, processing instructions) to count
/// open elements. For well-formed XML the count is exact; for malformed XML
/// it can only over-count, and roxmltree rejects such input anyway.
pub(super) fn check_nesting(xml: &str) -> Result<(), QueryError> {
    let b = xml.as_bytes();
    let skip_to = |from: usize, end: &[u8]| -> usize {
        b.get(from..)
            .and_then(|rest| rest.windows(end.len()).position(|w| w == end))
            .map_or(b.len(), |p| from + p + end.len())
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = skip_to(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_to(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_to(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            i = skip_to(i + 2, b">");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_to(i + 2, b">");
        } else {
            // A start tag: find its '>' outside quoted attribute values.
            let mut j = i + 1;
            let mut quote = None;
            while j < b.len() {
                match (quote, b[j]) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, c @ (b'"' | b'\'')) => quote = Some(c),
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            let self_closing = j < b.len() && b[j - 1] == b'/';
            if !self_closing {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    let pos = xml.get(..i).map_or(0, |s| s.chars().count());
                    return Err(QueryError::at(
                        format!("FetchXML elements are nested more than {MAX_XML_DEPTH} levels deep (at position {pos} in fetchXml)"),
                        pos,
                    ));
                }
            }
            i = j + 1;
        }
    }
    Ok(())
}

/// roxmltree reports errors as 1-based row and column (in characters);
/// convert to a 0-based character offset.
pub(super) fn char_offset_of_text_pos(text: &str, row: u32, col: u32) -> usize {
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let len = line.chars().count();
        if index + 1 == row as usize {
            return offset + (col.saturating_sub(1) as usize).min(len);
        }
        offset += len;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_real_elements() {
        let deep =
            |n: usize, inner: &str| format!("{}{inner}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(check_nesting(&deep(MAX_XML_DEPTH, "")).is_ok());
        assert!(check_nesting(&deep(MAX_XML_DEPTH + 1, "")).is_err());
        // Self-closing tags, closing tags, comments, CDATA, PIs and '>' or
        // '/>' inside attribute values do not add depth.
        let noise = "<b x='/>' y=\"a>b\"/><!-- <a><a> --><![CDATA[<a><a>]]><?pi <a> ?>";
        let xml = format!(
            "{}{}{}",
            "<a>".repeat(MAX_XML_DEPTH),
            noise.repeat(50),
            "</a>".repeat(MAX_XML_DEPTH)
        );
        assert!(check_nesting(&xml).is_ok());
        let e = check_nesting(&format!("é{}", "<a>".repeat(MAX_XML_DEPTH + 1))).unwrap_err();
        assert_eq!(e.position, Some(1 + 3 * MAX_XML_DEPTH));
        // Unterminated constructs end the scan without panicking.
        for s in ["<", "<a", "<a '", "<!--", "<![CDATA[", "<?", "</", "<!"] {
            assert!(check_nesting(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn converts_rows_and_columns() {
        let text = "ab\néé\nc";
        assert_eq!(char_offset_of_text_pos(text, 1, 1), 0);
        assert_eq!(char_offset_of_text_pos(text, 2, 2), 4);
        assert_eq!(char_offset_of_text_pos(text, 3, 1), 6);
        assert_eq!(char_offset_of_text_pos(text, 9, 9), 7);
        assert_eq!(char_offset_of_text_pos(text, 1, 99), 3);
    }
}
