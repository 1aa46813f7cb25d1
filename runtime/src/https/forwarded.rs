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

/// The protocol the nearest proxy saw: the `proto` of the last `Forwarded` element (RFC
/// 7239; each proxy appends its own, so the last is the trusted peer's), or the last
/// `X-Forwarded-Proto` value. Both present must agree.
pub(super) fn forwarded_proto(headers: &HeaderMap) -> Forwarded {
    // `None`: the header is absent; `Some(None)`: its last element names no protocol.
    let forwarded = last_element(headers, &FORWARDED).map(|element| {
        element.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("proto")
                .then(|| unquoted(value))
        })
    });
    let x_forwarded =
        last_element(headers, &X_FORWARDED_PROTO).map(|element| Some(unquoted(element)));
    let says = match (forwarded, x_forwarded) {
        (None, None) => return Forwarded::Other,
        (Some(proto), None) | (None, Some(proto)) => proto,
        (Some(Some(a)), Some(Some(b))) if a.eq_ignore_ascii_case(b) => Some(a),
        (Some(_), Some(_)) => return Forwarded::Other,
    };
    if says.is_some_and(|proto| proto.eq_ignore_ascii_case("https")) {
        Forwarded::Https
    } else {
        Forwarded::Other
    }
}

/// The last element of the list the header's lines make together (the last line's last
/// comma-separated element), or `None` when the header is absent.
fn last_element<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    let last = headers.get_all(name).iter().next_back()?;
    // A value that is not text names no protocol: NUL is a protocol nobody compares equal to.
    let text = last.to_str().unwrap_or("\u{0}");
    Some(text.rsplit(',').next().unwrap_or_default())
}

/// A protocol as written, without surrounding space or quotes.
fn unquoted(proto: &str) -> &str {
    proto.trim().trim_matches('"')
}
