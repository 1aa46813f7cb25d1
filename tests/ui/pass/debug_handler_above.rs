// `#[axum::debug_handler]` written above the attribute checks the handler as the user wrote it;
// the guard is folded into the first argument, so the argument count it checks stays right.
use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[axum::debug_handler]
#[require_api_key(scopes = "items:read")]
async fn with_state(State(_state): State<AppState>, Path(id): Path<u64>) -> String {
    id.to_string()
}

#[axum::debug_handler]
#[require_api_key(any_scopes = ["admin", "items:write"])]
async fn body_only(body: String) -> String {
    body
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/items/{id}", get(with_state))
        .route("/", get(body_only))
        .with_state(state)
}

fn main() {
    let _ = app;
}
