// `any_scopes`: one of the listed scopes is enough.
use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key(any_scopes = ["admin", "reports:read"])]
async fn report() -> &'static str {
    "report"
}

#[require_api_key(any_scopes = "admin")]
async fn single() -> &'static str {
    "admin"
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/report", get(report))
        .route("/single", get(single))
        .with_state(state)
}

fn main() {
    let _ = app;
}
