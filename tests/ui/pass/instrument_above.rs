// `#[tracing::instrument]` above the attribute instruments the handler as written.
use axum::Router;
use axum::extract::{FromRef, Path};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[tracing::instrument]
#[require_api_key(scopes = "items:read")]
async fn get_item(Path(id): Path<u64>) -> String {
    tracing::info!(id, "reading");
    id.to_string()
}

#[tracing::instrument(skip_all)]
#[require_api_key]
async fn no_arguments() -> &'static str {
    "ok"
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/items/{id}", get(get_item))
        .route("/", get(no_arguments))
        .with_state(state)
}

fn main() {
    let _ = app;
}
