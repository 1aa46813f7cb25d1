// A handler without arguments gets the guard as its only argument.
use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key]
async fn health() -> &'static str {
    "ok"
}

#[require_api_key(scopes = "items:read")]
async fn scoped() -> &'static str {
    "ok"
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/scoped", get(scoped))
        .with_state(state)
}

fn main() {
    let _ = app;
}
