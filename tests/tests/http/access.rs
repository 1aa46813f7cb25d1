//! What the example's routes let through: scopes, public and unknown routes, and authentication
//! before the request body is read.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Service, problem};

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

/// `GET /items` answers the catalogue as it is now: what `POST` added and `DELETE` removed,
/// served as JSON (the example renders it when it changes, not on every read).
#[tokio::test]
async fn the_catalogue_shows_every_change() {
    let svc = Service::example().await;
    let admin = svc.mint(&["admin", "items:*"]).await;
    let names = || async {
        let response = svc.get("/items", &[("x-api-key", &admin)]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "the catalogue is served as JSON"
        );
        let items: Vec<Value> = response.json().await.unwrap();
        items
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names().await, ["apple", "banana"]);
    assert_eq!(
        svc.post_item(&admin, "pear").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(names().await, ["apple", "banana", "pear"]);
    let delete_apple = || async {
        let request = svc.client.delete(svc.url("/items/1"));
        request.header("x-api-key", &admin).send().await.unwrap()
    };
    assert_eq!(delete_apple().await.status(), StatusCode::NO_CONTENT);
    assert_eq!(names().await, ["banana", "pear"]);
    // A delete that removes nothing leaves the catalogue as it was.
    assert_eq!(delete_apple().await.status(), StatusCode::NOT_FOUND);
    assert_eq!(names().await, ["banana", "pear"]);
}

/// `POST /items` with a body that is not JSON, and `key` if one is given.
async fn post_malformed(svc: &Service, key: Option<&str>) -> reqwest::Response {
    let mut request = svc.client.post(svc.url("/items"));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    request
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn authentication_runs_before_the_body_is_read() {
    let svc = Service::example().await;
    let response = post_malformed(&svc, None).await;
    let p = problem(response, StatusCode::UNAUTHORIZED, "").await;
    assert_eq!(p["code"], "missing_api_key");
    // With a key, the body is the next problem.
    let write = svc.mint(&["items:write"]).await;
    let response = post_malformed(&svc, Some(&write)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
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
