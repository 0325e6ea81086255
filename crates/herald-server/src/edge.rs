//! The HTTP edge: what every request passes before (and after) a handler,
//! so that herald never answers garbage to a malformed request.
//!
//! - A request with both `Content-Length` and `Transfer-Encoding` is a
//!   400 with `Connection: close`: hyper would drop the `Content-Length`
//!   and frame the body by its chunks, so herald's accept loop
//!   (`crate::accept`) renames it to `x-herald-cl-te` below hyper's
//!   parser, and that header is refused here.
//! - `Content-Encoding: gzip` bodies are decoded (by tower-http, before the
//!   handlers' own size limits, which then apply to the decoded body); any
//!   other encoding is refused with 415.
//! - A handler that answers an error without reading the whole body leaves
//!   bytes on the connection: the response then says `Connection: close`,
//!   so a keep-alive client opens a new connection instead of failing.
//! - [`read_limited`] reads a body up to a limit and tells a body that is
//!   too large (413) from one that ended early or was malformed (400).
//! - The JSON APIs (`/api/data/…` but `$batch`, `/api/herald/…`, Business
//!   Central's `/api/v1.0|v2.0/…`) take JSON bodies only: a body with
//!   another `Content-Type` (`text/plain`, XML, forms, multipart) is a 415;
//!   `application/json` with parameters (`charset`, `odata.metadata`) and
//!   `…+json` types pass, as does a body without `Content-Type`.
//! - Errors the router itself answers are OData JSON too: a 405 keeps its
//!   `Allow` header and gets a body, and a plain-text rejection (a path
//!   segment that is not UTF-8, a bad query string) becomes an OData 400.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;

use crate::api::error::{codes, ApiError};

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("The request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("The request body could not be read: {0}")]
    Incomplete(String),
}

/// The whole body, at most `limit` bytes.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            BodyError::TooLarge(limit)
        } else {
            BodyError::Incomplete(inner.to_string())
        }
    })
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::TOO_LARGE,
                e.to_string(),
            ),
            BodyError::Incomplete(_) => ApiError::bad_request(e.to_string()),
        }
    }
}

/// Refuse unknown content encodings; mark responses that leave an unread
/// body behind with `Connection: close`.
pub async fn guard(req: Request, next: Next) -> Response {
    let headers = req.headers();
    if headers.contains_key(herald_core::http_framing::MARKER) {
        return closing(ApiError::bad_request(
            "The request has both Content-Length and Transfer-Encoding: send one of them (RFC 9112 section 6.1)",
        ));
    }
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let known = encoding
            .to_str()
            .map(|e| {
                e.split(',')
                    .map(str::trim)
                    .all(|e| e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("identity"))
            })
            .unwrap_or(false);
        if !known {
            return closing(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                codes::UNSUPPORTED,
                "Content-Encoding: only gzip (or identity) request bodies are accepted",
            ));
        }
    }
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let herald_route = is_herald_route(req.uri().path());
    let method = req.method().clone();
    if has_body && takes_json(req.uri().path()) {
        if let Some(ct) = headers.get(header::CONTENT_TYPE) {
            if !is_json(ct) {
                let shown = String::from_utf8_lossy(ct.as_bytes()).into_owned();
                return closing(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    codes::UNSUPPORTED,
                    format!(
                        "Content-Type '{shown}' is not accepted here: send the body as application/json"
                    ),
                ));
            }
        }
    }
    if !has_body {
        let resp = next.run(req).await;
        return if herald_route {
            as_odata(resp, &method).await
        } else {
            resp
        };
    }
    let finished = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let tracked = Body::new(Tracked {
        inner: body,
        finished: finished.clone(),
    });
    let mut resp = next.run(Request::from_parts(parts, tracked)).await;
    if herald_route {
        resp = as_odata(resp, &method).await;
    }
    if resp.status().is_client_error() || resp.status().is_server_error() {
        if !finished.load(Ordering::Acquire) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    resp
}

/// The paths whose bodies are JSON (see the module doc).
fn takes_json(path: &str) -> bool {
    (path.starts_with("/api/data/") && !path.ends_with("/$batch"))
        || path.starts_with("/api/herald/")
        || path.starts_with("/api/v1.0/")
        || path.starts_with("/api/v2.0/")
}

/// herald's own API routes, whose every error is an OData body (not the
/// console's HTML pages, not a request bin's answers).
fn is_herald_route(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics" || path == "/healthz" || path == "/openapi.json"
}

/// `application/json` or a `…+json` type, any parameters.
fn is_json(ct: &HeaderValue) -> bool {
    let Ok(ct) = ct.to_str() else { return false };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// An error answered by the router itself (405, or a plain-text
/// rejection such as a path segment that is not UTF-8) as an OData error
/// with the same status; `Allow` is kept. Anything else passes unchanged.
async fn as_odata(resp: Response, method: &axum::http::Method) -> Response {
    let status = resp.status();
    if !status.is_client_error() {
        return resp;
    }
    let plain = match resp.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(ct) => ct.to_str().is_ok_and(|c| c.starts_with("text/plain")),
    };
    if !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, 16 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => match parts.headers.get(header::ALLOW) {
            Some(allow) => format!(
                "The method {method} is not allowed on this path; allowed: {}",
                String::from_utf8_lossy(allow.as_bytes())
            ),
            None => {
                format!("The method {method} is not allowed on this path (see the Allow header)")
            }
        },
        (_, true) => status
            .canonical_reason()
            .unwrap_or("The request is not valid")
            .to_string(),
        (_, false) => text,
    };
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::UNSUPPORTED_MEDIA_TYPE => codes::UNSUPPORTED,
        StatusCode::NOT_FOUND => codes::NOT_FOUND,
        StatusCode::UNAUTHORIZED => codes::UNAUTHORIZED,
        StatusCode::PAYLOAD_TOO_LARGE => codes::TOO_LARGE,
        _ => codes::BAD_REQUEST,
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for name in [header::ALLOW, header::CONNECTION, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

fn closing(e: ApiError) -> Response {
    let mut resp = e.into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A request body that records when it has been read to its end.
struct Tracked {
    inner: Body,
    finished: Arc<AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.finished.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.finished.store(true, Ordering::Release);
        }
        end
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
