// tests/items.rs: a protected route tested through the router, with a real key.

use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode};
use axum::{Router, routing::get};
use keygate::{KeyGate, require_api_key};
use tower::ServiceExt; // oneshot: one request through the router, no socket

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key(scopes = "items:read")]
async fn list_items() -> &'static str {
    "apple"
}

fn app(gate: KeyGate) -> Router {
    Router::new()
        .route("/items", get(list_items))
        .with_state(AppState { gate })
}

#[tokio::test]
async fn a_read_key_lists_items_and_other_keys_are_refused() {
    let gate = KeyGate::builder().build();
    let reader = gate.mint_test_key(["items:read"]).await;
    let writer = gate.mint_test_key(["items:write"]).await;

    let get = |key: Option<&str>| {
        let mut request = Request::get("/items");
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        app(gate.clone()).oneshot(request.body(Body::empty()).unwrap())
    };
    assert_eq!(get(Some(&reader)).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        get(Some(&writer)).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
