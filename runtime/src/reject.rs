//! Rejections and how they are rendered: RFC 9457 `application/problem+json` with a stable
//! `code`, and a `WWW-Authenticate` challenge on every 401.
//!
//! Each problem's `type` is [`PROBLEM_TYPES`]`#<code>`: the repository's page of codes, which
//! says what the headings below say, for the people and programs that receive the problems.
//!
//! ### missing_api_key
//! 401: no key was presented, or an empty one.
//!
//! ### invalid_api_key
//! 401: the key is malformed, its checksum is wrong, its id is unknown or its secret is wrong.
//! These cases share one code on purpose: telling them apart would help someone guessing keys.
//!
//! ### expired_api_key
//! 401: the key was right but has expired. Only said when the secret matched.
//!
//! ### revoked_api_key
//! 401: the key was right but has been revoked. Only said when the secret matched. The decision's
//! log event names the revocation's reason (`revocation = "leaked"`) when it recorded one.
//!
//! ### ambiguous_api_key
//! 401: two different keys were presented in one request (say, in `X-API-Key` and in
//! `Authorization: Bearer`). keygate never guesses which one was meant.
//!
//! ### insufficient_scope
//! 403: the key is valid but lacks the scopes the route requires; `required_scopes` names them.
//!
//! ### https_required
//! 403: the gate requires HTTPS and the key came over plain HTTP (see [`crate::https`]). The key
//! was not looked up; it has been exposed on the network and should be rotated. Retrying with
//! another key over the same connection would not help, so this is not a 401.
//!
//! ### key_store_unavailable
//! 503: the key store could not answer, so no decision could be made. keygate fails closed.
//!
//! ### rate_limited
//! 429: the key is valid and holds the scopes, but is over its rate limit (see [`limit`]).
//! `Retry-After` says in how many seconds the next request would be admitted, `retry_after` in
//! the body says the same, and `RateLimit-Policy` / `RateLimit` describe the limit and where the
//! key stands against it.
//!
//! ### rate_limiter_unavailable
//! 503: the rate limiter's server (Redis) could not answer and the limiter was configured to
//! fail closed ([`FailMode::Closed`](crate::limit::FailMode::Closed)).
//!
//! [`limit`]: crate::limit

use std::fmt;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::limit::RateLimitStatus;
use crate::limit::insert_rate_limit_headers;
use crate::scope::ScopeMatch;

/// Where problem `type`s point: the repository's `docs/problems.md`, one heading per code. A
/// problem's `type` is this with `#` and its code, such as `…/docs/problems.md#invalid_api_key`.
///
/// ```
/// assert!(keygate::reject::PROBLEM_TYPES.starts_with("https://github.com/"));
/// ```
pub const PROBLEM_TYPES: &str =
    concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/problems.md");

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No key, or an empty one.
    Missing,
    /// Malformed, bad checksum, unknown id or wrong secret.
    Invalid,
    /// The secret matched but the key has expired.
    Expired,
    /// The secret matched but the key was revoked.
    Revoked,
    /// Two different keys in one request.
    Ambiguous,
    /// A valid key without the required scopes.
    InsufficientScope {
        /// The scopes the route requires.
        required: Vec<String>,
        /// Whether all or any of them were needed.
        mode: ScopeMatch,
    },
    /// The key store could not answer.
    StoreUnavailable,
    /// The gate requires HTTPS and the key came over plain HTTP.
    HttpsRequired,
    /// A valid key over its rate limit.
    RateLimited(RateLimitStatus),
    /// The rate limiter could not answer, and fails closed.
    RateLimiterUnavailable,
}

impl RejectionKind {
    /// The stable machine-readable code, such as `invalid_api_key`.
    pub fn code(&self) -> &'static str {
        match self {
            RejectionKind::Missing => "missing_api_key",
            RejectionKind::Invalid => "invalid_api_key",
            RejectionKind::Expired => "expired_api_key",
            RejectionKind::Revoked => "revoked_api_key",
            RejectionKind::Ambiguous => "ambiguous_api_key",
            RejectionKind::InsufficientScope { .. } => "insufficient_scope",
            RejectionKind::StoreUnavailable => "key_store_unavailable",
            RejectionKind::HttpsRequired => "https_required",
            RejectionKind::RateLimited(_) => "rate_limited",
            RejectionKind::RateLimiterUnavailable => "rate_limiter_unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            RejectionKind::InsufficientScope { .. } | RejectionKind::HttpsRequired => {
                StatusCode::FORBIDDEN
            }
            RejectionKind::StoreUnavailable | RejectionKind::RateLimiterUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            RejectionKind::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short, fixed summary.
    pub fn title(&self) -> &'static str {
        match self {
            RejectionKind::Missing => "API key required",
            RejectionKind::Invalid => "Invalid API key",
            RejectionKind::Expired => "API key expired",
            RejectionKind::Revoked => "API key revoked",
            RejectionKind::Ambiguous => "More than one API key",
            RejectionKind::InsufficientScope { .. } => "Insufficient scope",
            RejectionKind::StoreUnavailable => "Key store unavailable",
            RejectionKind::HttpsRequired => "HTTPS required",
            RejectionKind::RateLimited(_) => "Rate limit exceeded",
            RejectionKind::RateLimiterUnavailable => "Rate limiter unavailable",
        }
    }

    /// An explanation for the client. Never contains the presented key.
    pub fn detail(&self) -> String {
        match self {
            RejectionKind::Missing => "This endpoint requires an API key.".to_owned(),
            RejectionKind::Invalid => "The API key is not valid.".to_owned(),
            RejectionKind::Expired => "The API key has expired.".to_owned(),
            RejectionKind::Revoked => "The API key has been revoked.".to_owned(),
            RejectionKind::Ambiguous => {
                "The request presents more than one different API key; send exactly one.".to_owned()
            }
            RejectionKind::InsufficientScope { required, mode } => {
                let list = required.join(", ");
                match mode {
                    ScopeMatch::All => format!("The API key lacks a required scope: {list}."),
                    ScopeMatch::Any => format!("The API key needs one of these scopes: {list}."),
                }
            }
            RejectionKind::StoreUnavailable => {
                "The API key could not be checked right now; try again later.".to_owned()
            }
            RejectionKind::HttpsRequired => "API keys are accepted over HTTPS only. This key was \
                 sent unencrypted; treat it as exposed and rotate it."
                .to_owned(),
            RejectionKind::RateLimited(status) => format!(
                "The API key is over its rate limit of {}; retry in {} s.",
                status.limit(),
                status.retry_after_seconds()
            ),
            RejectionKind::RateLimiterUnavailable => {
                "The API key's rate limit could not be checked right now; try again later."
                    .to_owned()
            }
        }
    }
}

/// The RFC 9457 problem document for `kind`.
fn problem_of(kind: &RejectionKind) -> serde_json::Value {
    let code = kind.code();
    let mut problem = serde_json::json!({
        "type": format!("{PROBLEM_TYPES}#{code}"),
        "title": kind.title(),
        "status": kind.status().as_u16(),
        "detail": kind.detail(),
        "code": code,
    });
    if let RejectionKind::InsufficientScope { required, mode } = kind {
        problem["required_scopes"] = serde_json::json!(required);
        problem["scope_match"] = serde_json::json!(mode);
    }
    if let RejectionKind::RateLimited(status) = kind {
        problem["retry_after"] = serde_json::json!(status.retry_after_seconds());
    }
    problem
}

/// The problem body of a rejection that carries nothing of its own (everything but
/// `insufficient_scope` and `rate_limited`), rendered at first use and shared after.
fn fixed_body(kind: &RejectionKind) -> Option<Bytes> {
    const FIXED: [RejectionKind; 8] = [
        RejectionKind::Missing,
        RejectionKind::Invalid,
        RejectionKind::Expired,
        RejectionKind::Revoked,
        RejectionKind::Ambiguous,
        RejectionKind::StoreUnavailable,
        RejectionKind::HttpsRequired,
        RejectionKind::RateLimiterUnavailable,
    ];
    static BODIES: OnceLock<Vec<Bytes>> = OnceLock::new();
    let index = FIXED.iter().position(|fixed| fixed == kind)?;
    let bodies = BODIES.get_or_init(|| {
        FIXED
            .iter()
            .map(|kind| Bytes::from(problem_of(kind).to_string()))
            .collect()
    });
    bodies.get(index).cloned()
}

/// A function that renders rejections, set once with
/// [`KeyGateBuilder::render_rejection`](crate::KeyGateBuilder::render_rejection).
pub(crate) type RenderFn = dyn Fn(&Rejection) -> Response + Send + Sync + 'static;

/// What every rejection needs to render itself: the challenges and the application's hook.
pub(crate) struct Rendering {
    pub(crate) challenges: Vec<HeaderValue>,
    pub(crate) hook: Option<Box<RenderFn>>,
}

impl fmt::Debug for Rendering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendering")
            .field("challenges", &self.challenges)
            .field("hook", &self.hook.as_ref().map(|_| "Fn"))
            .finish()
    }
}

/// A request that was not admitted. Converts into the response the client gets.
///
/// The response is `application/problem+json` unless the application set a rendering hook; either
/// way its status is the rejection's and a 401 carries the `WWW-Authenticate` challenges, so a
/// hook changes the look of a rejection, never whether the request was admitted.
#[derive(Clone)]
pub struct Rejection {
    kind: RejectionKind,
    rendering: Arc<Rendering>,
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind.title(), self.kind.code())
    }
}

impl std::error::Error for Rejection {}

impl Rejection {
    pub(crate) fn new(kind: RejectionKind, rendering: Arc<Rendering>) -> Self {
        Rejection { kind, rendering }
    }

    /// Why the request was rejected.
    pub fn kind(&self) -> &RejectionKind {
        &self.kind
    }

    /// The stable code, such as `missing_api_key`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The scopes the route required, for `insufficient_scope`; empty otherwise.
    pub fn required_scopes(&self) -> &[String] {
        match &self.kind {
            RejectionKind::InsufficientScope { required, .. } => required,
            _ => &[],
        }
    }

    /// The RFC 9457 problem document keygate sends by default.
    ///
    /// ```
    /// # use keygate::{KeyGate, MemoryStore};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let gate = KeyGate::builder().prefix("demo").store(MemoryStore::new()).build();
    /// let rejection = gate.verify("").await.unwrap_err();
    /// let problem = rejection.problem();
    /// assert_eq!(problem["status"], 401);
    /// assert_eq!(problem["code"], "missing_api_key");
    /// # }
    /// ```
    pub fn problem(&self) -> serde_json::Value {
        problem_of(&self.kind)
    }

    fn default_response(&self) -> Response {
        // Most rejections say the same thing every time: their bodies are rendered once per
        // process and shared. That is the path a flood of bad keys takes.
        let body = match fixed_body(&self.kind) {
            Some(body) => body,
            None => Bytes::from(self.problem().to_string()),
        };
        // Built directly rather than through `(headers, body).into_response()`, which would set
        // `application/octet-stream` first and then replace it: one header insert, not two.
        let mut response = Response::new(Body::from(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = match &self.rendering.hook {
            Some(hook) => hook(&self),
            None => self.default_response(),
        };
        *response.status_mut() = self.status();
        if self.status() == StatusCode::UNAUTHORIZED {
            let headers = response.headers_mut();
            // Only a hook's response can hold challenges of its own; the default has none.
            if self.rendering.hook.is_some() {
                headers.remove(header::WWW_AUTHENTICATE);
            }
            for challenge in &self.rendering.challenges {
                headers.append(header::WWW_AUTHENTICATE, challenge.clone());
            }
        }
        if let RejectionKind::RateLimited(status) = &self.kind {
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, status.retry_after_seconds().into());
            insert_rate_limit_headers(headers, status);
        }
        response
    }
}
