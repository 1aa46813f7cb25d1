// The state named by `#[debug_handler(state = …)]` below the attribute is read, so keygate's own
// check says what the state lacks, first (axum's error on the guard's tuple follows it).
use axum::extract::Path;
use keygate::require_api_key;

#[derive(Clone)]
struct AppState {
    name: String,
}

#[require_api_key(scopes = "items:read")]
#[axum::debug_handler(state = AppState)]
async fn show_item(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}
