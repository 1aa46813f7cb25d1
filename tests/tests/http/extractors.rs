//! The `ApiKey` extractors without the attribute: `Option<ApiKey>` is `None` without a key.

use axum::Router;
use axum::routing::get;
use keygate::ApiKey;
use reqwest::StatusCode;

use crate::support::{Service, gate_builder};

async fn greet(key: Option<ApiKey>) -> String {
    match key {
        Some(key) => format!("hello {}", key.name()),
        None => "hello stranger".to_owned(),
    }
}

#[tokio::test]
async fn optional_api_key_is_none_without_a_key_and_401_with_a_bad_one() {
    let gate = gate_builder().build();
    let router = Router::new()
        .route("/greet", get(greet))
        .with_state(gate.clone());
    let svc = Service::serve(router, gate).await;
    let key = svc.mint(&["x"]).await;
    let text = |r: reqwest::Response| async move { (r.status(), r.text().await.unwrap()) };
    let anonymous = svc.get("/greet", &[]).await;
    assert_eq!(
        text(anonymous).await,
        (StatusCode::OK, "hello stranger".to_owned())
    );
    let known = svc.get("/greet", &[("x-api-key", &key)]).await;
    assert_eq!(text(known).await, (StatusCode::OK, "hello test".to_owned()));
    let bad = svc.get("/greet", &[("x-api-key", "demo_nonsense")]).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}
