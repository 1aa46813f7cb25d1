// Without the attribute, `Option<ApiKey>` admits anonymous requests and names keyed ones.
use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use keygate::{ApiKey, KeyGate};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

async fn greeting(key: Option<ApiKey>) -> String {
    match key {
        Some(key) => format!("hello, {}", key.name()),
        None => "hello, stranger".to_owned(),
    }
}

fn app(state: AppState) -> Router {
    Router::new().route("/", get(greeting)).with_state(state)
}

fn main() {
    let _ = app;
}
