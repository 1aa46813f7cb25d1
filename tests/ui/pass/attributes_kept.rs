// Doc comments, other attributes and visibility survive the rewrite.
#![deny(missing_docs, unused_variables)]
//! Handlers in a module.

mod handlers {
    use keygate::require_api_key;

    /// Lists the items.
    #[require_api_key(scopes = "items:read")]
    #[allow(unused_variables)]
    #[cfg_attr(all(), inline)]
    pub async fn list(body: String) -> &'static str {
        "items"
    }

    /// Counts the items.
    #[require_api_key]
    #[must_use = "a handler's response should be sent"]
    pub(crate) async fn count() -> String {
        0.to_string()
    }
}

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use keygate::KeyGate;

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(handlers::list))
        .route("/count", get(handlers::count))
        .with_state(state)
}

fn main() {
    let _ = app;
}
