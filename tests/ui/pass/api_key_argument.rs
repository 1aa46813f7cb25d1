// The verified identity, taken as `ApiKey` after other arguments, is the one the guard admitted.
use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::get;
use keygate::{ApiKey, KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
    motd: String,
}

#[require_api_key(scopes = "items:read")]
async fn whoami(State(state): State<AppState>, key: ApiKey) -> String {
    format!("{} {}", state.motd, key.key_id())
}

fn app(state: AppState) -> Router {
    Router::new().route("/whoami", get(whoami)).with_state(state)
}

fn main() {
    let _ = app;
}
