//! The scheme and host clients reach herald under, for every absolute URL
//! herald writes (`@odata.context`, `@odata.nextLink`, `OData-EntityId`,
//! Business Central `@odata.context`, bin URLs). One function,
//! [`PublicOrigin::resolve`], decides it:
//!
//! - the scheme is `https` when herald itself serves TLS, else `http`;
//! - the host is the request's `Host` (or, for HTTP/2, the URI's authority);
//! - a request whose peer address is one of `server.trusted_proxies` may
//!   override both with `Forwarded: proto=…;host=…` (RFC 7239, preferred) or
//!   `X-Forwarded-Proto` / `X-Forwarded-Host`. From any other peer those
//!   headers are ignored, so a client cannot make herald write URLs that
//!   point elsewhere.
//!
//! [`attach`] (a middleware in `app`) resolves it once per request and
//! leaves it in the request's extensions; handlers take it as an extractor.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap, Uri};
use axum::response::Response;
use ipnet::IpNet;

use crate::state::SharedState;

/// Where a connection comes from: the connect info herald's accept loop
/// (`crate::accept`, over plain TCP or TLS) gives every request.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// `scheme://host[:port]` as clients see herald.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    scheme: &'static str,
    host: String,
}

/// Used when a request names no host at all (HTTP/1.0 without `Host`).
const FALLBACK_HOST: &str = "localhost";

impl PublicOrigin {
    /// Decide the origin of one request (see the module doc).
    pub fn resolve(
        serves_tls: bool,
        peer: Option<IpAddr>,
        trusted_proxies: &[IpNet],
        headers: &HeaderMap,
        uri: &Uri,
    ) -> PublicOrigin {
        let mut origin = PublicOrigin {
            scheme: if serves_tls { "https" } else { "http" },
            host: direct_host(headers, uri),
        };
        let trusted = peer.is_some_and(|ip| {
            let ip = ip.to_canonical();
            trusted_proxies.iter().any(|net| net.contains(&ip))
        });
        if trusted {
            let forwarded = Forwarded::from_headers(headers);
            if let Some(scheme) = forwarded.scheme {
                origin.scheme = scheme;
            }
            if let Some(host) = forwarded.host {
                origin.host = host;
            }
        }
        origin
    }

    /// `https://host:port` (no trailing slash).
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.host, path)
    }

    pub fn scheme(&self) -> &'static str {
        self.scheme
    }
}

/// The host a client addressed directly: `Host`, else the URI's authority.
fn direct_host(headers: &HeaderMap, uri: &Uri) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()))
        .unwrap_or_else(|| FALLBACK_HOST.to_string())
}

/// What a proxy said about the original request.
#[derive(Debug, Default, PartialEq, Eq)]
struct Forwarded {
    scheme: Option<&'static str>,
    host: Option<String>,
}

impl Forwarded {
    /// `Forwarded` when it says anything, else `X-Forwarded-Proto` /
    /// `X-Forwarded-Host`. Of a list (several proxies), the first element
    /// is the client-facing one. Values that are not `http`/`https` or a
    /// valid `host[:port]` are ignored.
    fn from_headers(headers: &HeaderMap) -> Forwarded {
        let standard = first_value(headers, "forwarded")
            .map(|element| Forwarded::parse_element(&element))
            .unwrap_or_default();
        if standard != Forwarded::default() {
            return standard;
        }
        Forwarded {
            scheme: first_value(headers, "x-forwarded-proto").and_then(|p| scheme(&p)),
            host: first_value(headers, "x-forwarded-host").and_then(|h| host(&h)),
        }
    }

    /// One element of `Forwarded`: `for=…;proto=https;host="a.example:8443"`.
    fn parse_element(element: &str) -> Forwarded {
        let mut out = Forwarded::default();
        for pair in element.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "proto" => out.scheme = scheme(value),
                "host" => out.host = host(value),
                _ => {}
            }
        }
        out
    }
}

/// The first comma-separated element of the first `name` header.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

fn scheme(value: &str) -> Option<&'static str> {
    if value.eq_ignore_ascii_case("https") {
        Some("https")
    } else if value.eq_ignore_ascii_case("http") {
        Some("http")
    } else {
        None
    }
}

/// A `host[:port]` that is nothing more (no user info, path or spaces).
fn host(value: &str) -> Option<String> {
    let authority: Authority = value.parse().ok()?;
    (!authority.as_str().contains('@') && !authority.host().is_empty())
        .then(|| authority.as_str().to_string())
}

/// Middleware: resolve the request's [`PublicOrigin`] and keep it in its
/// extensions.
pub async fn attach(
    State(state): State<SharedState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(PeerAddr(addr))| addr.ip());
    let origin = PublicOrigin::resolve(
        state.config.server.serves_tls(),
        peer,
        &state.config.server.trusted_proxies,
        req.headers(),
        req.uri(),
    );
    req.extensions_mut().insert(origin);
    next.run(req).await
}

/// Handlers take the origin [`attach`] resolved; without that middleware
/// (a router built by hand) it is the request's own `http://Host`.
impl<S: Send + Sync> FromRequestParts<S> for PublicOrigin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(match parts.extensions.get::<PublicOrigin>() {
            Some(origin) => origin.clone(),
            None => PublicOrigin::resolve(false, None, &[], &parts.headers, &parts.uri),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn resolve(peer: &str, pairs: &[(&'static str, &'static str)]) -> String {
        let trusted: Vec<IpNet> = vec!["10.1.0.0/16".parse().unwrap(), "::1/128".parse().unwrap()];
        PublicOrigin::resolve(
            false,
            Some(peer.parse().unwrap()),
            &trusted,
            &headers(pairs),
            &Uri::from_static("/api/data/v9.2/accounts"),
        )
        .origin()
    }

    #[test]
    fn the_host_header_and_own_scheme_decide_without_a_trusted_proxy() {
        let h = [
            ("host", "h.example:5080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ];
        assert_eq!(resolve("192.0.2.1", &h), "http://h.example:5080");
        let tls = PublicOrigin::resolve(true, None, &[], &headers(&h), &Uri::from_static("/"));
        assert_eq!(tls.origin(), "https://h.example:5080");
    }

    #[test]
    fn a_trusted_proxy_sets_scheme_and_host() {
        let h = [
            ("host", "127.0.0.1:5080"),
            ("x-forwarded-proto", "https, http"),
            ("x-forwarded-host", "api.example"),
        ];
        assert_eq!(resolve("10.1.2.3", &h), "https://api.example");
        assert_eq!(resolve("::1", &h), "https://api.example");
        assert_eq!(
            resolve("::ffff:10.1.2.3", &h),
            "https://api.example",
            "IPv4-mapped"
        );
        let only_proto = [("host", "127.0.0.1:5080"), ("x-forwarded-proto", "HTTPS")];
        assert_eq!(resolve("10.1.2.3", &only_proto), "https://127.0.0.1:5080");
    }

    #[test]
    fn forwarded_is_preferred_and_parsed() {
        let h = [
            ("host", "127.0.0.1:5080"),
            (
                "forwarded",
                "for=192.0.2.60;proto=https;host=\"api.example:8443\", for=10.1.0.9",
            ),
            ("x-forwarded-host", "other.example"),
        ];
        assert_eq!(resolve("10.1.0.1", &h), "https://api.example:8443");
    }

    #[test]
    fn malformed_forwarded_values_are_ignored() {
        let h = [
            ("host", "127.0.0.1:5080"),
            ("x-forwarded-proto", "gopher"),
            ("x-forwarded-host", "a.example/path"),
        ];
        assert_eq!(resolve("10.1.0.1", &h), "http://127.0.0.1:5080");
        let h = [
            ("host", "127.0.0.1:5080"),
            ("x-forwarded-host", "user@a.example"),
        ];
        assert_eq!(resolve("10.1.0.1", &h), "http://127.0.0.1:5080");
    }

    #[test]
    fn without_host_the_authority_or_a_fallback_is_used() {
        let o = PublicOrigin::resolve(
            false,
            None,
            &[],
            &HeaderMap::new(),
            &Uri::from_static("http://a.example:1/x"),
        );
        assert_eq!(o.url("/bins/1"), "http://a.example:1/bins/1");
        let o = PublicOrigin::resolve(false, None, &[], &HeaderMap::new(), &Uri::from_static("/x"));
        assert_eq!(o.origin(), "http://localhost");
    }
}
