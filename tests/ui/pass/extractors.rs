// State, Path, Query and a Json body (last) behind the guard.
use std::collections::HashMap;

use axum::extract::{FromRef, Path, Query, State};
use axum::routing::post;
use axum::{Json, Router};
use keygate::{KeyGate, require_api_key};
use serde::Deserialize;

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
    name: String,
}

#[derive(Deserialize)]
struct Page {
    limit: u32,
}

#[require_api_key(scopes = ["items:write", "items:read"])]
async fn update_item(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    Query(page): Query<Page>,
    Json(body): Json<HashMap<String, String>>,
) -> Json<(String, u64, u32, usize)> {
    Json((state.name, id, page.limit, body.len()))
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/items/{id}", post(update_item))
        .with_state(state)
}

fn main() {
    let _ = app;
}
