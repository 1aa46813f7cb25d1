//! Rate-limit headers on admitted responses of `#[require_api_key]` handlers. An extractor cannot
//! touch the response, so a layer leaves a slot in the request that the guard fills, and copies
//! what it holds onto the response.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::Response;
use tower_layer::Layer;
use tower_service::Service;

use super::RateLimitStatus;
use crate::gate::KeyGate;
use crate::reject::insert_rate_limit_headers;

/// Where the guard leaves the status of an admitted, limited request.
#[derive(Clone, Default)]
pub(crate) struct HeaderSlot(Arc<Mutex<Option<RateLimitStatus>>>);

impl HeaderSlot {
    pub(crate) fn fill(&self, status: RateLimitStatus) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
    }

    fn take(&self) -> Option<RateLimitStatus> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
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

    fn call(&mut self, mut request: Request) -> Self::Future {
        let slot = HeaderSlot::default();
        request.extensions_mut().insert(slot.clone());
        RateLimitHeadersFuture {
            inner: self.inner.call(request),
            slot,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RateLimitHeaders`]: the inner one, then the headers. A plain
    /// future rather than a boxed one, since it runs for every request of the router.
    pub struct RateLimitHeadersFuture<F> {
        #[pin]
        inner: F,
        slot: HeaderSlot,
    }
}

impl<F> Future for RateLimitHeadersFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(status) = this.slot.take() {
            insert_rate_limit_headers(response.headers_mut(), &status);
        }
        Poll::Ready(Ok(response))
    }
}
