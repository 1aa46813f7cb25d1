//! Per-key rate limits over HTTP: `429 rate_limited` with `Retry-After` and the IETF headers,
//! the same headers on admitted responses, and a budget that only admitted requests spend.

use axum::Json;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use keygate::limit::RateLimit;
use keygate::{ApiKey, NewKey};
use reqwest::StatusCode;

use crate::support::{KeyParts, Service, gate_builder, problem};

fn limit(text: &str) -> RateLimit {
    text.parse().unwrap()
}

/// The two rate-limit headers of `response`, `None` for a missing one.
fn rate_headers(response: &reqwest::Response) -> (Option<String>, Option<String>) {
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (header("ratelimit-policy"), header("ratelimit"))
}

/// A key of `svc` with `scopes` and its own `limit`.
async fn limited_key(svc: &Service, scopes: &[&str], limit_text: &str) -> String {
    let new = NewKey::new("limited")
        .scopes(scopes.iter().copied())
        .rate_limit(limit(limit_text));
    svc.create_key(new).await.key.expose().to_owned()
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after_and_the_ietf_headers() {
    let svc = Service::example().await;
    let key = limited_key(&svc, &["items:read"], "2/min").await;
    let auth = [("x-api-key", key.as_str())];

    let first = svc.get("/items", &auth).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        rate_headers(&first),
        (
            Some(r#""default";q=2;w=60"#.to_owned()),
            Some(r#""default";r=1;t=30"#.to_owned())
        )
    );
    let second = svc.get("/items", &auth).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(rate_headers(&second).1.unwrap(), r#""default";r=0;t=60"#);

    let refused = svc.get("/items", &auth).await;
    assert_eq!(refused.headers()["retry-after"], "30");
    assert_eq!(
        rate_headers(&refused),
        (
            Some(r#""default";q=2;w=60"#.to_owned()),
            Some(r#""default";r=0;t=60"#.to_owned())
        )
    );
    assert!(
        refused.headers().get("www-authenticate").is_none(),
        "a 429 is not an authentication failure"
    );
    let p = problem(refused, StatusCode::TOO_MANY_REQUESTS, &key).await;
    assert_eq!(p["code"], "rate_limited");
    assert_eq!(p["retry_after"], 30);
    assert!(p["detail"].as_str().unwrap().contains("2/min"), "{p}");
}

#[tokio::test]
async fn no_headers_and_no_limit_for_keys_without_one() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    for _ in 0..50 {
        let response = svc.get("/items", &[("x-api-key", &key)]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(rate_headers(&response), (None, None));
    }
}

#[tokio::test]
async fn unauthenticated_and_unauthorised_requests_do_not_spend_the_budget() {
    let svc = Service::example().await;
    let key = limited_key(&svc, &["items:read"], "1/h").await;
    // The key's own id with a wrong secret, again and again.
    let forged = KeyParts::of(&key).with_changed_secret();
    for _ in 0..20 {
        let response = svc.get("/items", &[("x-api-key", &forged)]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(rate_headers(&response), (None, None));
    }
    // The right key on a route it lacks the scope for.
    for _ in 0..5 {
        let response = svc.post_item(&key, "pear").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(rate_headers(&response), (None, None));
    }
    let response = svc.get("/items", &[("x-api-key", &key)]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the budget was untouched"
    );
    let response = svc.get("/items", &[("x-api-key", &key)]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_gate_default_applies_to_keys_without_their_own() {
    let gate = gate_builder().default_rate_limit(limit("1/min")).build();
    let svc = Service::example_with(gate).await;
    let plain = svc.mint(&["items:read"]).await;
    let own = limited_key(&svc, &["items:read"], "3/min").await;
    let statuses = |key: String| {
        let svc = &svc;
        async move {
            let mut out = Vec::new();
            for _ in 0..4 {
                out.push(
                    svc.get("/items", &[("x-api-key", &key)])
                        .await
                        .status()
                        .as_u16(),
                );
            }
            out
        }
    };
    assert_eq!(statuses(plain).await, [200, 429, 429, 429]);
    assert_eq!(statuses(own).await, [200, 200, 200, 429]);
}

#[tokio::test]
async fn a_changed_limit_applies_to_the_next_request() {
    let svc = Service::example().await;
    let created = svc
        .create_key(
            NewKey::new("partner")
                .scopes(["items:read"])
                .rate_limit(limit("1/h")),
        )
        .await;
    let key = created.key.expose();
    let id = &created.record.key_id;
    assert_eq!(svc.get("/items", &[("x-api-key", key)]).await.status(), 200);
    assert_eq!(svc.get("/items", &[("x-api-key", key)]).await.status(), 429);
    svc.gate.set_rate_limit(id, None).await.unwrap();
    let response = svc.get("/items", &[("x-api-key", key)]).await;
    assert_eq!(response.status(), StatusCode::OK, "no limit any more");
    assert_eq!(rate_headers(&response), (None, None));
    // The rotated successor keeps the limit.
    svc.gate
        .set_rate_limit(id, Some(limit("7/min")))
        .await
        .unwrap();
    let successor = svc
        .gate
        .rotate_key(id, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(successor.record.rate_limit, Some(limit("7/min")));
}

async fn layered(key: ApiKey) -> String {
    key.name().to_owned()
}

#[tokio::test]
async fn the_route_layer_adds_the_headers_without_the_headers_layer() {
    let gate = gate_builder().build();
    let router = Router::new()
        .route("/layered", get(layered))
        .route_layer(gate.route_layer())
        .with_state(gate.clone());
    let svc = Service::serve(router, gate).await;
    let key = limited_key(&svc, &[], "10/s burst 20").await;
    let response = svc.get("/layered", &[("x-api-key", &key)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        rate_headers(&response),
        (
            Some(r#""default";q=10;w=1"#.to_owned()),
            Some(r#""default";r=19;t=1"#.to_owned())
        )
    );
}

#[keygate::require_api_key]
async fn guarded(key: ApiKey) -> String {
    key.name().to_owned()
}

#[tokio::test]
async fn without_the_headers_layer_admitted_responses_carry_no_headers_but_429s_do() {
    let gate = gate_builder().build();
    let router = Router::new()
        .route("/guarded", get(guarded))
        .with_state(gate.clone());
    let svc = Service::serve(router, gate).await;
    let key = limited_key(&svc, &[], "1/min").await;
    let response = svc.get("/guarded", &[("x-api-key", &key)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(rate_headers(&response), (None, None));
    let response = svc.get("/guarded", &[("x-api-key", &key)]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(rate_headers(&response).1.is_some());
    assert_eq!(response.headers()["retry-after"], "60");
}

#[tokio::test]
async fn a_rendering_hook_changes_the_body_but_keeps_status_and_headers() {
    let gate = gate_builder()
        .render_rejection(|rejection| {
            Json(serde_json::json!({ "detail": rejection.kind().detail() })).into_response()
        })
        .build();
    let svc = Service::example_with(gate).await;
    let key = limited_key(&svc, &["items:read"], "1/min").await;
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
    let response = svc.get("/items", &[("x-api-key", &key)]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(rate_headers(&response).0.unwrap(), r#""default";q=1;w=60"#);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("rate limit"),
        "{body}"
    );
}
