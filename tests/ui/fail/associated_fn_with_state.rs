use axum::extract::{FromRef, Path, State};
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

struct Items;

impl Items {
    #[require_api_key(scopes = "items:read", state = AppState)]
    async fn get(State(_state): State<AppState>, Path(id): Path<u64>) -> String {
        id.to_string()
    }
}

fn main() {}
