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

mod cidr;
mod forwarded;
#[cfg(test)]
mod tests;

use cidr::Cidr;
use forwarded::{Forwarded, forwarded_proto};
