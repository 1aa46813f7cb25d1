//! The code `#[require_api_key]` generates is compiled here under strict rustc and clippy lints,
//! so `cargo clippy --all-targets -- -D warnings` checks it the way it checks a user's crate.

#![deny(
    warnings,
    unused_qualifications,
    unused_results,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]

use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::routing::get;
use keygate::{ApiKey, KeyGate, require_api_key};
use serde::Deserialize;

#[derive(Clone, Debug, FromRef)]
struct AppState {
    gate: KeyGate,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Page {
    limit: u32,
}

/// Any valid key, no arguments.
#[require_api_key]
async fn health() -> &'static str {
    "ok"
}

/// One scope; the state is checked at the handler.
#[require_api_key(scopes = "items:read")]
async fn list(State(state): State<AppState>, Query(page): Query<Page>) -> String {
    format!("{} {}", state.name, page.limit)
}

/// Every listed scope, a destructured `mut` argument and the identity.
#[require_api_key(scopes = ["items:read", "items:write"])]
async fn update(Path(mut id): Path<u64>, key: ApiKey, body: String) -> String {
    id += 1;
    format!("{id} {} {body}", key.key_id())
}

/// One of the listed scopes, with the state named.
#[require_api_key(any_scopes = ["admin", "items:write"], state = AppState)]
pub(crate) async fn remove(Path(id): Path<u64>) -> String {
    id.to_string()
}

/// A generic handler.
#[require_api_key(scopes = "items:read")]
async fn generic<S>(State(state): State<S>) -> String
where
    S: Clone + Send + Sync + ToString + 'static,
{
    state.to_string()
}

#[test]
fn protected_handlers_build_a_router() {
    let state = AppState {
        gate: KeyGate::builder().build(),
        name: "items".to_owned(),
    };
    let _router: Router = Router::new()
        .route("/health", get(health))
        .route("/items", get(list))
        .route("/items/{id}", get(update).delete(remove))
        .route("/name", get(generic::<String>))
        .with_state(state);
}
