//! What `POST /admin/keys` does with only a name: the documented defaults.

use reqwest::Method;

use crate::Service;

#[tokio::test]
async fn a_key_created_with_only_a_name_belongs_to_its_creator_and_holds_no_scope() {
    let service = Service::start().await;
    let admin = service.keys.admin.clone();
    let (status, _, created) = service
        .call(Method::POST, "/admin/keys", &admin, Some(r#"{"name":"x"}"#))
        .await;
    assert_eq!(status, 201, "{created}");
    let record = &created["record"];
    // The demo admin key's owner.
    assert_eq!(record["owner"], "demo");
    assert_eq!(record["scopes"], serde_json::json!([]));
    assert_eq!(record["metadata"], serde_json::json!({}));
    assert_eq!(record["expires_at"], serde_json::Value::Null);
    assert_eq!(record["rate_limit"], serde_json::Value::Null);

    let key = created["key"].as_str().unwrap();
    let (status, _, whoami) = service.call(Method::GET, "/whoami", key, None).await;
    assert_eq!(
        status, 200,
        "a key without scopes still identifies its holder"
    );
    assert_eq!(whoami["owner"], "demo");
    let (status, _, refused) = service.call(Method::GET, "/items", key, None).await;
    assert_eq!(status, 403);
    assert_eq!(refused["code"], "insufficient_scope");
}

#[tokio::test]
async fn an_owner_given_is_kept_and_a_null_owner_is_refused() {
    let service = Service::start().await;
    let admin = service.keys.admin.clone();
    let (status, _, created) = service
        .call(
            Method::POST,
            "/admin/keys",
            &admin,
            Some(r#"{"name":"x","owner":"team-infra"}"#),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["record"]["owner"], "team-infra");

    let before = service.key_count().await;
    let (status, _, refused) = service
        .call(
            Method::POST,
            "/admin/keys",
            &admin,
            Some(r#"{"name":"x","owner":null}"#),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "malformed_request");
    assert_eq!(service.key_count().await, before, "nothing was written");
}
