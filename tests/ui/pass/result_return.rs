// A `Result` return type, with `?` in the body.
use axum::Router;
use axum::extract::{FromRef, Path};
use axum::http::StatusCode;
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key(scopes = "items:read")]
async fn get_item(Path(id): Path<String>) -> Result<String, StatusCode> {
    let id: u64 = id.parse().map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(id.to_string())
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/items/{id}", get(get_item))
        .with_state(state)
}

fn main() {
    let _ = app;
}
