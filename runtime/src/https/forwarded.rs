//! What a trusted proxy's `Forwarded` / `X-Forwarded-Proto` headers say of the client's protocol.
//!
//! Read on every request that comes through a trusted proxy, which is every request of a service
//! deployed behind one, so nothing here allocates: the values are read where the request holds
//! them and compared without case.

use axum::http::{HeaderMap, HeaderName};

/// What the forwarding headers say of the client's protocol.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Forwarded {
    Https,
    /// `http`, something else, nothing, or the two headers disagreeing.
    Other,
}

static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Whether the forwarding headers say the client's protocol was HTTPS: the `Forwarded` list
/// (RFC 7239) names no protocol but `https` in any element, and names `https` in its last one
/// (the trusted proxy's own); every `X-Forwarded-Proto` value is `https`; both present must both
/// say so.
///
/// Every element, not only the last: behind a chain of proxies each names the protocol of the
/// hop it received, and a key that crossed any hop in clear is exposed, however the later hops
/// carried it. An earlier element without `proto` (a proxy that writes only `for=`) claims
/// nothing either way and is let pass, so a request that did come over TLS is not refused (or,
/// with `revoke_exposed_keys`, its key revoked) for it. An element a client wrote itself can
/// only make the answer stricter. An element that names `proto` twice is not HTTPS.
pub(super) fn forwarded_proto(headers: &HeaderMap) -> Forwarded {
    let forwarded = forwarded_says_https(headers);
    let x_forwarded = every_element(headers, &X_FORWARDED_PROTO, |value| {
        unquoted(value).eq_ignore_ascii_case("https")
    });
    let https = match (forwarded, x_forwarded) {
        (None, None) => false,
        (Some(says), None) | (None, Some(says)) => says,
        (Some(a), Some(b)) => a && b,
    };
    if https {
        Forwarded::Https
    } else {
        Forwarded::Other
    }
}

/// What the `Forwarded` lines say together; `None` when there is none.
fn forwarded_says_https(headers: &HeaderMap) -> Option<bool> {
    let mut last = None;
    let every = every_element(headers, &FORWARDED, |element| {
        let proto = element_proto(element);
        last = Some(proto);
        proto != Proto::Other
    })?;
    Some(every && last == Some(Proto::Https))
}

/// What one `Forwarded` element says of the protocol.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Https,
    /// No `proto` parameter.
    Unsaid,
    /// Another protocol, or `proto` twice.
    Other,
}

fn element_proto(element: &str) -> Proto {
    let mut protos = outside_quotes(element, b';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("proto")
            .then(|| unquoted(value))
    });
    match (protos.next(), protos.next()) {
        (None, _) => Proto::Unsaid,
        (Some(proto), None) if proto.eq_ignore_ascii_case("https") => Proto::Https,
        _ => Proto::Other,
    }
}

/// Whether every element of the list the header's lines make together passes `test` (which
/// sees them all, in order, until one fails); `None` when the header is absent.
fn every_element(
    headers: &HeaderMap,
    name: &HeaderName,
    mut test: impl FnMut(&str) -> bool,
) -> Option<bool> {
    let mut lines = headers.get_all(name).iter().peekable();
    lines.peek()?;
    // A value that is not text names no protocol.
    Some(lines.all(|line| {
        line.to_str()
            .is_ok_and(|text| outside_quotes(text, b',').all(&mut test))
    }))
}

/// The pieces of `text` between `separator`s that stand outside quoted strings (RFC 9110
/// quoted-string, with its backslash escapes): `host="a, proto=https"` is one piece, whatever
/// it quotes. Without allocating.
fn outside_quotes(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let (mut start, mut at) = (0, 0);
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let (mut quoted, mut escaped) = (false, false);
        while at < bytes.len() {
            let byte = bytes[at];
            at += 1;
            match byte {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                _ if byte == separator && !quoted => {
                    // The separator is ASCII, so both ends are character boundaries.
                    let piece = &text[start..at - 1];
                    start = at;
                    return Some(piece);
                }
                _ => {}
            }
        }
        done = true;
        Some(&text[start..])
    })
}

/// A protocol as written, without surrounding space or quotes.
fn unquoted(proto: &str) -> &str {
    proto.trim().trim_matches('"')
}
