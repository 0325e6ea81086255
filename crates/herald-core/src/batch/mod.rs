//! OData `$batch` bodies (`multipart/mixed`), as Dataverse clients send
//! them: top-level parts that are single HTTP requests (`application/http`)
//! or change sets (a nested `multipart/mixed` of requests that commit
//! together), each request with an optional `Content-ID`. This module turns
//! the bytes into [`Batch`] and writes the `multipart/mixed` answer
//! ([`response`]); running the requests belongs to the server. Pure and
//! bounded: a malformed body is a [`BatchError`], never a panic.

mod multipart;
pub mod response;

use multipart::{boundary_of, header, parse_part, split_parts};
use thiserror::Error;

/// Dataverse's limit on the requests of one batch (change-set requests
/// included).
pub const MAX_REQUESTS: usize = 1000;

/// A parsed `$batch` body, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub items: Vec<BatchItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BatchItem {
    /// A request on its own (a failure does not undo the others).
    Request(BatchRequest),
    /// Requests that commit together or not at all.
    ChangeSet(Vec<BatchRequest>),
}

/// One HTTP request inside a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    /// `Content-ID` (on the part or the request), which later requests of
    /// the change set reference as `$<id>`.
    pub content_id: Option<String>,
    pub method: String,
    /// The request target as written: an absolute URL, an absolute path or
    /// a path relative to the service root; may start with `$<content-id>`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl BatchRequest {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// Why a body is not a batch herald can run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BatchError {
    #[error("The Content-Type must be multipart/mixed with a boundary, e.g. 'multipart/mixed; boundary=batch_1' (got '{0}')")]
    ContentType(String),
    #[error("The body holds no part delimited by '--{0}'")]
    NoParts(String),
    #[error("The multipart body ends before its closing delimiter '--{0}--'")]
    Unterminated(String),
    #[error("Part {0} of the batch has malformed headers")]
    PartHeaders(usize),
    #[error("Part {part} of the batch: {why}")]
    Part { part: usize, why: String },
    #[error("A batch may hold at most {max} requests")]
    TooManyRequests { max: usize },
}

/// Parse a `$batch` body sent with `content_type`; at most `max_requests`
/// requests in all.
pub fn parse_batch(
    content_type: &str,
    body: &[u8],
    max_requests: usize,
) -> Result<Batch, BatchError> {
    let boundary = boundary_of(content_type)?;
    let mut items = Vec::new();
    let mut count = 0usize;
    let mut count_one = || {
        count += 1;
        if count > max_requests {
            Err(BatchError::TooManyRequests { max: max_requests })
        } else {
            Ok(())
        }
    };
    for (index, raw) in split_parts(body, &boundary)?.into_iter().enumerate() {
        let number = index + 1;
        let part = parse_part(raw, number)?;
        let kind = header(&part.headers, "content-type").unwrap_or("");
        if kind
            .trim()
            .to_ascii_lowercase()
            .starts_with("multipart/mixed")
        {
            let inner = boundary_of(kind).map_err(|e| BatchError::Part {
                part: number,
                why: e.to_string(),
            })?;
            let mut requests = Vec::new();
            for raw in split_parts(part.body, &inner).map_err(|e| BatchError::Part {
                part: number,
                why: e.to_string(),
            })? {
                let inner_part = parse_part(raw, number)?;
                count_one()?;
                requests.push(inner_part.request(number)?);
            }
            items.push(BatchItem::ChangeSet(requests));
        } else {
            count_one()?;
            items.push(BatchItem::Request(part.request(number)?));
        }
    }
    Ok(Batch { items })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/mixed; boundary=batch_AAA123";

    fn body() -> String {
        [
            "--batch_AAA123",
            "Content-Type: multipart/mixed; boundary=\"changeset_BBB456\"",
            "",
            "--changeset_BBB456",
            "Content-Type: application/http",
            "Content-Transfer-Encoding:binary",
            "Content-ID: 1",
            "",
            "POST http://localhost/api/data/v9.2/accounts HTTP/1.1",
            "Content-Type: application/json;type=entry",
            "",
            "{\"name\":\"a\"}",
            "--changeset_BBB456",
            "Content-Type: application/http",
            "Content-Transfer-Encoding:binary",
            "Content-ID: 2",
            "",
            "PATCH $1 HTTP/1.1",
            "Content-Type: application/json",
            "",
            "{\"name\":\"b\"}",
            "--changeset_BBB456--",
            "",
            "--batch_AAA123",
            "Content-Type: application/http",
            "Content-Transfer-Encoding:binary",
            "",
            "GET accounts?$select=name HTTP/1.1",
            "Accept: application/json",
            "",
            "",
            "--batch_AAA123--",
            "",
        ]
        .join("\r\n")
    }

    #[test]
    fn parses_change_sets_and_requests() {
        let b = parse_batch(CT, body().as_bytes(), MAX_REQUESTS).unwrap();
        assert_eq!(b.items.len(), 2);
        let BatchItem::ChangeSet(cs) = &b.items[0] else {
            panic!("{:?}", b.items[0])
        };
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].content_id.as_deref(), Some("1"));
        assert_eq!(cs[0].method, "POST");
        assert_eq!(cs[0].body, b"{\"name\":\"a\"}");
        assert_eq!(cs[1].target, "$1");
        let BatchItem::Request(get) = &b.items[1] else {
            panic!()
        };
        assert_eq!(get.target, "accounts?$select=name");
        assert_eq!(get.header("ACCEPT"), Some("application/json"));
        assert!(get.body.is_empty());
    }

    #[test]
    fn bare_line_feeds_are_accepted() {
        let lf = body().replace("\r\n", "\n");
        let b = parse_batch(CT, lf.as_bytes(), MAX_REQUESTS).unwrap();
        assert_eq!(b.items.len(), 2);
    }

    #[test]
    fn refuses_what_is_not_a_batch() {
        assert!(matches!(
            parse_batch("application/json", b"{}", 10),
            Err(BatchError::ContentType(_))
        ));
        assert!(matches!(
            parse_batch(CT, b"nothing", 10),
            Err(BatchError::NoParts(_))
        ));
        let cut = &body()[..100];
        assert!(parse_batch(CT, cut.as_bytes(), 10).is_err());
        assert_eq!(
            parse_batch(CT, body().as_bytes(), 2),
            Err(BatchError::TooManyRequests { max: 2 })
        );
        let bad_line = body().replace("GET accounts?$select=name HTTP/1.1", "GET");
        assert!(matches!(
            parse_batch(CT, bad_line.as_bytes(), 10),
            Err(BatchError::Part { part: 2, .. })
        ));
    }
}
