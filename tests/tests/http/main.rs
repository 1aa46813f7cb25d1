//! End-to-end tests of the HTTP contract, over a real TCP socket.

#[path = "../sql_support/mod.rs"]
mod sql_support;

mod support;

use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use keygate::{ApiKey, MemoryStore, NewKey, require_api_key};
use reqwest::StatusCode;
use serde_json::Value;
use sql_support::Probe;
use support::{KeyParts, Service, challenges, gate_builder, logs, problem};

#[tokio::test]
async fn valid_key_is_admitted_through_every_header_variant() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    let bearer = format!("Bearer {key}");
    let lower_bearer = format!("bEaReR   {key}");
    for (name, value) in [
        ("X-API-Key", key.as_str()),
        ("x-api-key", key.as_str()),
        ("X-API-KEY", key.as_str()),
        ("Authorization", bearer.as_str()),
        ("authorization", lower_bearer.as_str()),
    ] {
        let response = svc.get("/items", &[(name, value)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}: {value}");
        let items: Value = response.json().await.unwrap();
        assert_eq!(items[0]["name"], "apple");
    }
    // The same key in both places is one key, not two.
    let both = svc
        .get("/items", &[("x-api-key", &key), ("authorization", &bearer)])
        .await;
    assert_eq!(both.status(), StatusCode::OK);
}

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
async fn two_different_keys_are_401_ambiguous() {
    let svc = Service::example().await;
    let a = svc.mint(&["items:read"]).await;
    let b = svc.mint(&["items:read"]).await;
    let bearer = format!("Bearer {b}");
    let response = svc
        .get("/items", &[("x-api-key", &a), ("authorization", &bearer)])
        .await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &a).await;
    assert_eq!(p["code"], "ambiguous_api_key");
    let response = svc
        .get("/items", &[("x-api-key", &a), ("x-api-key", &b)])
        .await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &b).await;
    assert_eq!(p["code"], "ambiguous_api_key");
}

#[tokio::test]
async fn scopes_are_enforced_with_403_naming_them() {
    let svc = Service::example().await;
    let read = svc.mint(&["items:read"]).await;
    let admin = svc.mint(&["admin", "items:*"]).await;
    let response = svc.post_item(&read, "pear").await;
    let p = problem(response, StatusCode::FORBIDDEN, &read).await;
    assert_eq!(p["code"], "insufficient_scope");
    assert_eq!(p["required_scopes"], serde_json::json!(["items:write"]));
    assert!(p["detail"].as_str().unwrap().contains("items:write"));

    // `items:*` covers `items:write`.
    let response = svc.post_item(&admin, "pear").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["name"], "pear");

    let delete = |id: &str, key: &str| {
        svc.client
            .delete(svc.url(&format!("/items/{id}")))
            .header("x-api-key", key)
            .send()
    };
    assert_eq!(
        delete("1", &admin).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete("1", &admin).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let p = problem(
        delete("2", &read).await.unwrap(),
        StatusCode::FORBIDDEN,
        &read,
    )
    .await;
    assert_eq!(p["required_scopes"], serde_json::json!(["admin"]));
}

#[tokio::test]
async fn authentication_runs_before_the_body_is_read() {
    let svc = Service::example().await;
    let response = svc
        .client
        .post(svc.url("/items"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let p = problem(response, StatusCode::UNAUTHORIZED, "").await;
    assert_eq!(p["code"], "missing_api_key");
    // With a key, the body is the next problem.
    let write = svc.mint(&["items:write"]).await;
    let response = svc
        .client
        .post(svc.url("/items"))
        .header("x-api-key", &write)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn query_string_is_ignored_while_that_source_is_off() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    let response = svc.get(&format!("/items?api_key={key}"), &[]).await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &key).await;
    assert_eq!(p["code"], "missing_api_key");
}

#[tokio::test]
async fn query_and_cookie_sources_work_when_enabled() {
    let gate = gate_builder()
        .query_param("api_key")
        .cookie("session_key")
        .bearer(false)
        .build();
    let svc = Service::example_with(gate).await;
    let key = svc.mint(&["items:read"]).await;
    assert_eq!(
        svc.get(&format!("/items?api_key={key}"), &[])
            .await
            .status(),
        200
    );
    let cookie = format!("theme=dark; session_key={key}");
    assert_eq!(
        svc.get("/items", &[("cookie", &cookie)]).await.status(),
        200
    );
    // Bearer is off: a bearer token is no key at all.
    let bearer = format!("Bearer {key}");
    let response = svc.get("/items", &[("authorization", &bearer)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenges = challenges(&response);
    assert_eq!(
        challenges.len(),
        3,
        "header, query and cookie: {challenges:?}"
    );
}

#[tokio::test]
async fn unknown_routes_are_404_not_401_and_health_is_public() {
    let svc = Service::example().await;
    assert_eq!(svc.get("/nope", &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        svc.get("/nope", &[("x-api-key", "garbage")]).await.status(),
        StatusCode::NOT_FOUND
    );
    let health = svc.get("/health", &[]).await;
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn whoami_returns_identity_never_the_secret() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    let response = svc
        .get("/whoami", &[("authorization", &format!("Bearer {key}"))])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    let parts = KeyParts::of(&key);
    assert!(!body.contains(parts.secret));
    let who: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(who["key_id"], parts.key_id);
    assert_eq!(who["scopes"], serde_json::json!(["items:read"]));
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

#[tokio::test]
async fn last_used_is_recorded_in_batches() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    let key_id = KeyParts::of(&key).key_id;
    assert!(
        svc.gate
            .get_key(key_id)
            .await
            .unwrap()
            .last_used_at
            .is_none()
    );
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
    assert!(
        svc.gate
            .get_key(key_id)
            .await
            .unwrap()
            .last_used_at
            .is_none(),
        "no store write per request"
    );
    svc.gate.flush_usage().await.unwrap();
    assert!(
        svc.gate
            .get_key(key_id)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );
}

#[tokio::test]
async fn no_log_line_or_debug_output_contains_a_secret() {
    let svc = Service::example().await;
    let created = svc
        .create_key(NewKey::new("debugged").scopes(["items:read"]))
        .await;
    let key = created.key.expose().to_owned();
    let secret = KeyParts::of(&key).secret;
    for printed in [
        format!("{created:?}"),
        format!("{:?}", created.key),
        format!("{:?}", created.record),
        format!("{:?}", svc.gate.verify(&key).await.unwrap()),
        format!("{:?}", svc.gate),
    ] {
        assert!(
            !printed.contains(secret),
            "Debug leaked the secret: {printed}"
        );
        assert!(
            !printed.contains(&created.record.hash.digest_hex()),
            "Debug leaked the hash"
        );
    }
    for path in ["/items", "/whoami", "/nope"] {
        let _ = svc.get(path, &[("x-api-key", &key)]).await;
    }
    // The decision events are there, with the public key id and the route.
    let logs = logs();
    let key_id = &created.record.key_id;
    assert!(
        logs.lines().any(|l| l.contains(key_id.as_str())
            && l.contains("outcome=\"admitted\"")
            && l.contains("route=\"/whoami\"")),
        "no decision event for {key_id}"
    );
}
