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

/// Whether the forwarding headers say the client's protocol was HTTPS: every element of the
/// `Forwarded` list (RFC 7239) names `proto=https`, and every `X-Forwarded-Proto` value is
/// `https`; both present must both say so.
///
/// Every element, not only the last (the one the nearest proxy added): behind a chain of proxies
/// each names the protocol of the hop it received, and a key that crossed any hop in clear is
/// exposed, however the later hops carried it. An element a client wrote itself can only make the
/// answer stricter. An element that names no protocol, or names it twice, does not say HTTPS.
pub(super) fn forwarded_proto(headers: &HeaderMap) -> Forwarded {
    let forwarded = every_element(headers, &FORWARDED, says_https_forwarded);
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

/// Whether every element of the list the header's lines make together passes `test`; `None`
/// when the header is absent.
fn every_element(
    headers: &HeaderMap,
    name: &HeaderName,
    test: impl Fn(&str) -> bool,
) -> Option<bool> {
    let mut lines = headers.get_all(name).iter().peekable();
    lines.peek()?;
    // A value that is not text names no protocol.
    Some(lines.all(|line| {
        line.to_str()
            .is_ok_and(|text| outside_quotes(text, b',').all(&test))
    }))
}

/// Whether one `Forwarded` element names `proto=https`, once.
fn says_https_forwarded(element: &str) -> bool {
    let mut protos = outside_quotes(element, b';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("proto")
            .then(|| unquoted(value))
    });
    matches!(
        (protos.next(), protos.next()),
        (Some(proto), None) if proto.eq_ignore_ascii_case("https")
    )
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
