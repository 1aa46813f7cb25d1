// `impl IntoResponse` stays the return type.
use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::delete;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key(scopes = "items:delete")]
async fn delete_item() -> impl IntoResponse {
    (StatusCode::NO_CONTENT, "")
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/items", delete(delete_item))
        .with_state(state)
}

fn main() {
    let _ = app;
}
