//! The `Prefer` request header: `return=representation`,
//! `odata.maxpagesize=N`, `odata.include-annotations="*"`.

use axum::http::HeaderMap;

/// Largest (and default) page size, as in Dataverse.
pub const MAX_PAGE_SIZE: u64 = 5000;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Prefer {
    pub return_representation: bool,
    pub max_page_size: Option<u64>,
    pub annotations: bool,
}

impl Prefer {
    pub fn from_headers(headers: &HeaderMap) -> Prefer {
        let mut p = Prefer::default();
        for value in headers.get_all("prefer") {
            let Ok(v) = value.to_str() else { continue };
            for part in v.split(',') {
                let part = part.trim();
                let (name, val) = match part.split_once('=') {
                    Some((n, v)) => (
                        n.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_string(),
                    ),
                    None => (part.to_ascii_lowercase(), String::new()),
                };
                match name.as_str() {
                    "return" if val.eq_ignore_ascii_case("representation") => {
                        p.return_representation = true
                    }
                    "odata.maxpagesize" => {
                        if let Ok(n) = val.parse::<u64>() {
                            p.max_page_size = Some(n.clamp(1, MAX_PAGE_SIZE));
                        }
                    }
                    "odata.include-annotations" => p.annotations = !val.is_empty(),
                    _ => {}
                }
            }
        }
        p
    }
}
