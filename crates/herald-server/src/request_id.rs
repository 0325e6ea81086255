//! The id of the HTTP request a write came in with, so the System Jobs it
//! raises can say which request caused them (`asyncoperation.requestid`,
//! shown in the console). The client's `x-ms-client-request-id` or
//! `x-request-id` when it is a GUID (what Dataverse clients send), a new
//! one otherwise; answered as `x-ms-service-request-id`, as Dataverse does.
//!
//! [`attach`] (a middleware in `app`) holds it in a task-local for the
//! request's handler, so every write path — single writes, `$batch`, bulk
//! messages, the BC API — reaches it without threading it through each
//! `Operation`; [`current`] is `None` outside a request (job workers,
//! background tasks).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use herald_core::value::parse_guid;
use uuid::Uuid;

tokio::task_local! {
    static REQUEST_ID: Uuid;
}

/// The headers a client names its request by, in order of preference.
pub const HEADERS: [&str; 2] = ["x-ms-client-request-id", "x-request-id"];

/// The response header herald names the request by.
pub const RESPONSE_HEADER: &str = "x-ms-service-request-id";

/// The client's request id when it sent one that is a GUID.
pub fn from_headers(headers: &HeaderMap) -> Option<Uuid> {
    HEADERS.iter().find_map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_guid(v.trim()))
    })
}

/// The id of the request being handled, if any.
pub fn current() -> Option<Uuid> {
    REQUEST_ID.try_with(|id| *id).ok()
}

/// Run `work` with `id` as the current request id (background work done
/// for a request, e.g. a bulk delete).
pub async fn scope<F: std::future::Future>(id: Uuid, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// Run the request with its id in scope and answer with it.
pub async fn attach(req: Request, next: Next) -> Response {
    let id = from_headers(req.headers()).unwrap_or_else(Uuid::new_v4);
    let mut resp = REQUEST_ID.scope(id, next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        resp.headers_mut().insert(RESPONSE_HEADER, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guid_header_names_the_request() {
        let id = Uuid::new_v4();
        let mut h = HeaderMap::new();
        h.insert(
            "x-request-id",
            HeaderValue::from_str(&id.to_string()).unwrap(),
        );
        assert_eq!(from_headers(&h), Some(id));
        let other = Uuid::new_v4();
        h.insert(
            "x-ms-client-request-id",
            HeaderValue::from_str(&other.to_string()).unwrap(),
        );
        assert_eq!(from_headers(&h), Some(other), "the Dataverse header wins");
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("not-a-guid"));
        assert_eq!(from_headers(&h), None);
        assert_eq!(current(), None, "no request outside a handler");
    }

    #[tokio::test]
    async fn the_id_is_in_scope_for_the_handler() {
        let id = Uuid::new_v4();
        let seen = REQUEST_ID.scope(id, async { current() }).await;
        assert_eq!(seen, Some(id));
    }
}
