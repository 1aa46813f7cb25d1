// `#[axum::debug_handler]` written below the attribute checks the rewritten handler, guard
// included. A bare one is told the state from a `State<AppState>` argument or `state = AppState`;
// otherwise it needs `state = AppState` itself.
use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key(scopes = "items:read")]
#[axum::debug_handler]
async fn with_state(State(_state): State<AppState>, Path(id): Path<u64>) -> String {
    id.to_string()
}

#[require_api_key]
#[axum::debug_handler(state = AppState)]
async fn without_arguments() -> &'static str {
    "ok"
}

#[require_api_key(scopes = "items:read")]
#[axum::debug_handler(state = AppState)]
async fn without_state(Path(id): Path<u64>) -> String {
    id.to_string()
}

#[require_api_key(scopes = "items:read", state = AppState)]
#[axum::debug_handler]
async fn state_named(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/items/{id}", get(with_state))
        .route("/", get(without_arguments))
        .route("/other/{id}", get(without_state))
        .route("/named/{id}", get(state_named))
        .with_state(state)
}

fn main() {
    let _ = app;
}
