// A sync handler that is routed gets keygate's error, and no `Handler` error from axum after it.
use axum::Router;
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[require_api_key]
fn list_items() -> &'static str {
    "items"
}

#[require_api_key]
const fn health() -> &'static str {
    "ok"
}

fn main() {
    let _ = |gate: KeyGate| -> Router {
        Router::new()
            .route("/items", get(list_items))
            .route("/health", get(health))
            .with_state(gate)
    };
}
