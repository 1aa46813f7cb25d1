//! Router-wide protection.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::gate::KeyGate;
use crate::limit::insert_rate_limit_headers;
use crate::scope::Requirement;
use crate::store::BoxFuture;

/// A layer that admits only requests with a valid key, to every route of a router. Make it with
/// [`KeyGate::route_layer`] and add it with [`Router::route_layer`](axum::Router::route_layer), so
/// unknown paths still answer 404 rather than 401.
///
/// The verified [`ApiKey`](crate::ApiKey) goes into the request extensions: handlers with
/// `#[require_api_key(scopes = ...)]` then only check scopes, without verifying the key again.
///
/// The layer spends the key's rate limit (see [`limit`](crate::limit)) and adds the rate-limit
/// headers to admitted responses of limited keys. It checks no scope, so behind it a request
/// that a handler then refuses for its scopes has already spent one request of the budget.
///
/// ```
/// use axum::{Router, routing::get};
/// use keygate::{ApiKey, KeyGate};
///
/// async fn whoami(key: ApiKey) -> String {
///     key.name().to_owned()
/// }
///
/// let gate = KeyGate::builder().build();
/// let app: Router = Router::new()
///     .route("/whoami", get(whoami))
///     .route_layer(gate.route_layer())
///     .with_state(gate);
/// ```
#[derive(Debug, Clone)]
pub struct RequireKeyLayer {
    gate: KeyGate,
}

impl KeyGate {
    /// A [`RequireKeyLayer`] for this gate.
    pub fn route_layer(&self) -> RequireKeyLayer {
        RequireKeyLayer { gate: self.clone() }
    }
}

impl<S> Layer<S> for RequireKeyLayer {
    type Service = RequireKey<S>;

    fn layer(&self, inner: S) -> RequireKey<S> {
        RequireKey {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The service [`RequireKeyLayer`] wraps around a route.
#[derive(Debug, Clone)]
pub struct RequireKey<S> {
    inner: S,
    gate: KeyGate,
}

impl<S> Service<Request> for RequireKey<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone is the one that was not polled ready; keep the ready one for this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let status = match gate.admit_with_status(&mut parts, Requirement::NONE).await {
                Ok((_, status)) => status,
                Err(rejection) => return Ok(rejection.into_response()),
            };
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(status) = status {
                insert_rate_limit_headers(response.headers_mut(), &status);
            }
            Ok(response)
        })
    }
}
