//! Why a request is turned away, as RFC 9457 problem+json with a stable `code`: no key, a bad
//! key, an expired or revoked one, a store that cannot answer; and a rendering hook that may
//! change the body but never the decision.

use std::time::Duration;

use axum::Json;
use axum::response::IntoResponse;
use keygate::{MemoryStore, NewKey};
use reqwest::StatusCode;
use serde_json::Value;

use crate::sql_support::Probe;
use crate::support::{KeyParts, Service, gate_builder, problem};

#[tokio::test]
async fn missing_and_empty_keys_are_401_missing_api_key() {
    let svc = Service::example().await;
    for headers in [
        &[][..],
        &[("x-api-key", "")][..],
        &[("authorization", "Bearer ")][..],
        &[("authorization", "Basic dXNlcjpwYXNz")][..],
    ] {
        let response = svc.get("/items", headers).await;
        let p = problem(response, StatusCode::UNAUTHORIZED, "").await;
        assert_eq!(p["code"], "missing_api_key", "{headers:?}");
    }
}

#[tokio::test]
async fn bad_keys_are_401_invalid_api_key_and_never_echoed() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    let parts = KeyParts::of(&key);
    let other = svc.unknown_key().await;
    let cases = [
        ("malformed", "not-a-key".to_owned()),
        ("random", "demo_abc".to_owned()),
        ("bad checksum", parts.with_typo()),
        ("wrong prefix", key.replacen("demo_", "prod_", 1)),
        ("unknown id", other.clone()),
        (
            "known secret, unknown id",
            parts.with_key_id(KeyParts::of(&other).key_id),
        ),
        // Same id, different secret with a valid checksum: only the hash comparison can reject it.
        (
            "wrong secret",
            parts.with_secret(KeyParts::of(&other).secret),
        ),
        ("non-ascii", "démo_key".to_owned()),
    ];
    for (what, presented) in cases {
        let response = svc
            .client
            .get(svc.url("/items"))
            .header("x-api-key", presented.as_bytes())
            .send()
            .await
            .unwrap();
        let p = problem(response, StatusCode::UNAUTHORIZED, &presented).await;
        assert_eq!(p["code"], "invalid_api_key", "{what}");
    }
}

#[tokio::test]
async fn expired_and_revoked_keys_are_named_only_when_the_secret_matched() {
    let svc = Service::example().await;
    let expired = svc
        .create_key(
            NewKey::new("short")
                .scopes(["items:read"])
                .expires_in(Duration::from_millis(1)),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let response = svc
        .get("/items", &[("x-api-key", expired.key.expose())])
        .await;
    let p = problem(response, StatusCode::UNAUTHORIZED, expired.key.expose()).await;
    assert_eq!(p["code"], "expired_api_key");

    let revoked = svc.mint(&["items:read"]).await;
    let key_id = KeyParts::of(&revoked).key_id;
    assert_eq!(
        svc.get("/items", &[("x-api-key", &revoked)]).await.status(),
        200
    );
    svc.gate.revoke_key(key_id).await.unwrap();
    let response = svc.get("/items", &[("x-api-key", &revoked)]).await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &revoked).await;
    assert_eq!(p["code"], "revoked_api_key");

    // A wrong secret for the revoked id says nothing about revocation.
    let wrong = KeyParts::of(&revoked).with_changed_secret();
    let response = svc.get("/items", &[("x-api-key", &wrong)]).await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &wrong).await;
    assert_eq!(p["code"], "invalid_api_key");
}

#[tokio::test]
async fn a_failing_store_is_503_never_200_and_service_resumes() {
    let store = Probe::new(MemoryStore::new());
    let gate = gate_builder().store(store.clone()).build();
    let svc = Service::example_with(gate).await;
    let key = svc.mint(&["items:read"]).await;
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
    store.set_failing(true);
    let response = svc.get("/items", &[("x-api-key", &key)]).await;
    let p = problem(response, StatusCode::SERVICE_UNAVAILABLE, &key).await;
    assert_eq!(p["code"], "key_store_unavailable");
    // A malformed key is still answered without the store.
    let before = store.fetches();
    let response = svc.get("/items", &[("x-api-key", "demo_garbage")]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(store.fetches(), before, "no store call for a malformed key");
    store.set_failing(false);
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
}

#[tokio::test]
async fn a_rendering_hook_changes_the_body_not_the_decision() {
    let gate = gate_builder()
        .header("X-Token")
        .render_rejection(|rejection| {
            // A hook that tries to answer 200 still cannot admit the request.
            (
                axum::http::StatusCode::OK,
                Json(serde_json::json!({ "detail": rejection.kind().detail() })),
            )
                .into_response()
        })
        .build();
    let svc = Service::example_with(gate).await;
    let response = svc.get("/items", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"ApiKey realm="api", header="x-token""#
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"detail": "This endpoint requires an API key."})
    );
    let key = svc.mint(&["items:read"]).await;
    assert_eq!(svc.get("/items", &[("X-Token", &key)]).await.status(), 200);
    assert_eq!(
        svc.get("/items", &[("X-API-Key", &key)]).await.status(),
        StatusCode::UNAUTHORIZED,
        "only the configured header is read"
    );
}
