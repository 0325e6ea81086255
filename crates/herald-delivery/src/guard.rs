//! The SSRF guard (SPEC §1 "outbound targets"): which IP addresses herald
//! may connect to, and the DNS resolver that enforces it.
//!
//! Refused unless `allow_private_targets`: loopback, private (RFC 1918),
//! link-local, unique-local (`fc00::/7`) and the deprecated site-local
//! (`fec0::/10`), unspecified / "this network" (`0.0.0.0/8`, `::`),
//! broadcast, CGNAT shared space (`100.64.0.0/10`), multicast and the
//! reserved `240.0.0.0/4` — and the same IPv4 ranges when written as
//! IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) or NAT64
//! (`64:ff9b::a.b.c.d`) IPv6 addresses.
//!
//! Always refused, whatever the flag: the cloud metadata endpoints
//! `169.254.169.254` and `fd00:ec2::254` (and their mapped forms).
//!
//! The rule is applied to the *resolved* address, never to the host name:
//! [`GuardedResolver`] resolves with the system resolver, drops forbidden
//! addresses and hands the connector only the vetted ones, so the
//! connection goes to exactly the address that was checked (no
//! DNS-rebinding window between check and connect). IP-literal URLs are
//! never looked up, so those are checked with [`check_url_host`] before
//! sending.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// The IPv4 cloud metadata address (AWS, GCP, Azure, OpenStack, ...).
pub const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The IPv6 metadata address of AWS (`fd00:ec2::254`).
pub const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Whether herald may connect to `ip`. The error is a sentence naming the
/// address and why it is refused, e.g. `10.0.0.1 is a private address;
/// start herald with --allow-private-targets to allow it`.
pub fn check_ip(ip: IpAddr, allow_private: bool) -> Result<(), String> {
    if is_metadata(ip) {
        return Err(format!(
            "{ip} is a cloud metadata address and is always refused"
        ));
    }
    if allow_private {
        return Ok(());
    }
    match restricted_kind(ip) {
        None => Ok(()),
        Some(kind) => Err(format!(
            "{ip} is {kind} address; start herald with --allow-private-targets \
             (HERALD_ALLOW_PRIVATE_TARGETS=1) to allow it"
        )),
    }
}

/// Check the host of an IP-literal URL (the connector skips the resolver for
/// those). Host names pass here: [`GuardedResolver`] checks what they
/// resolve to. A URL without a host is refused.
pub fn check_url_host(url: &Url, allow_private: bool) -> Result<(), String> {
    match url.host() {
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), allow_private),
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), allow_private),
        Some(Host::Domain(_)) => Ok(()),
        None => Err("the URL has no host".into()),
    }
}

/// Whether `url` is one of herald's own request bins: a `/bins/…` path on
/// the exact IP and port of one of herald's listen addresses (`own`; an
/// unspecified listen address such as `0.0.0.0` matches loopback). Only
/// those are exempt from the outbound rules, not the rest of herald's API.
/// The one rule for the sender (at delivery) and `herald doctor`.
pub fn is_own_request_bin(url: &Url, own: &[SocketAddr]) -> bool {
    if !url.path().starts_with("/bins/") {
        return false;
    }
    let ip: IpAddr = match url.host() {
        Some(Host::Ipv4(ip)) => ip.into(),
        Some(Host::Ipv6(ip)) => ip.into(),
        _ => return false,
    };
    let Some(port) = url.port_or_known_default() else {
        return false;
    };
    own.iter().any(|a| {
        a.port() == port && (a.ip() == ip || (a.ip().is_unspecified() && ip.is_loopback()))
    })
}

fn is_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == METADATA_V4,
        IpAddr::V6(v6) => v6 == METADATA_V6 || embedded_v4(v6) == Some(METADATA_V4),
    }
}

/// The IPv4 address carried inside an IPv4-mapped (`::ffff:0:0/96`),
/// IPv4-compatible (`::/96`, deprecated but still routed by some stacks) or
/// NAT64 well-known-prefix (`64:ff9b::/96`) IPv6 address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // `::` and `::1` are the IPv6 unspecified / loopback addresses, not
        // IPv4-compatible ones.
        [0, 0, 0, 0, 0, 0, _, _] if v6.to_bits() > 1 => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        _ => None,
    }
}

/// "a private" / "a loopback" ... for a refused address, None when allowed.
fn restricted_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return restricted_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback")
            } else if v6.is_unspecified() {
                Some("an unspecified")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a unique-local")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local")
            } else if first & 0xffc0 == 0xfec0 {
                Some("a site-local")
            } else if first & 0xff00 == 0xff00 {
                Some("a multicast")
            } else {
                None
            }
        }
    }
}

fn restricted_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let o = v4.octets();
    if v4.is_loopback() {
        Some("a loopback")
    } else if v4.is_private() {
        Some("a private")
    } else if v4.is_link_local() {
        Some("a link-local")
    } else if o[0] == 0 {
        // 0.0.0.0/8 "this network"; connecting to 0.0.0.0 reaches the host.
        Some("an unspecified")
    } else if v4.is_broadcast() {
        Some("a broadcast")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("a carrier-grade NAT (100.64.0.0/10)")
    } else if v4.is_multicast() {
        Some("a multicast")
    } else if o[0] >= 240 {
        Some("a reserved")
    } else {
        None
    }
}

/// Maps a host name to addresses without connecting to them: the system
/// resolver in the server, a fixed table in tests (so a test of a name's
/// refusal sends nothing anywhere, not even a DNS query).
pub trait NameResolver: Send + Sync {
    /// The addresses of `host`, or why there are none.
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<IpAddr>, String>> + Send + 'a>>;
}

/// The system resolver (`getaddrinfo` through tokio), bounded by a timeout
/// so a slow DNS server cannot hold a registration.
#[derive(Debug, Clone, Copy)]
pub struct SystemResolver {
    pub timeout: std::time::Duration,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver {
            timeout: std::time::Duration::from_secs(2),
        }
    }
}

impl NameResolver for SystemResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<IpAddr>, String>> + Send + 'a>>
    {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, tokio::net::lookup_host((host, 0))).await {
                Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
                Ok(Err(e)) => Err(format!("could not resolve {host}: {e}")),
                Err(_) => Err(format!(
                    "resolving {host} took longer than {:?}",
                    self.timeout
                )),
            }
        })
    }
}

/// A fixed table of names (for tests): a name not in it does not resolve.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver(pub Vec<(String, Vec<IpAddr>)>);

impl NameResolver for StaticResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<IpAddr>, String>> + Send + 'a>>
    {
        let found = self
            .0
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host.trim_end_matches('.')))
            .map(|(_, addrs)| addrs.clone())
            .ok_or_else(|| format!("could not resolve {host}"));
        Box::pin(async move { found })
    }
}

/// Whether a webhook or notification URL may be registered: the delivery
/// rule applied ahead of time, so a forbidden target is a 400 that says
/// why instead of a failure at the first delivery. The URL must carry no
/// user name or password (`http://user@host/` hides the real host from a
/// reader and would send credentials outside `authvalue`); herald's own
/// request bins pass; an IP-literal host (every spelling the URL parser
/// normalises: `127.1`, `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`,
/// `0`) is checked with [`check_ip`]; a name is looked up with `resolver`
/// and refused when every address it has is forbidden (not looked up
/// when private targets are allowed: delivery still refuses a name that
/// resolves to a metadata address). A name that does
/// not resolve now passes: delivery resolves again and decides (as it
/// always does, after DNS, for every name).
pub async fn check_target(
    url: &Url,
    allow_private: bool,
    own: &[SocketAddr],
    resolver: &dyn NameResolver,
) -> Result<(), String> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "it carries a user name or password before the host (user@host): put credentials \
             in the webhook's authvalue instead"
                .into(),
        );
    }
    if is_own_request_bin(url, own) {
        return Ok(());
    }
    match url.host() {
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), allow_private),
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), allow_private),
        None => Err("the URL has no host".into()),
        // Private targets allowed: only the metadata addresses stay refused,
        // and delivery refuses a name resolving to one; no lookup now.
        Some(Host::Domain(_)) if allow_private => Ok(()),
        Some(Host::Domain(name)) => {
            let Ok(addrs) = resolver.lookup(name).await else {
                return Ok(());
            };
            let mut first_reason = None;
            for ip in &addrs {
                match check_ip(*ip, allow_private) {
                    Ok(()) => return Ok(()),
                    Err(reason) => {
                        first_reason.get_or_insert(reason);
                    }
                }
            }
            match first_reason {
                Some(r) => Err(format!("{name} resolves only to refused addresses: {r}")),
                None => Ok(()),
            }
        }
    }
}

/// The error [`GuardedResolver`] returns when every address a name resolves
/// to is forbidden. The sender finds it in the client's error chain to report
/// [`crate::FailureKind::Refused`].
#[derive(Debug, Clone)]
pub struct RefusedTarget {
    /// A complete sentence, without the "Target refused: " prefix.
    pub reason: String,
}

impl fmt::Display for RefusedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl StdError for RefusedTarget {}

/// The error [`GuardedResolver`] returns when the name does not resolve.
#[derive(Debug)]
pub struct ResolveFailed {
    pub host: String,
    pub source: std::io::Error,
}

impl fmt::Display for ResolveFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not resolve {}: {}", self.host, self.source)
    }
}

impl StdError for ResolveFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// A resolver that resolves with tokio's `lookup_host` and keeps only the
/// addresses [`check_ip`] allows (the connector's `tower` service of names
/// is in `transport`).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl GuardedResolver {
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// Resolve `host` and filter: the allowed addresses (port 0: the
    /// connector puts the URL's port in), or why none is left.
    pub async fn resolve_host(
        &self,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn StdError + Send + Sync>> {
        let resolved =
            tokio::net::lookup_host((host, 0))
                .await
                .map_err(|source| ResolveFailed {
                    host: host.to_string(),
                    source,
                })?;
        let mut kept = Vec::new();
        let mut first_reason = None;
        for addr in resolved {
            match check_ip(addr.ip(), self.allow_private) {
                Ok(()) => {
                    if !kept.contains(&addr) {
                        kept.push(addr);
                    }
                }
                Err(reason) => {
                    tracing::debug!(host, ip = %addr.ip(), "guard dropped a resolved address");
                    first_reason.get_or_insert(reason);
                }
            }
        }
        if kept.is_empty() {
            let reason = match first_reason {
                Some(r) => format!("{host} resolves only to refused addresses: {r}"),
                None => format!("{host} resolves to no address"),
            };
            return Err(Box::new(RefusedTarget { reason }));
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_request_bins_are_exactly_bins_on_the_listen_address() {
        let own: Vec<SocketAddr> = vec!["127.0.0.1:5080".parse().unwrap()];
        let url = |u: &str| Url::parse(u).unwrap();
        assert!(is_own_request_bin(
            &url("http://127.0.0.1:5080/bins/x"),
            &own
        ));
        assert!(!is_own_request_bin(
            &url("http://127.0.0.1:5080/api/data/v9.2"),
            &own
        ));
        assert!(!is_own_request_bin(
            &url("http://127.0.0.1:5081/bins/x"),
            &own
        ));
        assert!(!is_own_request_bin(
            &url("http://localhost:5080/bins/x"),
            &own
        ));
        let any: Vec<SocketAddr> = vec!["0.0.0.0:5080".parse().unwrap()];
        assert!(is_own_request_bin(
            &url("http://127.0.0.1:5080/bins/x"),
            &any
        ));
    }

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.1.1",
            "169.253.1.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:db8::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(check_ip(ip(a), false), Ok(()), "{a} should be allowed");
        }
    }

    #[test]
    fn restricted_addresses_refused_unless_allowed() {
        for (a, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.0.1", "link-local"),
            ("169.254.169.253", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fdff:ffff::1", "unique-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            // IPv4-mapped, IPv4-compatible and NAT64 forms
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:192.168.0.1", "private"),
            ("::ffff:172.16.5.4", "private"),
            ("::ffff:169.254.1.1", "link-local"),
            ("::ffff:100.64.0.1", "carrier-grade NAT"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("::ffff:255.255.255.255", "broadcast"),
            ("::127.0.0.1", "loopback"),
            ("::10.0.0.1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a00:1", "private"),
        ] {
            let err = check_ip(ip(a), false).expect_err(a);
            assert!(err.contains(kind), "{a}: {err}");
            assert!(err.starts_with(&ip(a).to_string()), "{a}: {err}");
            assert!(err.contains("--allow-private-targets"), "{a}: {err}");
            assert_eq!(check_ip(ip(a), true), Ok(()), "{a} allowed with the flag");
        }
    }

    #[test]
    fn metadata_always_refused() {
        for a in [
            "169.254.169.254",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            for allow in [false, true] {
                let err = check_ip(ip(a), allow).expect_err(a);
                assert!(err.contains("metadata"), "{a}: {err}");
                assert!(!err.contains("--allow-private-targets"), "{a}: {err}");
            }
        }
    }

    #[test]
    fn private_message_is_the_documented_sentence() {
        assert_eq!(
            check_ip(ip("10.0.0.1"), false).unwrap_err(),
            "10.0.0.1 is a private address; start herald with --allow-private-targets \
             (HERALD_ALLOW_PRIVATE_TARGETS=1) to allow it"
        );
    }

    #[test]
    fn url_hosts() {
        let u = |s: &str| Url::parse(s).expect("test url");
        assert!(check_url_host(&u("http://127.0.0.1:8080/x"), false).is_err());
        assert!(check_url_host(&u("http://[::1]/x"), false).is_err());
        assert!(check_url_host(&u("http://[::ffff:7f00:1]/x"), false).is_err());
        // WHATWG parsing turns odd IPv4 spellings into the address itself.
        assert!(check_url_host(&u("http://2130706433/"), false).is_err());
        assert!(check_url_host(&u("http://0x7f.1/"), false).is_err());
        assert!(check_url_host(&u("http://169.254.169.254/"), true).is_err());
        assert!(check_url_host(&u("http://127.0.0.1/"), true).is_ok());
        assert!(check_url_host(&u("https://example.com/"), false).is_ok());
        assert!(check_url_host(&u("https://8.8.8.8/"), false).is_ok());
    }

    #[tokio::test]
    async fn registration_refuses_every_spelling_of_a_forbidden_target() {
        // Never contacted: the check parses and looks names up in a table.
        let names = StaticResolver(vec![
            (
                "internal.example".into(),
                vec![ip("10.1.2.3"), ip("fd00::1")],
            ),
            (
                "mixed.example".into(),
                vec![ip("127.0.0.1"), ip("93.184.216.34")],
            ),
            ("public.example".into(), vec![ip("93.184.216.34")]),
            ("metadata.example".into(), vec![ip("169.254.169.254")]),
        ]);
        let own: Vec<SocketAddr> = vec!["127.0.0.1:5080".parse().unwrap()];
        let check = |u: &str, allow: bool| {
            let url = Url::parse(u).expect(u);
            let names = names.clone();
            let own = own.clone();
            async move { check_target(&url, allow, &own, &names).await }
        };
        for u in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]/",
            "http://0/",
            "http://0.0.0.0:8080/",
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            "http://[fe80::1]/",
            "http://evil.example@127.0.0.1/",
            "http://127.0.0.1:80@evil.example/",
            "http://user:pass@public.example/",
            "http://internal.example/hook",
            "http://INTERNAL.example./hook",
        ] {
            let err = check(u, false).await.expect_err(u);
            assert!(!err.is_empty(), "{u}");
        }
        let err = check("http://2130706433/", false).await.unwrap_err();
        assert!(err.starts_with("127.0.0.1 is a loopback address"), "{err}");
        let err = check("http://internal.example/", false).await.unwrap_err();
        assert!(
            err.starts_with(
                "internal.example resolves only to refused addresses: 10.1.2.3 is a private"
            ),
            "{err}"
        );
        let err = check("http://evil.example@127.0.0.1/", true)
            .await
            .unwrap_err();
        assert!(err.contains("user name or password"), "{err}");
        for u in [
            "https://public.example/hook",
            "https://mixed.example/hook",
            "https://unknown.example/hook",
            "http://93.184.216.34/",
            "http://127.0.0.1:5080/bins/abc",
        ] {
            assert_eq!(check(u, false).await, Ok(()), "{u}");
        }
        // Allowed private targets: only the metadata address stays refused.
        assert_eq!(check("http://127.1:9/", true).await, Ok(()));
        assert_eq!(check("http://internal.example/", true).await, Ok(()));
        assert!(check("http://169.254.169.254/", true).await.is_err());
        assert!(check("http://metadata.example/", false)
            .await
            .unwrap_err()
            .contains("metadata"));
    }

    #[tokio::test]
    async fn resolver_drops_forbidden_addresses() {
        let err = GuardedResolver::new(false)
            .resolve_host("localhost")
            .await
            .expect_err("localhost is loopback");
        let refused = err
            .downcast_ref::<RefusedTarget>()
            .expect("a RefusedTarget");
        assert!(
            refused
                .reason
                .starts_with("localhost resolves only to refused addresses: "),
            "{refused}"
        );
        assert!(refused.reason.contains("loopback"), "{refused}");

        let ok = GuardedResolver::new(true)
            .resolve_host("localhost")
            .await
            .expect("allowed with the flag");
        assert!(ok.iter().all(|a| a.ip().is_loopback()));
    }
}
