//! The HTTP/1.1 client under [`crate::Sender`]: hyper's pooled client
//! (keep-alive connections per host, TCP_NODELAY), rustls with the web's
//! root certificates for `https`, and name resolution through the SSRF
//! guard ([`GuardedResolver`]), so a connection goes only to an address
//! that was checked.
//!
//! Why not reqwest, which herald used before: every request went through
//! its redirect, retry and timeout layers and its URL and header
//! conversions, none of which a webhook needs (redirects are not followed,
//! the retry rule is Dataverse's, the timeout is one deadline). In a drain
//! profile that machinery cost more CPU per delivery than hyper's own
//! connection work; this is the same hyper client without it.
//!
//! A request here has one deadline for the answer *and* its body; what the
//! deadline cuts off is the caller's to interpret ([`SendError`]).

use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::guard::GuardedResolver;

/// How long an idle keep-alive connection stays in the pool.
pub const POOL_IDLE: Duration = Duration::from_secs(90);

type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;

/// One pooled client; cheap to clone (clones share the pool).
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<Connector, Full<Bytes>>,
}

/// Why no answer arrived.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The deadline passed before the answer's status line and headers.
    #[error("no answer before the deadline")]
    Timeout,
    /// Resolving, connecting (its own timeout included), the TLS
    /// handshake, or the exchange failed; the chain says which.
    #[error(transparent)]
    Client(#[from] hyper_util::client::legacy::Error),
}

/// An answer: status, headers and the body up to the caller's cap.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Transport {
    /// A client whose names resolve through `resolver`, giving up on a
    /// connection after `connect_timeout`.
    pub(crate) fn new(resolver: GuardedResolver, connect_timeout: Duration) -> Transport {
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Transport { client }
    }

    /// POST `body` to `uri` with `headers`; the answer and up to
    /// `body_cap` bytes of its body must arrive within `timeout`. A body
    /// that breaks off or stalls past the deadline keeps what arrived:
    /// the status is the answer.
    pub(crate) async fn post(
        &self,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
        body_cap: usize,
    ) -> Result<Answer, SendError> {
        let deadline = Instant::now() + timeout;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        let response = tokio::time::timeout_at(deadline, self.client.request(request))
            .await
            .map_err(|_| SendError::Timeout)??;
        let (parts, mut incoming) = response.into_parts();
        let mut buf = BytesMut::new();
        while buf.len() < body_cap {
            match tokio::time::timeout_at(deadline, incoming.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(chunk) = frame.into_data() {
                        let take = chunk.len().min(body_cap - buf.len());
                        buf.extend_from_slice(&chunk[..take]);
                    }
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "response body ended early");
                    break;
                }
                Err(_) => {
                    tracing::debug!("response body cut off at the deadline");
                    break;
                }
            }
        }
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: buf.freeze(),
        })
    }
}

/// What the guarded resolver gives the connector: the vetted addresses.
type Resolved = std::vec::IntoIter<SocketAddr>;
type Resolving =
    Pin<Box<dyn Future<Output = Result<Resolved, Box<dyn StdError + Send + Sync>>> + Send>>;

/// hyper's connector asks the resolver as a `tower` service of names.
impl tower_service::Service<Name> for GuardedResolver {
    type Response = Resolved;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Resolving;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let this = *self;
        Box::pin(async move { Ok(this.resolve_host(name.as_str()).await?.into_iter()) })
    }
}
