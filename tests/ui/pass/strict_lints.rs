// The generated code passes strict lints in the user's crate.
#![deny(warnings, unused_qualifications, unused_results, unused_extern_crates)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub, unsafe_code)]
#![deny(non_camel_case_types, non_snake_case, non_upper_case_globals)]
//! A service with strict lints.

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

/// The router state.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    gate: KeyGate,
}

/// Any valid key.
#[require_api_key]
pub async fn open() -> &'static str {
    "open"
}

/// One scope, with the state argument.
#[require_api_key(scopes = "items:read")]
pub async fn read(State(_state): State<AppState>, Path(id): Path<u64>) -> String {
    id.to_string()
}

/// One of two scopes, with the state named.
#[require_api_key(any_scopes = ["admin", "items:write"], state = AppState)]
pub async fn write(body: String) -> String {
    body
}

/// The routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(open))
        .route("/items/{id}", get(read).post(write))
        .with_state(state)
}

fn main() {
    let _ = app;
}
