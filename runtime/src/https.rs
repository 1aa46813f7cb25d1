//! Keys only over HTTPS: [`RequireHttps`], and the [`Tls`] marker a TLS server puts on requests.
//!
//! A key sent over plain HTTP has been exposed to everyone on the path. With
//! [`KeyGateBuilder::require_https`](crate::KeyGateBuilder::require_https), a request that
//! presents a key over plain HTTP is refused before the key is looked up: `403 https_required`,
//! and a WARN event (target `keygate`) naming the peer address, never the key.
//!
//! A request counts as HTTPS when:
//! - its connection was TLS: the server that terminated TLS put [`Tls`] in the request's
//!   extensions (keygate cannot see the socket; the example shows how with `axum-server`), or
//! - it came from a trusted proxy (addresses and CIDR blocks you list; nobody else's forwarding
//!   headers are read) whose `Forwarded: proto=https` or `X-Forwarded-Proto: https` says the
//!   client's own connection was HTTPS, or
//! - it came from a loopback address and [`RequireHttps::exempt_loopback`] is on (off by default).
//!
//! The peer address is axum's [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo): serve the
//! router with `into_make_service_with_connect_info::<SocketAddr>()`. Without it, no peer is
//! known, so no proxy is trusted and no loopback exempted.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::gate::ConfigError;

/// Marks a request that arrived over a TLS connection. Insert it from the code that accepts TLS
/// connections; keygate only reads it.
///
/// ```
/// use axum::http::Request;
/// use keygate::https::Tls;
///
/// let mut request = Request::new(());
/// request.extensions_mut().insert(Tls);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tls;

/// The HTTPS requirement of a gate. Start with [`RequireHttps::new`].
///
/// ```
/// use keygate::KeyGate;
/// use keygate::https::RequireHttps;
///
/// let gate = KeyGate::builder()
///     .require_https(
///         RequireHttps::new()
///             .trust_proxy("10.0.0.0/8")   // the load balancer's subnet
///             .trust_proxy("192.0.2.7"),   // one more proxy
///     )
///     .build();
/// # let _ = gate;
/// ```
#[derive(Clone, Default)]
pub struct RequireHttps {
    proxies: Vec<Cidr>,
    /// Entries given to `trust_proxy` that are not addresses or blocks, refused at build.
    invalid: Vec<String>,
    exempt_loopback: bool,
    revoke_exposed: bool,
}

impl fmt::Debug for RequireHttps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireHttps")
            .field("trusted_proxies", &self.proxies)
            .field("exempt_loopback", &self.exempt_loopback)
            .field("revoke_exposed_keys", &self.revoke_exposed)
            .finish()
    }
}

impl RequireHttps {
    /// HTTPS required from everyone: no proxy trusted, loopback not exempt.
    pub fn new() -> Self {
        RequireHttps::default()
    }

    /// Trusts the proxy (or the block of proxies) at `address`: `10.0.0.0/8`, `192.0.2.7`,
    /// `fd00::/8`, `::1`. Its `Forwarded` / `X-Forwarded-Proto` headers decide whether the
    /// client's connection was HTTPS. Anything that is not an address or block makes
    /// [`KeyGateBuilder::try_build`](crate::KeyGateBuilder::try_build) fail.
    pub fn trust_proxy(mut self, address: &str) -> Self {
        match Cidr::parse(address) {
            Some(cidr) => self.proxies.push(cidr),
            None => self.invalid.push(address.to_owned()),
        }
        self
    }

    /// Whether a plain-HTTP request from a loopback address (`127.0.0.0/8`, `::1`) is admitted.
    /// Off by default: a TLS-terminating proxy on the same host (nginx in front of the service)
    /// connects from loopback too, and would then pass on plain-HTTP traffic from anywhere; list
    /// such a proxy with [`trust_proxy`](Self::trust_proxy) instead. Turn it on for local
    /// development, where the service and `curl` share the machine.
    pub fn exempt_loopback(mut self, exempt: bool) -> Self {
        self.exempt_loopback = exempt;
        self
    }

    /// Whether a valid key that arrives over plain HTTP (from a peer that is not exempt) is
    /// revoked on the spot, since it has been exposed. Off by default: a client misconfigured for
    /// a moment loses its key, and whoever owns it must be ready to mint a new one. Only a key
    /// whose secret matches is revoked, so nobody can revoke someone else's key by its public id.
    /// The request still gets `403 https_required`; a WARN event says the key was revoked.
    pub fn revoke_exposed_keys(mut self, revoke: bool) -> Self {
        self.revoke_exposed = revoke;
        self
    }

    pub(crate) fn revokes_exposed_keys(&self) -> bool {
        self.revoke_exposed
    }

    /// Whether every [`trust_proxy`](Self::trust_proxy) entry was an address or block; the gate's
    /// builder checks this too.
    ///
    /// ```
    /// use keygate::https::RequireHttps;
    ///
    /// assert!(RequireHttps::new().trust_proxy("10.0.0.0/8").validate().is_ok());
    /// let error = RequireHttps::new().trust_proxy("proxy.local").validate().unwrap_err();
    /// assert!(error.to_string().contains("proxy.local"));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.invalid.first() {
            Some(bad) => Err(ConfigError(format!(
                "trusted proxy `{bad}` is not an IP address or CIDR block (such as 10.0.0.0/8)"
            ))),
            None => Ok(()),
        }
    }

    /// Whether the request counts as HTTPS; why not, otherwise.
    pub(crate) fn check(&self, parts: &Parts) -> Result<(), Plain> {
        if parts.extensions.get::<Tls>().is_some() {
            return Ok(());
        }
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Err(Plain::UnknownPeer);
        };
        let ip = peer.ip().to_canonical();
        if self.proxies.iter().any(|cidr| cidr.contains(ip)) {
            return match forwarded_proto(&parts.headers) {
                Forwarded::Https => Ok(()),
                Forwarded::Other => Err(Plain::Forwarded(ip)),
            };
        }
        if self.exempt_loopback && ip.is_loopback() {
            return Ok(());
        }
        Err(Plain::Direct(ip))
    }
}

/// Why a request did not count as HTTPS, for the WARN event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plain {
    /// No `ConnectInfo` and no `Tls`: nothing says the connection was secure.
    UnknownPeer,
    /// Plain HTTP straight from this peer.
    Direct(IpAddr),
    /// A trusted proxy at this address did not say the client used HTTPS.
    Forwarded(IpAddr),
}

impl fmt::Display for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plain::UnknownPeer => f.write_str(
                "no TLS marker and no peer address (serve with \
                 into_make_service_with_connect_info::<SocketAddr>())",
            ),
            Plain::Direct(ip) => write!(f, "plain HTTP from {ip}"),
            Plain::Forwarded(ip) => {
                write!(f, "the trusted proxy {ip} did not forward it as HTTPS")
            }
        }
    }
}

/// What the forwarding headers say of the client's protocol.
#[derive(Debug, PartialEq, Eq)]
enum Forwarded {
    Https,
    /// `http`, something else, nothing, or the two headers disagreeing.
    Other,
}

/// The protocol the nearest proxy saw: the last `proto` of the last `Forwarded` element (RFC
/// 7239; each proxy appends its own, so the last is the trusted peer's), or the last
/// `X-Forwarded-Proto` value. Both present must agree.
fn forwarded_proto(headers: &HeaderMap) -> Forwarded {
    let last = |name: &str, pick: fn(&str) -> Option<&str>| -> Option<Option<String>> {
        let mut values = headers.get_all(name).iter().peekable();
        values.peek()?;
        let joined: Vec<&str> = values.map(|v| v.to_str().unwrap_or("\u{0}")).collect();
        let joined = joined.join(",");
        let element = joined.rsplit(',').next().unwrap_or_default();
        Some(pick(element).map(|proto| proto.trim().trim_matches('"').to_ascii_lowercase()))
    };
    let forwarded = last("forwarded", |element| {
        element.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim().eq_ignore_ascii_case("proto").then_some(value)
        })
    });
    let x_forwarded = last("x-forwarded-proto", whole);
    let says = match (forwarded, x_forwarded) {
        (None, None) => return Forwarded::Other,
        (Some(proto), None) | (None, Some(proto)) => proto,
        (Some(a), Some(b)) if a == b => a,
        (Some(_), Some(_)) => return Forwarded::Other,
    };
    if says.as_deref() == Some("https") {
        Forwarded::Https
    } else {
        Forwarded::Other
    }
}

/// `X-Forwarded-Proto`'s element is the protocol itself.
fn whole(element: &str) -> Option<&str> {
    Some(element)
}

/// An address block: `10.0.0.0/8`, or one address.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.bits)
    }
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(bits) if bits.bytes().all(|b| b.is_ascii_digit()) => bits.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (bits <= max).then_some(Cidr { network, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                prefix_matches(network.to_bits().into(), ip.to_bits().into(), self.bits, 32)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                prefix_matches(network.to_bits(), ip.to_bits(), self.bits, 128)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` of `a` and `b`, numbers `width` bits wide, are the same.
fn prefix_matches(a: u128, b: u128, bits: u8, width: u32) -> bool {
    let shift = width - u32::from(bits);
    // A shift by the full width (a /0 block) would overflow: everything matches.
    shift >= width || (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: Option<&str>, headers: &[(&str, &str)], tls: bool) -> Parts {
        let mut request = Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            let peer: SocketAddr = peer.parse().unwrap();
            parts.extensions.insert(ConnectInfo(peer));
        }
        if tls {
            parts.extensions.insert(Tls);
        }
        parts
    }

    #[test]
    fn blocks_parse_and_match_whole_prefixes() {
        let block = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(block.contains("10.1.255.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(!block.contains("::ffff:10.2.0.1".parse().unwrap()));
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0/8",
            "proxy",
            "10.0.0.0/",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn tls_counts_whoever_the_peer() {
        let policy = RequireHttps::new();
        assert_eq!(policy.check(&parts(None, &[], true)), Ok(()));
        assert_eq!(
            policy.check(&parts(Some("203.0.113.9:443"), &[], true)),
            Ok(())
        );
    }

    #[test]
    fn plain_http_is_refused_unless_exempt() {
        let policy = RequireHttps::new();
        let ip = "203.0.113.9".parse().unwrap();
        assert_eq!(
            policy.check(&parts(Some("203.0.113.9:5000"), &[], false)),
            Err(Plain::Direct(ip))
        );
        assert_eq!(
            policy.check(&parts(None, &[], false)),
            Err(Plain::UnknownPeer)
        );
        let local = parts(Some("127.0.0.1:5000"), &[], false);
        assert!(
            policy.check(&local).is_err(),
            "loopback not exempt by default"
        );
        let exempt = RequireHttps::new().exempt_loopback(true);
        assert_eq!(exempt.check(&local), Ok(()));
        assert_eq!(exempt.check(&parts(Some("[::1]:5000"), &[], false)), Ok(()));
        assert!(
            exempt
                .check(&parts(Some("10.0.0.1:5000"), &[], false))
                .is_err()
        );
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let policy = RequireHttps::new().trust_proxy("10.0.0.0/8");
        let https = [("x-forwarded-proto", "https")];
        assert_eq!(
            policy.check(&parts(Some("10.9.8.7:1"), &https, false)),
            Ok(())
        );
        // IPv4-mapped IPv6 peers are the same addresses.
        assert_eq!(
            policy.check(&parts(Some("[::ffff:10.9.8.7]:1"), &https, false)),
            Ok(())
        );
        // Forged by anyone else: ignored.
        assert!(
            policy
                .check(&parts(Some("203.0.113.9:1"), &https, false))
                .is_err()
        );
        let trusted = Some("10.0.0.1:1");
        for (headers, admitted) in [
            (&[("forwarded", "for=192.0.2.1;proto=https")][..], true),
            (&[("forwarded", "for=192.0.2.1;Proto=\"HTTPS\"")][..], true),
            // The nearest proxy's element is the last one.
            (&[("forwarded", "proto=https, proto=http")][..], false),
            (&[("forwarded", "proto=http, proto=https")][..], true),
            (
                &[("forwarded", "for=1.2.3.4"), ("forwarded", "proto=https")][..],
                true,
            ),
            (&[("x-forwarded-proto", "http")][..], false),
            (&[("x-forwarded-proto", "https, http")][..], false),
            (&[("x-forwarded-proto", "http, https")][..], true),
            (
                &[("x-forwarded-proto", "https"), ("forwarded", "proto=http")][..],
                false,
            ),
            (
                &[("x-forwarded-proto", "https"), ("forwarded", "proto=https")][..],
                true,
            ),
            (&[][..], false),
        ] {
            assert_eq!(
                policy.check(&parts(trusted, headers, false)).is_ok(),
                admitted,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn bad_proxy_entries_are_kept_for_the_builder_to_refuse() {
        let policy = RequireHttps::new()
            .trust_proxy("10.0.0.0/8")
            .trust_proxy("proxy.local");
        assert_eq!(policy.invalid, ["proxy.local"]);
    }
}
