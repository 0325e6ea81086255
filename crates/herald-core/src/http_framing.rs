//! Where each HTTP/1.1 request on a connection begins and ends, followed
//! byte by byte as the client sends them, so that a request carrying both
//! `Content-Length` and `Transfer-Encoding` can be refused. hyper, which
//! parses herald's requests, frames such a body by its chunks and drops
//! the `Content-Length` (RFC 9112 §6.3), leaving no trace a handler could
//! see; [`RequestFraming`] sits below it, holds back each request head
//! until it is complete, and in a head with both renames every
//! `Content-Length` to [`MARKER`] (a name of the same length, so nothing
//! moves), which the edge answers with a 400.
//!
//! Bodies pass at once: a `Content-Length` body is counted, a chunked one
//! followed chunk by chunk (size line, data, CRLF, …, last chunk,
//! trailers), so the next head is found where hyper will look for it.
//! Anything unusual — a head that does not parse or is too large, a bad
//! chunk line, an upgrade, `CONNECT` — makes it stop looking and pass
//! every later byte unchanged: hyper then refuses the request (or serves
//! the tunnel), and no byte of a body is ever taken for a head.
//!
//! Pure (bytes in, bytes out): the server wraps each connection's reads
//! with it, and the `http_framing` fuzz target feeds it anything.

/// The header name a `Content-Length` beside a `Transfer-Encoding` is
/// renamed to (as long as `content-length`).
pub const MARKER: &str = "x-herald-cl-te";

/// The longest request head held back; longer ones pass unchanged (hyper
/// refuses them).
pub const MAX_HEAD: usize = 64 * 1024;

/// The headers a head may have (hyper's default limit).
const MAX_HEADERS: usize = 100;

/// The longest chunk-size or trailer line followed.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a request head (held back until complete).
    Head,
    /// A `Content-Length` body: bytes left.
    Fixed(u64),
    /// A chunk-size line.
    ChunkSize,
    /// Chunk data: bytes left.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer lines after the last chunk, up to an empty line.
    Trailers,
    /// No longer followed: every byte passes as it came.
    Passthrough,
}

/// The framing of one connection's requests (see the module doc).
#[derive(Debug)]
pub struct RequestFraming {
    state: State,
    /// The head being read, or the current chunk-size / trailer line.
    held: Vec<u8>,
    /// Heads seen with both `Content-Length` and `Transfer-Encoding`.
    flagged: u64,
}

impl Default for RequestFraming {
    fn default() -> Self {
        RequestFraming::new()
    }
}

/// What a complete head says about the body after it.
enum Body {
    None,
    Fixed(u64),
    Chunked,
    /// Not followed further (an upgrade, CONNECT, a framing hyper refuses).
    Unknown,
}

impl RequestFraming {
    pub fn new() -> RequestFraming {
        RequestFraming {
            state: State::Head,
            held: Vec::new(),
            flagged: 0,
        }
    }

    /// How many heads had both `Content-Length` and `Transfer-Encoding`.
    pub fn flagged(&self) -> u64 {
        self.flagged
    }

    /// Whether every byte now passes unchanged.
    pub fn passing_through(&self) -> bool {
        self.state == State::Passthrough
    }

    /// Bytes the client sent: what may go on to the parser now is appended
    /// to `out` (a head only once it is complete).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Passthrough => {
                    out.extend_from_slice(&input[i..]);
                    return;
                }
                State::Head => {
                    let b = input[i];
                    i += 1;
                    self.held.push(b);
                    if b == b'\n'
                        && (self.held.ends_with(b"\n\r\n") || self.held.ends_with(b"\n\n"))
                    {
                        self.head_candidate(out);
                    } else if self.held.len() > MAX_HEAD {
                        self.give_up(out);
                    }
                }
                State::Fixed(left) => {
                    let n = take(left, input.len() - i);
                    out.extend_from_slice(&input[i..i + n]);
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Fixed(left)
                    };
                }
                State::ChunkData(left) => {
                    let n = take(left, input.len() - i);
                    out.extend_from_slice(&input[i..i + n]);
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left)
                    };
                }
                State::ChunkSize | State::ChunkEnd | State::Trailers => {
                    let b = input[i];
                    i += 1;
                    out.push(b);
                    if b != b'\n' {
                        self.held.push(b);
                        if self.held.len() > MAX_LINE {
                            self.held.clear();
                            self.state = State::Passthrough;
                        }
                        continue;
                    }
                    let mut line = std::mem::take(&mut self.held);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.state = match self.state {
                        State::ChunkSize => match chunk_size(&line) {
                            Some(0) => State::Trailers,
                            Some(n) => State::ChunkData(n),
                            None => State::Passthrough,
                        },
                        State::ChunkEnd if line.is_empty() => State::ChunkSize,
                        State::Trailers if line.is_empty() => State::Head,
                        State::Trailers => State::Trailers,
                        _ => State::Passthrough,
                    };
                }
            }
        }
    }

    /// The client closed its side: whatever was held back, for the parser
    /// to refuse as incomplete.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state == State::Head {
            out.append(&mut self.held);
        }
    }

    /// The held bytes end like a head: parse them.
    fn head_candidate(&mut self, out: &mut Vec<u8>) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = req.parse(&self.held);
        let n = match parsed {
            Ok(httparse::Status::Complete(n)) => n,
            // Only empty lines so far (allowed before a request line).
            Ok(httparse::Status::Partial) => return,
            Err(_) => return self.give_up(out),
        };
        let base = self.held.as_ptr() as usize;
        let mut lengths: Vec<(usize, u64)> = Vec::new();
        let mut bad_length = false;
        let mut encodings: Vec<&[u8]> = Vec::new();
        let mut upgrade = false;
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let at = h.name.as_ptr() as usize - base;
                match parse_length(h.value) {
                    Some(v) => lengths.push((at, v)),
                    None => bad_length = true,
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                encodings.push(h.value);
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
        }
        let connect = req
            .method
            .is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
        let http10 = req.version == Some(0);
        let both = !encodings.is_empty() && (!lengths.is_empty() || bad_length);
        let body = if connect || upgrade {
            Body::Unknown
        } else if !encodings.is_empty() {
            let last = encodings
                .last()
                .and_then(|v| v.rsplit(|b| *b == b',').next())
                .map(|c| c.trim_ascii());
            if !http10 && last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")) {
                Body::Chunked
            } else {
                Body::Unknown
            }
        } else if bad_length {
            Body::Unknown
        } else {
            match lengths.first() {
                None => Body::None,
                Some((_, v)) if lengths.iter().any(|(_, w)| w != v) => Body::Unknown,
                Some((_, 0)) => Body::None,
                Some((_, v)) => Body::Fixed(*v),
            }
        };
        let mut renamed: Vec<usize> = lengths.iter().map(|(at, _)| *at).collect();
        if both {
            // A bad Content-Length beside a Transfer-Encoding is renamed too.
            renamed = req
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| h.name.as_ptr() as usize - base)
                .collect();
        }
        drop(req);
        if n != self.held.len() {
            // hyper would end the head elsewhere: follow no further.
            return self.give_up(out);
        }
        if both {
            self.flagged += 1;
            for at in renamed {
                if let Some(slot) = self.held.get_mut(at..at + MARKER.len()) {
                    slot.copy_from_slice(MARKER.as_bytes());
                }
            }
        }
        out.append(&mut self.held);
        self.state = match body {
            Body::None => State::Head,
            Body::Fixed(v) => State::Fixed(v),
            Body::Chunked => State::ChunkSize,
            Body::Unknown => State::Passthrough,
        };
    }

    fn give_up(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.held);
        self.state = State::Passthrough;
    }
}

fn take(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |l| l.min(available))
}

/// A `Content-Length` value: digits only.
fn parse_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// A chunk-size line's size (hex digits, then optional whitespace and
/// extensions after `;`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let size = line.split(|b| *b == b';').next()?.trim_ascii();
    if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(size).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` in pieces of `step` bytes; the bytes let through.
    fn run(input: &[u8], step: usize) -> (Vec<u8>, RequestFraming) {
        let mut f = RequestFraming::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            f.feed(piece, &mut out);
        }
        f.finish(&mut out);
        (out, f)
    }

    #[test]
    fn plain_requests_pass_unchanged_in_any_pieces() {
        let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET /z HTTP/1.1\r\n\r\n";
        for step in [1, 2, 3, 7, 64, 4096] {
            let (out, f) = run(input, step);
            assert_eq!(out, input.to_vec(), "step {step}");
            assert_eq!(f.flagged(), 0);
            assert!(!f.passing_through(), "step {step}");
        }
    }

    #[test]
    fn a_length_beside_an_encoding_is_renamed_in_any_request() {
        let input = b"GET / HTTP/1.1\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        for step in [1, 5, 100] {
            let (out, f) = run(input, step);
            assert_eq!(out.len(), input.len());
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("\r\nx-herald-cl-te: 5\r\n"), "{text}");
            assert!(
                !text.to_ascii_lowercase().contains("content-length"),
                "{text}"
            );
            assert_eq!(f.flagged(), 1);
        }
        let (out, f) = run(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\ncontent-length: 3\r\n\r\n",
            9,
        );
        assert_eq!(f.flagged(), 1);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("x-herald-cl-te: 3"));
    }

    #[test]
    fn bodies_are_never_taken_for_heads() {
        // A body that looks like a request with both headers.
        let inner = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut input = format!(
            "POST /a HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            inner.len()
        )
        .into_bytes();
        input.extend_from_slice(inner);
        let (out, f) = run(&input, 3);
        assert_eq!(out, input);
        assert_eq!(f.flagged(), 0);
        // Inside chunks too.
        let mut input = format!(
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            inner.len()
        )
        .into_bytes();
        input.extend_from_slice(inner);
        input.extend_from_slice(b"\r\n0\r\n\r\n");
        let (out, f) = run(&input, 4);
        assert_eq!(out, input);
        assert_eq!(f.flagged(), 0);
    }

    #[test]
    fn oddities_stop_the_following() {
        for input in [
            &b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\nanything"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"\x00\x01 garbage\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        ] {
            let (out, f) = run(input, 2);
            assert_eq!(out, input.to_vec());
            assert!(f.passing_through(), "{}", String::from_utf8_lossy(input));
        }
        // A head cut short is let through when the client closes.
        let (out, _) = run(b"GET / HTTP/1.1\r\nHost:", 4);
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost:".to_vec());
    }
}
