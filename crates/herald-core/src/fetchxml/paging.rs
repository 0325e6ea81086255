//! The FetchXML paging cookie, in the form Dataverse writes it in
//! `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`:
//!
//! ```text
//! <cookie pagenumber="2" pagingcookie="%253ccookie%2520page%253d%25221%2522%253e…" istracking="False" />
//! ```
//!
//! `pagingcookie` is the inner cookie (`<cookie page="1"><accountid
//! last="{…}" first="{…}" /></cookie>`) URL-encoded twice. Clients decode
//! it, put it in the next request's `<fetch paging-cookie="…">` and set
//! `page` to `pagenumber` (Microsoft's Python client reads `pagenumber`;
//! `dynamics-web-api` reads the inner cookie's `page` and adds one).
//!
//! herald pages by `page` and `count` alone (an offset, over an ordering
//! that always ends with the primary key, so every row comes back exactly
//! once across pages); the cookie it writes names the first and last
//! primary keys of the page, as Dataverse's does, and the cookie a client
//! sends back is accepted and not needed.

use uuid::Uuid;

/// The outer cookie for the page `page` (1-based) of a query on a table
/// whose primary key column is `primary_id`, with the first and last
/// primary keys of that page.
pub fn paging_cookie(
    primary_id: &str,
    page: u64,
    first: Option<Uuid>,
    last: Option<Uuid>,
) -> String {
    let guid = |id: Option<Uuid>| {
        id.map(|g| format!("{{{}}}", g.to_string().to_uppercase()))
            .unwrap_or_default()
    };
    let inner = format!(
        "<cookie page=\"{page}\"><{primary_id} last=\"{}\" first=\"{}\" /></cookie>",
        guid(last),
        guid(first)
    );
    format!(
        "<cookie pagenumber=\"{}\" pagingcookie=\"{}\" istracking=\"False\" />",
        page.saturating_add(1),
        url_encode(&url_encode(&inner))
    )
}

/// Percent-encode every byte but ASCII letters, digits and `-_.`, with
/// lower-case hex digits, as Dataverse's cookies are.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn writes_dataverses_cookie_form() {
        let first = Uuid::parse_str("475b158c-541c-e511-80d3-3863bb347ba8").unwrap();
        let last = Uuid::parse_str("ef72ae29-b3de-e611-8102-5065f38a7bf1").unwrap();
        let c = paging_cookie("accountid", 1, Some(first), Some(last));
        assert!(
            c.starts_with("<cookie pagenumber=\"2\" pagingcookie=\"%253ccookie%2520page%253d%25221%2522%253e%253caccountid%2520last%253d%2522%257bEF72AE29"),
            "{c}"
        );
        assert!(c.ends_with("\" istracking=\"False\" />"), "{c}");
        let doc = roxmltree::Document::parse(&c).unwrap();
        let encoded = doc.root_element().attribute("pagingcookie").unwrap();
        assert_eq!(
            url_decode(&url_decode(encoded)),
            "<cookie page=\"1\"><accountid last=\"{EF72AE29-B3DE-E611-8102-5065F38A7BF1}\" first=\"{475B158C-541C-E511-80D3-3863BB347BA8}\" /></cookie>"
        );
    }
}
