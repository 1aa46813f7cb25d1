//! Writing pages: escaping, the layout every page shares, error pages, and the headers every
//! answer carries.

use std::fmt::{self, Write as _};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::KeyError;

/// Text made safe for HTML element content and quoted attribute values.
pub(crate) struct Esc<'a>(pub(crate) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// Where the console is mounted, for links and redirects.
#[derive(Debug, Clone)]
pub(crate) struct Base(pub(crate) String);

impl Base {
    /// The address of a console page: `rest` is empty for the key list, else starts with `/`.
    pub(crate) fn url(&self, rest: &str) -> String {
        if self.0.is_empty() && rest.is_empty() {
            "/".to_owned()
        } else {
            format!("{}{rest}", self.0)
        }
    }

    /// The path the console's cookies are sent to.
    pub(crate) fn cookie_path(&self) -> &str {
        if self.0.is_empty() { "/" } else { &self.0 }
    }

    /// Reads the prefix the console is nested at; at the root there is none.
    pub(crate) fn of(parts: &axum::http::request::Parts) -> Base {
        let nested = parts
            .extensions
            .get::<axum::extract::NestedPath>()
            .map(|path| path.as_str().trim_end_matches('/').to_owned());
        Base(nested.unwrap_or_default())
    }
}

/// Who is signed in, for the page header: the session's owner, the signing key, and what a
/// form needs to be accepted.
pub(crate) struct Header<'a> {
    pub(crate) owner: &'a str,
    pub(crate) signed_in_with: &'a str,
    pub(crate) csrf: &'a str,
}

/// A page in the console's layout. `script` adds the copy button's script.
pub(crate) fn page(
    base: &Base,
    title: &str,
    header: Option<&Header<'_>>,
    body: &str,
    script: bool,
) -> String {
    let mut html = String::with_capacity(body.len() + 1024);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · keygate console</title>\
         <link rel=\"stylesheet\" href=\"{}\">",
        Esc(title),
        Esc(&base.url("/console.css")),
    );
    if script {
        let _ = write!(
            html,
            "<script src=\"{}\" defer></script>",
            Esc(&base.url("/console.js"))
        );
    }
    html.push_str("</head><body><header><strong>keygate console</strong>");
    if let Some(header) = header {
        let _ = write!(
            html,
            "<nav><a href=\"{}\">Keys</a> <a href=\"{}\">New key</a> <a href=\"{}\">Audit</a></nav>\
             <form method=\"post\" action=\"{}\" class=\"who\">\
             <span>{} <small>(key {})</small></span>{}\
             <button type=\"submit\">Sign out</button></form>",
            Esc(&base.url("")),
            Esc(&base.url("/new")),
            Esc(&base.url("/audit")),
            Esc(&base.url("/sign-out")),
            Esc(header.owner),
            Esc(header.signed_in_with),
            csrf_field(header.csrf),
        );
    }
    let _ = writeln!(
        html,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        Esc(title)
    );
    html
}

/// The hidden field carrying a form's CSRF token.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        Esc(token)
    )
}

/// An HTML answer.
pub(crate) fn respond(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// A page saying what went wrong, with a way back.
pub(crate) fn problem(base: &Base, status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<p class=\"problem\">{}</p><p><a href=\"{}\">Back to the keys</a></p>",
        Esc(detail),
        Esc(&base.url(""))
    );
    respond(status, page(base, title, None, &body, false))
}

/// The answer to a lifecycle error: what the person asked for cannot be done, and why.
pub(crate) fn key_error(base: &Base, error: &KeyError) -> Response {
    let (status, title) = match error {
        KeyError::NotFound(_) => (StatusCode::NOT_FOUND, "No such key"),
        KeyError::Revoked(_)
        | KeyError::Rotated(_)
        | KeyError::Expired(_)
        | KeyError::Conflict(_) => (StatusCode::CONFLICT, "Nothing was changed"),
        KeyError::Store(store) => {
            tracing::error!(target: "keygate", error = %store, "console: the key store failed");
            return problem(
                base,
                StatusCode::SERVICE_UNAVAILABLE,
                "The key store cannot answer",
                "The key store did not answer; nothing was changed. Try again shortly.",
            );
        }
        KeyError::Random(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Nothing was changed"),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, "Nothing was changed"),
    };
    problem(base, status, title, &error.to_string())
}

/// Unknown console addresses.
pub(crate) async fn not_found(parts: axum::http::request::Parts) -> Response {
    let base = Base::of(&parts);
    problem(
        &base,
        StatusCode::NOT_FOUND,
        "Not found",
        "The console has no such page.",
    )
}

/// The headers every console answer carries: never cached, never framed, no referrer, and
/// nothing run or loaded but the console's own stylesheet and script.
pub(crate) async fn protect(mut response: Response) -> Response {
    let headers: &mut HeaderMap = response.headers_mut();
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A moment as a person reads it, to the minute, in UTC.
pub(crate) fn when(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// [`when`], or `never` / the given word for no moment.
pub(crate) fn when_or(at: Option<OffsetDateTime>, none: &str) -> String {
    at.map_or_else(|| none.to_owned(), when)
}

/// The fields of a submitted form or a query string, in order; a name may repeat.
pub(crate) struct Fields(pub(crate) Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Every non-blank value of `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(field, _)| field == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        let text = Esc("<script>alert(\"x\" & 'y')</script>").to_string();
        assert_eq!(
            text,
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(Esc("plain ünïcode").to_string(), "plain ünïcode");
    }

    #[test]
    fn links_follow_the_prefix() {
        assert_eq!(Base(String::new()).url(""), "/");
        assert_eq!(Base(String::new()).url("/new"), "/new");
        assert_eq!(Base("/admin/console".into()).url(""), "/admin/console");
        assert_eq!(
            Base("/admin/console".into()).url("/new"),
            "/admin/console/new"
        );
    }
}
