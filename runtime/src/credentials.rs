//! Credential sources: which ones a gate reads (built from its builder's settings), the
//! `WWW-Authenticate` challenges they announce, and finding the presented key in a request.

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};

use crate::gate::ConfigError;
use crate::reject::RejectionKind;

/// The enabled credential sources.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    pub(crate) header: Option<HeaderName>,
    pub(crate) bearer: bool,
    pub(crate) query: Option<String>,
    pub(crate) cookie: Option<String>,
}

impl Sources {
    /// The sources a builder asked for, each name checked once at start-up. (Not `new`: it
    /// refuses configurations, and cargo-mutants leaves functions named `new` alone.)
    pub(crate) fn configure(
        header: Option<&str>,
        bearer: bool,
        query: Option<String>,
        cookie: Option<String>,
    ) -> Result<Sources, ConfigError> {
        let header = match header {
            Some(name) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ConfigError(format!("`{name}` is not a valid header name")))?,
            ),
            None => None,
        };
        for (what, name) in [("query parameter", &query), ("cookie", &cookie)] {
            if let Some(name) = name
                && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(ConfigError(format!("`{name}` is not a valid {what} name")));
            }
        }
        if header.is_none() && !bearer && query.is_none() && cookie.is_none() {
            return Err(ConfigError(
                "every credential source is disabled; no key could ever be presented".into(),
            ));
        }
        Ok(Sources {
            header,
            bearer,
            query,
            cookie,
        })
    }

    /// One `WWW-Authenticate` challenge per enabled source, rendered once at start-up.
    pub(crate) fn challenges(&self, realm: &str) -> Result<Vec<HeaderValue>, ConfigError> {
        if realm.contains('"') || realm.contains('\\') {
            return Err(ConfigError("the realm may not contain quotes".into()));
        }
        let mut challenges = Vec::new();
        if let Some(name) = &self.header {
            challenges.push(format!(r#"ApiKey realm="{realm}", header="{name}""#));
        }
        if self.bearer {
            challenges.push(format!(r#"Bearer realm="{realm}""#));
        }
        if let Some(name) = &self.query {
            challenges.push(format!(r#"ApiKey realm="{realm}", query="{name}""#));
        }
        if let Some(name) = &self.cookie {
            challenges.push(format!(r#"ApiKey realm="{realm}", cookie="{name}""#));
        }
        challenges
            .into_iter()
            .map(|c| HeaderValue::try_from(c).map_err(|_| ConfigError("unprintable realm".into())))
            .collect()
    }
}

/// At most one distinct presented key, remembered as the first one seen.
struct Presented<'a>(Option<&'a str>);

impl<'a> Presented<'a> {
    fn add(&mut self, candidate: &'a str) -> Result<(), RejectionKind> {
        let candidate = candidate.trim();
        if candidate.is_empty() {
            return Ok(());
        }
        match self.0 {
            None => self.0 = Some(candidate),
            Some(seen) if seen == candidate => {}
            Some(_) => return Err(RejectionKind::Ambiguous),
        }
        Ok(())
    }
}

/// A header value as text; a value that is not visible ASCII cannot be a key.
fn header_text(value: &HeaderValue) -> Result<&str, RejectionKind> {
    value.to_str().map_err(|_| RejectionKind::Invalid)
}

/// Presented bytes as text; bytes that are not visible ASCII cannot be a key.
fn key_text(bytes: &[u8]) -> Result<&str, RejectionKind> {
    match std::str::from_utf8(bytes) {
        Ok(text)
            if text
                .bytes()
                .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic()) =>
        {
            Ok(text)
        }
        _ => Err(RejectionKind::Invalid),
    }
}

/// The one key presented in `parts` through the enabled sources: `Ok(None)` when there is none,
/// `Ambiguous` when two different ones were presented.
pub(crate) fn presented_key<'a>(
    sources: &Sources,
    parts: &'a Parts,
) -> Result<Option<&'a str>, RejectionKind> {
    let mut presented = Presented(None);
    if let Some(name) = &sources.header {
        for value in parts.headers.get_all(name) {
            presented.add(header_text(value)?)?;
        }
    }
    if sources.bearer {
        for value in parts.headers.get_all(AUTHORIZATION) {
            // The scheme is read from the raw bytes: other schemes (Basic, Digest) are meant for
            // something else, may carry any bytes, and must not spoil a key sent another way.
            let text = value.as_bytes().trim_ascii_start();
            let (scheme, token) = match text.iter().position(|&b| b == b' ') {
                Some(space) => (&text[..space], &text[space + 1..]),
                None => (text, &[][..]),
            };
            if scheme.eq_ignore_ascii_case(b"bearer") {
                presented.add(key_text(token)?)?;
            }
        }
    }
    if let (Some(param), Some(query)) = (&sources.query, parts.uri.query()) {
        for pair in query.split('&') {
            if let Some((name, value)) = pair.split_once('=')
                && name == param
            {
                presented.add(value)?;
            }
        }
    }
    if let Some(cookie_name) = &sources.cookie {
        for value in parts.headers.get_all(COOKIE) {
            // Only the named cookie must be text; other cookies may hold any bytes.
            for cookie in value.as_bytes().split(|&b| b == b';') {
                let cookie = cookie.trim_ascii();
                if let Some(eq) = cookie.iter().position(|&b| b == b'=')
                    && &cookie[..eq] == cookie_name.as_bytes()
                {
                    presented.add(key_text(&cookie[eq + 1..])?)?;
                }
            }
        }
    }
    Ok(presented.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(req: Request<()>) -> Parts {
        req.into_parts().0
    }

    fn all_sources() -> Sources {
        Sources {
            header: Some(HeaderName::from_static("x-api-key")),
            bearer: true,
            query: Some("api_key".into()),
            cookie: Some("api_key".into()),
        }
    }

    #[test]
    fn each_source_is_read() {
        let s = all_sources();
        let cases = [
            Request::builder().header("X-Api-Key", "k1").body(()),
            Request::builder()
                .header("authorization", "bEaReR k1")
                .body(()),
            Request::builder().uri("/x?a=b&api_key=k1").body(()),
            Request::builder()
                .header("cookie", "a=b; api_key=k1")
                .body(()),
        ];
        for req in cases {
            let p = parts(req.unwrap());
            assert_eq!(presented_key(&s, &p), Ok(Some("k1")));
        }
    }

    #[test]
    fn same_key_twice_is_fine_different_keys_are_ambiguous() {
        let s = all_sources();
        let same = parts(
            Request::builder()
                .header("x-api-key", "k1")
                .header("authorization", "Bearer k1")
                .body(())
                .unwrap(),
        );
        assert_eq!(presented_key(&s, &same), Ok(Some("k1")));
        let different = parts(
            Request::builder()
                .header("x-api-key", "k1")
                .header("x-api-key", "k2")
                .body(())
                .unwrap(),
        );
        assert_eq!(presented_key(&s, &different), Err(RejectionKind::Ambiguous));
    }

    #[test]
    fn other_schemes_and_cookies_with_any_bytes_do_not_spoil_a_key() {
        let digest = HeaderValue::from_bytes("Digest username=\"é\"".as_bytes()).unwrap();
        let other_cookie =
            HeaderValue::from_bytes("theme=bleu-fonc\u{e9}; api_key=k1".as_bytes()).unwrap();
        let mut request = Request::builder()
            .header("x-api-key", "k1")
            .body(())
            .unwrap();
        request.headers_mut().insert(AUTHORIZATION, digest);
        request.headers_mut().insert(COOKIE, other_cookie);
        assert_eq!(
            presented_key(&all_sources(), &parts(request)),
            Ok(Some("k1"))
        );
        let mut bearer = Request::builder().body(()).unwrap();
        bearer.headers_mut().insert(
            AUTHORIZATION,
            HeaderValue::from_bytes("Bearer k\u{e9}y".as_bytes()).unwrap(),
        );
        assert_eq!(
            presented_key(&all_sources(), &parts(bearer)),
            Err(RejectionKind::Invalid),
            "a bearer token that is not text is a bad key, not no key"
        );
    }

    #[test]
    fn disabled_sources_and_other_schemes_are_ignored() {
        let s = Sources {
            header: None,
            bearer: false,
            query: None,
            cookie: None,
        };
        let p = parts(
            Request::builder()
                .uri("/?api_key=k1")
                .header("x-api-key", "k1")
                .header("authorization", "Bearer k1")
                .body(())
                .unwrap(),
        );
        assert_eq!(presented_key(&s, &p), Ok(None));
        let basic = parts(
            Request::builder()
                .header("authorization", "Basic dTpw")
                .body(())
                .unwrap(),
        );
        assert_eq!(presented_key(&all_sources(), &basic), Ok(None));
        let empty = parts(
            Request::builder()
                .header("x-api-key", "  ")
                .header("authorization", "Bearer")
                .body(())
                .unwrap(),
        );
        assert_eq!(presented_key(&all_sources(), &empty), Ok(None));
    }
}
