//! The outbound HTTP client and Dataverse's delivery rule (SPEC §4):
//! 2xx = success (body ignored, an excerpt kept); any other status =
//! failure, except 502/503/504 which get exactly one more attempt after a
//! fixed [`RETRY_PAUSE`] (500 ms); timeouts, connection errors and refused
//! targets fail at once, without retry. Each attempt has the full timeout.
//!
//! One [`Sender`] wraps one [`Transport`] (hyper's keep-alive pool,
//! rustls, no redirects — a 3xx is an answer and a failure — no proxies,
//! so the guard sees the real target, connect timeout ≤ 10 s, the
//! [`GuardedResolver`]); clone it freely, clones share the pool.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use herald_core::authvalue::WebhookAuth;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, LOCATION, USER_AGENT};
use http::Uri;
use url::Url;

use crate::auth::apply_auth;
use crate::guard::{check_url_host, GuardedResolver};
use crate::outcome::{classify, status_failure, Attempt, Delivery, Failure, FailureKind, Outcome};
use crate::transport::{Answer, Transport};

/// The `User-Agent` of every call.
const USER_AGENT_VALUE: &str = concat!("herald/", env!("CARGO_PKG_VERSION"));

/// Pause before the single retry of a 502/503/504.
pub const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Size of [`Attempt::response_excerpt`].
pub const EXCERPT_BYTES: usize = 2048;
/// The most of a response body [`Sender::invoke`] and [`Sender::post`]
/// return; the rest is not read.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;
/// Upper bound of the connect timeout (it is `min(timeout, 10 s)`).
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    /// Total time for one attempt: connect, send, and the answer (SPEC: 60 s).
    pub timeout: Duration,
    /// Allow loopback / private / link-local / unique-local targets.
    pub allow_private_targets: bool,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            allow_private_targets: false,
        }
    }
}

/// Why a [`Sender`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("the delivery timeout must be greater than zero")]
    ZeroTimeout,
}

/// One webhook call to make.
#[derive(Clone)]
pub struct WebhookRequest {
    /// The service endpoint's `url`, before auth is applied.
    pub url: String,
    pub auth: WebhookAuth,
    /// Usually `herald_core::context::webhook_headers(..)`.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl fmt::Debug for WebhookRequest {
    /// Without the auth secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            WebhookAuth::WebhookKey(_) => "WebhookKey(..)",
            WebhookAuth::HttpHeader(_) => "HttpHeader(..)",
            WebhookAuth::HttpQueryString(_) => "HttpQueryString(..)",
        };
        f.debug_struct("WebhookRequest")
            .field("url", &self.url)
            .field("auth", &auth)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The shared outbound HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    client: Transport,
    config: SenderConfig,
    connect_timeout: Duration,
    /// herald's own listen addresses (its request bins): always reachable,
    /// through a client without the guard, even when private targets are
    /// refused. Only the exact IP and port are exempt.
    own: Arc<std::sync::RwLock<Vec<std::net::SocketAddr>>>,
    own_client: Transport,
    /// What a request to an endpoint needs of its URL and auth, worked out
    /// once per (URL, auth) instead of per call ([`Target`]).
    targets: Arc<std::sync::Mutex<Targets>>,
}

/// URL → the targets worked out for it, one per auth used with it.
type Targets = std::collections::HashMap<String, Vec<(Option<WebhookAuth>, Arc<Target>)>>;

/// URLs whose targets are kept at most; past it the cache starts afresh.
const MAX_TARGETS: usize = 10_000;

/// The parts of a request that depend only on the endpoint's URL and auth
/// (and herald's own addresses): the URL parsed, checked against the
/// guard and with its query-string auth applied, the auth headers parsed.
/// A drain parsed them for every job (~2 % of its CPU).
struct Target {
    /// The target is herald itself (see `Sender::own`).
    own: bool,
    uri: Uri,
    /// The auth's headers, sent after the call's own.
    auth_headers: Vec<(HeaderName, HeaderValue)>,
    /// `host:port`, for messages and logs (never the query string).
    name: String,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

struct Prepared {
    target: Arc<Target>,
    headers: HeaderMap,
}

impl Sender {
    pub fn new(config: SenderConfig) -> Result<Self, SenderError> {
        if config.timeout.is_zero() {
            return Err(SenderError::ZeroTimeout);
        }
        let connect_timeout = config.timeout.min(MAX_CONNECT_TIMEOUT);
        let client = Transport::new(
            GuardedResolver::new(config.allow_private_targets),
            connect_timeout,
        );
        // herald's own addresses are IP literals, which are never looked
        // up; the resolver only matters for names, and allows loopback.
        let own_client = Transport::new(GuardedResolver::new(true), connect_timeout);
        Ok(Self {
            client,
            config,
            connect_timeout,
            own: Arc::default(),
            own_client,
            targets: Arc::default(),
        })
    }

    /// Declare herald's own listen address, so webhooks to its request bins
    /// work without `--allow-private-targets`.
    pub fn add_own_address(&self, addr: std::net::SocketAddr) {
        if let Ok(mut own) = self.own.write() {
            own.push(addr);
        }
        // Whether a URL is herald's own was decided without this address.
        self.targets_lock().clear();
    }

    /// Whether `url` is one of herald's own request bins (see
    /// [`crate::guard::is_own_request_bin`]).
    fn is_own(&self, url: &Url) -> bool {
        match self.own.read() {
            Ok(own) => crate::guard::is_own_request_bin(url, &own),
            Err(_) => false,
        }
    }

    pub fn config(&self) -> SenderConfig {
        self.config
    }

    /// Whether `url` may be registered as a target under this sender's
    /// rules (see [`crate::guard::check_target`]); names are looked up with
    /// `resolver`, which never connects.
    pub async fn check_target(
        &self,
        url: &Url,
        resolver: &dyn crate::guard::NameResolver,
    ) -> Result<(), String> {
        let own = self.own.read().map(|o| o.clone()).unwrap_or_default();
        crate::guard::check_target(url, self.config.allow_private_targets, &own, resolver).await
    }

    /// Make one webhook call with Dataverse's rule (see the module doc).
    /// The response body is read only up to [`EXCERPT_BYTES`].
    pub async fn deliver(&self, req: &WebhookRequest) -> Delivery {
        self.run(req, EXCERPT_BYTES).await.0
    }

    /// [`Sender::deliver`] that also returns the body of the last answer
    /// (up to [`MAX_RESPONSE_BODY`]), whatever its status; None when no
    /// answer arrived. For invoking a webhook without a step.
    pub async fn invoke(&self, req: &WebhookRequest) -> (Delivery, Option<Bytes>) {
        self.run(req, MAX_RESPONSE_BODY).await
    }

    /// One raw POST: no auth, no retry, same guard, no redirects, the given
    /// total timeout. Any answer is `Ok` — non-2xx included (3xx is not
    /// followed) — with the body up to [`MAX_RESPONSE_BODY`]; `Err` means
    /// no answer (timeout, connection error, refused or invalid target).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<(u16, HeaderMap, Bytes), Failure> {
        let prepared = self.prepare(url, None, headers)?;
        let answer = self
            .send_once(&prepared, body, timeout, MAX_RESPONSE_BODY)
            .await?;
        Ok((answer.status, answer.headers, answer.body))
    }

    async fn run(&self, req: &WebhookRequest, body_cap: usize) -> (Delivery, Option<Bytes>) {
        let started_at = Utc::now();
        let clock = Instant::now();
        let prepared = match self.prepare(&req.url, Some(&req.auth), &req.headers) {
            Ok(p) => p,
            Err(failure) => {
                let attempt = Attempt {
                    started_at,
                    duration: clock.elapsed(),
                    status: None,
                    error: Some(failure.message.clone()),
                    response_excerpt: String::new(),
                };
                return (
                    Delivery {
                        attempts: vec![attempt],
                        outcome: Outcome::Failed(failure),
                    },
                    None,
                );
            }
        };

        let mut attempts: Vec<Attempt> = Vec::with_capacity(2);
        let mut first_status: Option<u16> = None;
        loop {
            let number = attempts.len() + 1;
            let started_at = Utc::now();
            let clock = Instant::now();
            let result = self
                .send_once(&prepared, req.body.clone(), self.config.timeout, body_cap)
                .await;
            let duration = clock.elapsed();
            let retry_note = |mut f: Failure| {
                match first_status {
                    Some(s) if f.kind == FailureKind::Status(s) => {
                        f.message.push_str(" (also on the retry)");
                    }
                    Some(s) => f.message.push_str(&format!(
                        " (on the retry after {})",
                        crate::outcome::status_text(s)
                    )),
                    None => {}
                }
                f
            };
            match result {
                Err(failure) => {
                    tracing::debug!(target = %prepared.target.name, attempt = number, error = %failure, "webhook attempt failed");
                    attempts.push(Attempt {
                        started_at,
                        duration,
                        status: None,
                        error: Some(failure.message.clone()),
                        response_excerpt: String::new(),
                    });
                    let outcome = Outcome::Failed(retry_note(failure));
                    return (Delivery { attempts, outcome }, None);
                }
                Ok(answer) => {
                    let status = answer.status;
                    tracing::debug!(target = %prepared.target.name, attempt = number, status, "webhook answered");
                    let excerpt_len = answer.body.len().min(EXCERPT_BYTES);
                    let response_excerpt =
                        String::from_utf8_lossy(&answer.body[..excerpt_len]).into_owned();
                    if (200..300).contains(&status) {
                        attempts.push(Attempt {
                            started_at,
                            duration,
                            status: Some(status),
                            error: None,
                            response_excerpt,
                        });
                        let outcome = Outcome::Succeeded { status };
                        return (Delivery { attempts, outcome }, Some(answer.body));
                    }
                    let location = answer.headers.get(LOCATION).and_then(|v| v.to_str().ok());
                    let failure = status_failure(status, location);
                    attempts.push(Attempt {
                        started_at,
                        duration,
                        status: Some(status),
                        error: Some(failure.message.clone()),
                        response_excerpt,
                    });
                    if matches!(status, 502..=504) && first_status.is_none() {
                        first_status = Some(status);
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                    let outcome = Outcome::Failed(retry_note(failure));
                    return (Delivery { attempts, outcome }, Some(answer.body));
                }
            }
        }
    }

    fn prepare(
        &self,
        url: &str,
        auth: Option<&WebhookAuth>,
        headers: &[(String, String)],
    ) -> Result<Prepared, Failure> {
        let target = self.target(url, auth)?;
        let mut map = HeaderMap::with_capacity(headers.len() + target.auth_headers.len() + 1);
        for (name, value) in headers {
            let (n, v) = header(name, value)?;
            map.append(n, v);
        }
        for (n, v) in &target.auth_headers {
            map.append(n.clone(), v.clone());
        }
        // herald's own, unless the endpoint's headers name one.
        if !map.contains_key(USER_AGENT) {
            map.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        }
        Ok(Prepared {
            target,
            headers: map,
        })
    }

    /// The [`Target`] of `url` with `auth`, from the cache or worked out
    /// (a refused or invalid URL is not kept: it is refused again, with
    /// the same message, each time).
    fn target(&self, url: &str, auth: Option<&WebhookAuth>) -> Result<Arc<Target>, Failure> {
        if let Some(known) = self.targets_lock().get(url).and_then(|by_auth| {
            by_auth
                .iter()
                .find(|(a, _)| a.as_ref() == auth)
                .map(|(_, t)| t.clone())
        }) {
            return Ok(known);
        }
        let target = Arc::new(self.work_out(url, auth)?);
        let mut targets = self.targets_lock();
        if targets.len() >= MAX_TARGETS {
            targets.clear();
        }
        targets
            .entry(url.to_string())
            .or_default()
            .push((auth.cloned(), target.clone()));
        Ok(target)
    }

    fn targets_lock(&self) -> std::sync::MutexGuard<'_, Targets> {
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn work_out(&self, url: &str, auth: Option<&WebhookAuth>) -> Result<Target, Failure> {
        let mut url = Url::parse(url.trim()).map_err(|e| {
            Failure::new(
                FailureKind::InvalidUrl,
                format!("The URL is not a valid absolute URL: {e}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::new(
                FailureKind::InvalidUrl,
                format!("The URL must be http or https, not {}:", url.scheme()),
            ));
        }
        let Some(host) = url.host_str() else {
            return Err(Failure::new(FailureKind::InvalidUrl, "The URL has no host"));
        };
        let name = match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let own = self.is_own(&url);
        if !own {
            check_url_host(&url, self.config.allow_private_targets)
                .map_err(|r| Failure::new(FailureKind::Refused, format!("Target refused: {r}")))?;
        }
        let mut pairs = Vec::new();
        if let Some(auth) = auth {
            apply_auth(&mut url, &mut pairs, auth);
        }
        let uri: Uri = url.as_str().parse().map_err(|e| {
            Failure::new(
                FailureKind::InvalidUrl,
                format!("The URL is not a valid request target: {e}"),
            )
        })?;
        let auth_headers = pairs
            .iter()
            .map(|(n, v)| header(n, v))
            .collect::<Result<_, _>>()?;
        Ok(Target {
            own,
            uri,
            auth_headers,
            name,
        })
    }

    async fn send_once(
        &self,
        p: &Prepared,
        body: Bytes,
        timeout: Duration,
        body_cap: usize,
    ) -> Result<Answer, Failure> {
        let mut headers = p.headers.clone();
        if body.is_empty() && !headers.contains_key(CONTENT_LENGTH) {
            // hyper omits the header for an empty body; receivers (and the
            // Business Central handshake, SPEC §5) expect `Content-Length: 0`.
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        let client = if p.target.own {
            &self.own_client
        } else {
            &self.client
        };
        client
            .post(p.target.uri.clone(), headers, body, timeout, body_cap)
            .await
            .map_err(|e| classify(&e, &p.target.name, timeout, self.connect_timeout))
    }
}

/// One header of a call, checked.
fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Failure> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Failure::new(
            FailureKind::Other,
            format!("'{name}' is not a valid HTTP header name"),
        )
    })?;
    let v = HeaderValue::from_str(value).map_err(|_| {
        Failure::new(
            FailureKind::Other,
            format!("The value of header '{name}' is not a valid HTTP header value"),
        )
    })?;
    Ok((n, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_timeout_is_an_error() {
        let err = Sender::new(SenderConfig {
            timeout: Duration::ZERO,
            allow_private_targets: false,
        })
        .expect_err("zero timeout");
        assert!(matches!(err, SenderError::ZeroTimeout));
    }

    #[test]
    fn debug_hides_the_secret() {
        let req = WebhookRequest {
            url: "https://x.example/".into(),
            auth: WebhookAuth::WebhookKey("s3cret".into()),
            headers: vec![],
            body: Bytes::new(),
        };
        assert!(!format!("{req:?}").contains("s3cret"));
    }
}
