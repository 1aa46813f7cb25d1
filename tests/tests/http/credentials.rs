//! Where keys are read from: `X-API-Key` in any letter case, `Authorization: Bearer`, the query
//! string and a cookie only when switched on, and two different keys in one request.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Service, challenges, gate_builder, problem};

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
async fn another_scheme_with_non_ascii_bytes_does_not_spoil_a_valid_key() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    let digest = reqwest::header::HeaderValue::from_bytes("Digest username=\"é\"".as_bytes())
        .expect("obs-text is a legal header value");
    let response = svc
        .client
        .get(svc.url("/items"))
        .header("x-api-key", &key)
        .header("authorization", digest)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
