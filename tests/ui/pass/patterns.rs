// `mut` and destructured arguments keep their patterns, first or not.
#![deny(unused_mut, unused_variables)]

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
    counter: u64,
}

#[require_api_key]
async fn first_mut(mut body: String) -> String {
    body.push('!');
    body
}

#[require_api_key]
async fn first_destructured(
    State(AppState { counter, .. }): State<AppState>,
    Path((a, mut b)): Path<(u64, String)>,
) -> String {
    b.push_str(&a.to_string());
    format!("{counter}{b}")
}

#[require_api_key]
async fn first_mut_tuple_struct(State(mut state): State<AppState>) -> String {
    state.counter += 1;
    state.counter.to_string()
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/a", get(first_mut))
        .route("/b/{a}/{b}", get(first_destructured))
        .route("/c", get(first_mut_tuple_struct))
        .with_state(state)
}

fn main() {
    let _ = app;
}
