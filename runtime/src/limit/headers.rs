//! Rate-limit headers on admitted responses of `#[require_api_key]` handlers. An extractor cannot
//! touch the response, so the layer opens a slot for the time its request is handled, the guard
//! fills it, and the layer copies what it holds onto the response.
//!
//! The slot is a tokio task-local rather than a request extension: an extension costs an
//! allocation for the slot, another for its entry and often a rehash of the extensions map, on
//! every request of every route, where the task-local costs two swaps of a thread-local per poll.
//! The guard runs inside the router's future, which the layer polls, so the slot it fills is the
//! one of its own request.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;

use super::RateLimitStatus;
use crate::gate::KeyGate;

tokio::task_local! {
    /// Where the guard leaves the status of an admitted, limited request.
    static SLOT: Cell<Option<RateLimitStatus>>;
}

/// Leaves `status` for the [`RateLimitHeaders`] layer around the request being handled, if
/// there is one.
pub(crate) fn fill_slot(status: RateLimitStatus) {
    // No layer around this request: its response carries no headers, as documented.
    let _ = SLOT.try_with(|slot| slot.set(Some(status)));
}

/// Adds `RateLimit-Policy` and `RateLimit` to the admitted responses of limited keys, for routes
/// whose key is checked by `#[require_api_key]` or the [`ApiKey`](crate::ApiKey) extractor. Make
/// it with [`KeyGate::rate_limit_headers`] and add it with [`Router::layer`](axum::Router::layer).
///
/// Refusals (`429`) always carry the headers, with or without this layer; routes protected by
/// [`KeyGate::route_layer`] get them on admitted responses too, without it.
///
/// ```
/// use axum::{Router, routing::get};
/// use keygate::{KeyGate, require_api_key};
///
/// #[require_api_key]
/// async fn items() -> &'static str {
///     "[]"
/// }
///
/// let gate = KeyGate::builder().default_rate_limit("100/min".parse().unwrap()).build();
/// let app: Router = Router::new()
///     .route("/items", get(items))
///     .layer(gate.rate_limit_headers())
///     .with_state(gate);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimitHeadersLayer {
    _private: (),
}

impl KeyGate {
    /// A [`RateLimitHeadersLayer`]: rate-limit headers on admitted responses.
    pub fn rate_limit_headers(&self) -> RateLimitHeadersLayer {
        RateLimitHeadersLayer { _private: () }
    }
}

impl<S> Layer<S> for RateLimitHeadersLayer {
    type Service = RateLimitHeaders<S>;

    fn layer(&self, inner: S) -> RateLimitHeaders<S> {
        RateLimitHeaders { inner }
    }
}

/// The service [`RateLimitHeadersLayer`] wraps around a router.
#[derive(Debug, Clone)]
pub struct RateLimitHeaders<S> {
    inner: S,
}

impl<S> Service<Request> for RateLimitHeaders<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RateLimitHeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        RateLimitHeadersFuture {
            inner: SLOT.scope(Cell::new(None), self.inner.call(request)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RateLimitHeaders`]: the inner one, then the headers. A plain
    /// future rather than a boxed one, since it runs for every request of the router.
    pub struct RateLimitHeadersFuture<F> {
        #[pin]
        inner: TaskLocalFuture<Cell<Option<RateLimitStatus>>, F>,
    }
}

impl<F> Future for RateLimitHeadersFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.project().inner;
        let mut response = ready!(inner.as_mut().poll(cx))?;
        if let Some(status) = inner.take_value().and_then(|slot| slot.take()) {
            insert_rate_limit_headers(response.headers_mut(), &status);
        }
        Poll::Ready(Ok(response))
    }
}

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Sets the draft's two headers for `status`: the policy (`q` requests per `w` seconds) and where
/// the key stands (`r` remaining, `t` seconds until its budget is whole). They name the policy
/// `default` and carry no partition key: nothing derived from the key is sent back.
pub(crate) fn insert_rate_limit_headers(headers: &mut HeaderMap, status: &RateLimitStatus) {
    let limit = status.limit();
    let quota = (limit.requests(), limit.period().as_secs());
    // A gate's keys share a few limits, so each thread keeps the policy value of the last one:
    // a clone of it is a reference count, where rendering it is an allocation and a validation.
    let policy = LAST_POLICY.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((held, value)) if *held == quota => Some(value.clone()),
            _ => {
                let value =
                    HeaderValue::from_maybe_shared(parameters(b"q", quota.0.into(), b"w", quota.1))
                        .ok()?;
                *last = Some((quota, value.clone()));
                Some(value)
            }
        }
    });
    let state = parameters(b"r", status.remaining(), b"t", status.reset_seconds());
    // Digits, quotes, `;` and `=` only: always a valid header value.
    if let (Some(policy), Ok(state)) = (policy, HeaderValue::from_maybe_shared(state)) {
        headers.insert(RATELIMIT_POLICY.clone(), policy);
        headers.insert(RATELIMIT.clone(), state);
    }
}

thread_local! {
    /// The last `RateLimit-Policy` value rendered on this thread, with its quota.
    static LAST_POLICY: std::cell::RefCell<Option<((u32, u64), HeaderValue)>> =
        const { std::cell::RefCell::new(None) };
}

/// `"default";<a>=<x>;<b>=<y>`, written straight into the bytes the header value keeps: one
/// allocation and no formatting machinery, on the path of every admitted request of a limited key.
fn parameters(a: &[u8], x: u64, b: &[u8], y: u64) -> axum::body::Bytes {
    let mut digits = itoa::Buffer::new();
    let mut text = Vec::with_capacity(48);
    text.extend_from_slice(b"\"default\";");
    text.extend_from_slice(a);
    text.push(b'=');
    text.extend_from_slice(digits.format(x).as_bytes());
    text.push(b';');
    text.extend_from_slice(b);
    text.push(b'=');
    text.extend_from_slice(digits.format(y).as_bytes());
    text.into()
}
