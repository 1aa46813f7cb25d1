// A handler that extracts a sub-state (`State<Db>`, where the router state is `AppState`) is
// checked against `Db`: the error says to name the router state.
use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone)]
struct Db;

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
    db: Db,
}

#[require_api_key(scopes = "items:read")]
async fn list_items(State(_db): State<Db>) -> &'static str {
    "[]"
}

fn main() {
    let _ = |state: AppState| -> Router {
        Router::new()
            .route("/items", get(list_items))
            .with_state(state)
    };
}
