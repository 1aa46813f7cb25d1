//! What a trusted proxy's `Forwarded` / `X-Forwarded-Proto` headers say of the client's protocol.

use axum::http::HeaderMap;

/// What the forwarding headers say of the client's protocol.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Forwarded {
    Https,
    /// `http`, something else, nothing, or the two headers disagreeing.
    Other,
}

/// The protocol the nearest proxy saw: the last `proto` of the last `Forwarded` element (RFC
/// 7239; each proxy appends its own, so the last is the trusted peer's), or the last
/// `X-Forwarded-Proto` value. Both present must agree.
pub(super) fn forwarded_proto(headers: &HeaderMap) -> Forwarded {
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
