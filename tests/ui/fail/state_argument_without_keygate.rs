use axum::Router;
use axum::routing::get;
use keygate::require_api_key;

#[derive(Clone)]
struct AppState {
    name: String,
}

#[require_api_key(scopes = "items:read", state = AppState)]
async fn list_items() -> &'static str {
    "items"
}

fn main() {
    let _: Router = Router::new()
        .route("/items", get(list_items))
        .with_state(AppState { name: String::new() });
}
