//! The `multipart/mixed` layer of a batch (RFC 2046): the boundary from the
//! Content-Type (`mime`), the parts between delimiter lines, each part's
//! MIME headers, and the HTTP request inside an `application/http` part
//! (`httparse`). Line breaks may be CRLF or a bare LF, as clients send both.

use super::{BatchError, BatchRequest};

/// Headers a part or an inner request may carry.
const MAX_HEADERS: usize = 64;

/// The `boundary` parameter of a `multipart/mixed` Content-Type.
pub(super) fn boundary_of(content_type: &str) -> Result<String, BatchError> {
    let refuse = || BatchError::ContentType(content_type.chars().take(200).collect());
    let parsed: mime::Mime = content_type.trim().parse().map_err(|_| refuse())?;
    if parsed.type_() != mime::MULTIPART || parsed.subtype() != "mixed" {
        return Err(refuse());
    }
    let boundary = parsed.get_param(mime::BOUNDARY).ok_or_else(refuse)?;
    let boundary = boundary.as_str();
    // RFC 2046: 1 to 70 characters.
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(refuse());
    }
    Ok(boundary.to_string())
}

/// The bodies of the parts between `--boundary` lines (the preamble before
/// the first and the epilogue after `--boundary--` are ignored).
pub(super) fn split_parts<'b>(body: &'b [u8], boundary: &str) -> Result<Vec<&'b [u8]>, BatchError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&body[at..], delimiter) {
        let pos = at + found;
        at = pos + delimiter.len();
        if pos == 0 || body[pos - 1] == b'\n' {
            starts.push(pos);
        }
    }
    if starts.is_empty() {
        return Err(BatchError::NoParts(boundary.to_string()));
    }
    let mut parts = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let after = start + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        let Some(&next) = starts.get(i + 1) else {
            break;
        };
        // The rest of the delimiter line (transport padding) is not content.
        let content_start = match body[after..next].iter().position(|&b| b == b'\n') {
            Some(nl) => after + nl + 1,
            None => next,
        };
        // The line break before the next delimiter belongs to it.
        let mut content_end = next;
        if content_end > content_start && body[content_end - 1] == b'\n' {
            content_end -= 1;
            if content_end > content_start && body[content_end - 1] == b'\r' {
                content_end -= 1;
            }
        }
        parts.push(&body[content_start..content_end.max(content_start)]);
    }
    Err(BatchError::Unterminated(boundary.to_string()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One part: its MIME headers and its content.
pub(super) struct Part<'b> {
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: &'b [u8],
}

/// Split a part into its headers and content.
pub(super) fn parse_part(raw: &[u8], number: usize) -> Result<Part<'_>, BatchError> {
    let (headers, offset) = headers_of(raw).ok_or(BatchError::PartHeaders(number))?;
    Ok(Part {
        headers,
        body: &raw[offset..],
    })
}

/// Headers up to the blank line, and where the content starts. A part with
/// no blank line at all is only headers.
fn headers_of(raw: &[u8]) -> Option<(Vec<(String, String)>, usize)> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    // A part that opens with its blank line has no headers.
    if raw.starts_with(b"\r\n") {
        return Some((Vec::new(), 2));
    }
    if raw.starts_with(b"\n") {
        return Some((Vec::new(), 1));
    }
    match httparse::parse_headers(raw, &mut storage).ok()? {
        httparse::Status::Complete((offset, headers)) => Some((owned(headers), offset)),
        httparse::Status::Partial => None,
    }
}

fn owned(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect()
}

/// A header's value; names compare case-insensitively.
pub(super) fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Part<'_> {
    /// The HTTP request an `application/http` part holds.
    pub(super) fn request(&self, number: usize) -> Result<BatchRequest, BatchError> {
        let refuse = |why: &str| BatchError::Part {
            part: number,
            why: why.to_string(),
        };
        let kind = header(&self.headers, "content-type").unwrap_or("");
        if !kind
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/http")
        {
            return Err(refuse(&format!(
                "a request part must have Content-Type application/http (got '{}')",
                kind.chars().take(100).collect::<String>()
            )));
        }
        // Blank lines before the request line are tolerated.
        let start = self
            .body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .ok_or_else(|| refuse("the part holds no HTTP request"))?;
        let text = &self.body[start..];
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut storage);
        let offset = match request.parse(text) {
            Ok(httparse::Status::Complete(offset)) => offset,
            // A request line and headers with no blank line after them.
            Ok(httparse::Status::Partial) => {
                return self.request_without_body(text, number);
            }
            Err(e) => {
                return Err(refuse(&format!(
                    "the request line or headers are malformed ({e}); expected e.g. 'GET accounts HTTP/1.1'"
                )))
            }
        };
        let (Some(method), Some(target)) = (request.method, request.path) else {
            return Err(refuse("the request line is incomplete"));
        };
        let headers = owned(request.headers);
        let mut body = text[offset..].to_vec();
        while body.last().is_some_and(u8::is_ascii_whitespace) {
            body.pop();
        }
        Ok(BatchRequest {
            content_id: header(&self.headers, "content-id")
                .or_else(|| header(&headers, "content-id"))
                .map(str::to_string),
            method: method.to_string(),
            target: target.to_string(),
            headers,
            body,
        })
    }

    /// A request whose head has no terminating blank line (the part ended
    /// right after it): parse it with one added.
    fn request_without_body(&self, text: &[u8], number: usize) -> Result<BatchRequest, BatchError> {
        let mut closed = text.to_vec();
        while closed.last().is_some_and(u8::is_ascii_whitespace) {
            closed.pop();
        }
        closed.extend_from_slice(b"\r\n\r\n");
        let again = Part {
            headers: self.headers.clone(),
            body: &closed,
        };
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match httparse::Request::new(&mut storage).parse(&closed) {
            Ok(httparse::Status::Complete(_)) => again.request(number),
            _ => Err(BatchError::Part {
                part: number,
                why: "the request line or headers are incomplete".to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary_of("multipart/mixed; boundary=\"batch_1\"").unwrap(),
            "batch_1"
        );
        assert_eq!(boundary_of("Multipart/Mixed;boundary=b").unwrap(), "b");
        assert!(boundary_of("multipart/form-data; boundary=x").is_err());
        assert!(boundary_of("multipart/mixed").is_err());
        assert!(boundary_of("").is_err());
    }

    #[test]
    fn a_delimiter_inside_a_line_is_content() {
        let body = b"--b\r\nX: 1\r\n\r\nsee --b here\r\n--b--";
        let parts = split_parts(body, "b").unwrap();
        assert_eq!(parts, vec![&b"X: 1\r\n\r\nsee --b here"[..]]);
    }
}
