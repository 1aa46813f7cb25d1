use axum::Router;
use axum::extract::State;
use axum::routing::get;
use keygate::require_api_key;

#[derive(Clone)]
struct AppState {
    name: String,
}

#[require_api_key(scopes = "items:read")]
async fn list_items(State(state): State<AppState>) -> String {
    state.name
}

fn main() {
    let _: Router = Router::new()
        .route("/items", get(list_items))
        .with_state(AppState { name: String::new() });
}
