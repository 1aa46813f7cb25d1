//! The round trip through the nested router: create, list, rotate, set a rate limit, read the
//! usage, audit, revoke; and no answer holds a secret but a new key's own `key`, once.

use keygate::record::KeyState;
use reqwest::Method;
use serde_json::{Value, json};

use crate::Service;

/// The secret of a key (what follows its public id): no answer may hold it, but the one that
/// shows the key.
fn secret(key: &str) -> &str {
    key.rsplit('_').next().unwrap()
}

#[tokio::test]
async fn create_list_rotate_limit_and_revoke_through_the_nested_router() {
    let service = Service::start().await;
    let mut answers: Vec<String> = Vec::new();
    let mut call = async |method: Method, path: &str, body: Option<Value>| {
        let body = body.map(|b| b.to_string());
        let response = service
            .send(method, path, Some(&service.admin), body.as_deref())
            .await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        answers.push(text.clone());
        (status, serde_json::from_str::<Value>(&text).unwrap())
    };

    // Created without an owner: it is the caller's (`ops`).
    let (status, created) = call(
        Method::POST,
        "/manage/keys",
        Some(json!({"name": "nightly", "scopes": ["reports:read"], "expires_in": "30d"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let record = &created["record"];
    let id = record["key_id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("acme_{id}_")), "{key}");
    assert_eq!(record["owner"], "ops");
    assert_eq!(record["scopes"], json!(["reports:read"]));
    assert_eq!(record["state"], "active");
    assert!(record["expires_at"].is_string());
    assert_eq!(record.as_object().unwrap().get("hash"), None);
    let admitted = service.gate.verify(&key).await.unwrap();
    assert_eq!(admitted.key_id(), id);

    let (status, list) = call(Method::GET, "/manage/keys?owner=ops", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ops-admin", "nightly"]);

    let (status, rotated) = call(
        Method::POST,
        &format!("/manage/keys/{id}/rotate"),
        Some(json!({"grace": "1h"})),
    )
    .await;
    assert_eq!(status, 201, "{rotated}");
    let successor = rotated["key"].as_str().unwrap().to_owned();
    let successor_id = rotated["record"]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(rotated["record"]["rotated_from"], id.as_str());
    assert_eq!(rotated["record"]["scopes"], json!(["reports:read"]));
    // Within the grace period both keys work.
    assert!(service.gate.verify(&key).await.is_ok());
    assert!(service.gate.verify(&successor).await.is_ok());

    let (status, limited) = call(
        Method::PUT,
        &format!("/manage/keys/{successor_id}/rate_limit"),
        Some(json!({"rate_limit": "100/min"})),
    )
    .await;
    assert_eq!((status, &limited["rate_limit"]), (200, &json!("100/min")));

    let (status, usage) = call(
        Method::GET,
        &format!("/manage/keys/{id}/usage?since=1h"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{usage}");
    assert!(usage.is_array());

    let (status, audit) = call(Method::GET, "/manage/keys/audit", None).await;
    assert_eq!(status, 200, "{audit}");
    assert!(audit["keys"].is_array(), "{audit}");

    let (status, revoked) = call(
        Method::DELETE,
        &format!("/manage/keys/{successor_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(revoked["state"], "revoked");
    let refused = service.gate.verify(&successor).await.unwrap_err();
    assert_eq!(refused.code(), "revoked_api_key");
    let record = service.gate.get_key(&successor_id).await.unwrap();
    assert_eq!(
        record.state_at(time::OffsetDateTime::now_utc()),
        KeyState::Revoked
    );

    // Secrets: the caller's never; each new key's only in the answer that made it, as `key`.
    for (i, answer) in answers.iter().enumerate() {
        assert!(!answer.contains(secret(&service.admin)), "{answer}");
        assert!(!answer.contains("hash"), "{answer}");
        let shows = |key: &str| answer.contains(secret(key));
        assert_eq!(shows(&key), i == 0, "answer {i}: {answer}");
        assert_eq!(shows(&successor), i == 2, "answer {i}: {answer}");
    }
}

#[tokio::test]
async fn the_plain_axum_router_serves_the_same_routes() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use keygate::admin::AdminApi;
    use keygate::{KeyGate, NewKey};
    use tower::ServiceExt;

    let gate = KeyGate::builder().prefix("acme").build();
    let admin = gate
        .create_key(NewKey::new("ops").owner("ops").scopes(["keys:admin"]))
        .await
        .unwrap();
    let app: axum::Router =
        axum::Router::new().nest("/manage", AdminApi::new(&gate).scope("keys:admin").router());
    let create = |key: Option<&str>| {
        let mut request = Request::post("/manage/keys").header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.body(Body::from(r#"{"name":"ci"}"#)).unwrap()
    };
    let refused = app.clone().oneshot(create(None)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let created = app.oneshot(create(Some(admin.key.expose()))).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body = axum::body::to_bytes(created.into_body(), 1 << 16)
        .await
        .unwrap();
    let created: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(created["record"]["owner"], "ops");
    assert!(gate.verify(created["key"].as_str().unwrap()).await.is_ok());
}
