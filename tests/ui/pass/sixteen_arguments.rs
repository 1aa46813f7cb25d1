// axum allows 16 arguments; the guard is folded into the first, so 16 stay 16.
use axum::Router;
use axum::extract::{FromRef, RawQuery, State};
use axum::http::{HeaderMap, Method, Uri, Version};
use axum::routing::get;
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key(scopes = "items:read")]
#[allow(clippy::too_many_arguments)]
async fn sixteen(
    _a1: State<AppState>,
    _a2: Method,
    _a3: Uri,
    _a4: Version,
    _a5: HeaderMap,
    _a6: RawQuery,
    _a7: Method,
    _a8: Uri,
    _a9: Version,
    _a10: HeaderMap,
    _a11: RawQuery,
    _a12: Method,
    _a13: Uri,
    _a14: Version,
    _a15: HeaderMap,
    _a16: String,
) -> &'static str {
    "ok"
}

fn app(state: AppState) -> Router {
    Router::new().route("/", get(sixteen)).with_state(state)
}

fn main() {
    let _ = app;
}
