//! The route layer on a router of one's own: it guards every route, keeps 404s, and shares one
//! verification with the attribute and the `ApiKey` extractor.

use axum::Router;
use axum::routing::get;
use keygate::{ApiKey, MemoryStore, require_api_key};
use reqwest::StatusCode;

use crate::sql_support::Probe;
use crate::support::{Service, gate_builder};

#[require_api_key(scopes = "items:read")]
async fn layered_items(key: ApiKey) -> String {
    key.name().to_owned()
}

async fn layered_open(key: ApiKey) -> String {
    key.name().to_owned()
}

#[tokio::test]
async fn route_layer_protects_every_route_and_the_attribute_reuses_its_identity() {
    let store = Probe::new(MemoryStore::new());
    let gate = gate_builder().store(store.clone()).build();
    let router = Router::new()
        .route("/items", get(layered_items))
        .route("/open", get(layered_open))
        .route_layer(gate.route_layer())
        .with_state(gate.clone());
    let svc = Service::serve(router, gate).await;
    let read = svc.mint(&["items:read"]).await;
    let none = svc.mint(&[]).await;

    let response = svc.get("/open", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = svc.get("/nope", &[]).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "route_layer keeps 404s"
    );

    let before = store.fetches();
    let response = svc.get("/items", &[("x-api-key", &read)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        store.fetches() - before,
        1,
        "layer, guard and ApiKey share one verification"
    );
    let response = svc.get("/items", &[("x-api-key", &none)]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = svc.get("/open", &[("x-api-key", &none)]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_identity_verified_by_another_gate_is_not_trusted() {
    // Gate A guards the whole router; the handler's own guard belongs to gate B.
    let outer = gate_builder().build();
    let inner = gate_builder().build();
    let router = Router::new()
        .route("/items", get(layered_items))
        .route_layer(outer.route_layer())
        .with_state(inner.clone());
    // The service mints with the outer gate; the inner gate's key comes from a second handle.
    let svc = Service::serve(router, outer).await;
    let outer_key = svc.mint(&["items:read"]).await;
    let inner_key = Service::serve(Router::new(), inner)
        .await
        .mint(&["items:read"])
        .await;

    let response = svc.get("/items", &[("x-api-key", &outer_key)]).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "gate B verifies for itself and does not know gate A's key"
    );
    // And gate B's own key never gets past gate A's layer.
    let response = svc.get("/items", &[("x-api-key", &inner_key)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
