//! The example service's admin routes over real HTTP, on a SQLite key database behind the cache:
//! create, list, rotate, revoke; bad input is a 4xx problem document and writes nothing.

mod sql_support;

use keygate::record::KeyFilter;
use keygate::store::KeyStore;
use keygate::store::{ChangeOutcome, KeyChange};
use keygate::{CachedStore, KeyGate, SqlStore};
use keygate_example::{AppState, DECLARED_SCOPES, DemoKeys, Items, app, mint_demo_keys};
use reqwest::Method;
use serde_json::{Value, json};

struct Service {
    base: String,
    keys: DemoKeys,
    store: SqlStore,
    client: reqwest::Client,
}

impl Service {
    async fn start() -> Service {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let gate = KeyGate::builder()
            .prefix("demo")
            .store(CachedStore::new(store.clone()))
            .declared_scopes(DECLARED_SCOPES)
            .build();
        let keys = mint_demo_keys(&gate).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState {
            gate,
            items: Items::with(&["apple"]),
        };
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        Service {
            base,
            keys,
            store,
            client: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<&str>,
    ) -> (u16, String, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-API-Key", key);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, content_type, body)
    }

    async fn key_count(&self) -> usize {
        self.store.list(&KeyFilter::default()).await.unwrap().len()
    }
}

#[tokio::test]
async fn create_list_rotate_revoke() {
    let service = Service::start().await;
    let admin = service.keys.admin.clone();
    let body = json!({ "name": "ci-deploy", "owner": "team-infra", "scopes": ["items:read"], "expires_in": "90d" });
    let (status, _, created) = service
        .call(Method::POST, "/admin/keys", &admin, Some(&body.to_string()))
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["record"]["key_id"].as_str().unwrap().to_owned();
    assert!(created["record"]["expires_at"].is_string());
    assert!(
        !created["record"]
            .to_string()
            .contains(&key[key.len() - 20..]),
        "no secret in the record"
    );
    assert_eq!(service.call(Method::GET, "/items", &key, None).await.0, 200);

    let (status, _, list) = service.call(Method::GET, "/admin/keys", &admin, None).await;
    assert_eq!(status, 200);
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert!(
        !list.to_string().contains(&key[key.len() - 20..]),
        "never a secret in a listing"
    );
    let (_, _, mine) = service
        .call(Method::GET, "/admin/keys?owner=team-infra", &admin, None)
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    let (status, _, rotated) = service
        .call(
            Method::POST,
            &format!("/admin/keys/{id}/rotate"),
            &admin,
            Some(r#"{"grace": "1h"}"#),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated["record"]["rotated_from"], id.as_str());
    assert_eq!(
        service.call(Method::GET, "/items", &key, None).await.0,
        200,
        "grace"
    );
    assert_eq!(
        service.call(Method::GET, "/items", &new_key, None).await.0,
        200
    );

    let (status, _, revoked) = service
        .call(Method::DELETE, &format!("/admin/keys/{id}"), &admin, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(revoked["state"], "revoked");
    let (status, _, problem) = service.call(Method::GET, "/items", &key, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("revoked_api_key")),
        "at once"
    );

    // A rotation without a body ends the old key now.
    let new_id = rotated["record"]["key_id"].as_str().unwrap();
    let (status, _, _) = service
        .call(
            Method::POST,
            &format!("/admin/keys/{new_id}/rotate"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 201);
    let (_, _, problem) = service.call(Method::GET, "/items", &new_key, None).await;
    assert_eq!(problem["code"], "expired_api_key");
}

#[tokio::test]
async fn bad_input_is_a_problem_document_and_writes_nothing() {
    let service = Service::start().await;
    let admin = service.keys.admin.clone();
    let before = service.key_count().await;
    let cases: [(Method, &str, Option<&str>, u16, &str); 10] = [
        (
            Method::POST,
            "/admin/keys",
            Some(r#"{"name":"x","scopes":["items read"]}"#),
            422,
            "invalid_scope",
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(r#"{"name":"","scopes":[]}"#),
            422,
            "invalid_name",
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(r#"{"name":"x","expires_in":"0d"}"#),
            422,
            "invalid_duration",
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(r#"{"name":"x","expires_in":"99999999w"}"#),
            422,
            "invalid_duration",
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(r#"{"name":"x","expires_in":"-3d"}"#),
            422,
            "invalid_duration",
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(r#"{"name": "#),
            400,
            "malformed_request",
        ),
        (
            Method::POST,
            "/admin/keys",
            Some(r#"{"nam":"x"}"#),
            422,
            "malformed_request",
        ),
        (
            Method::POST,
            "/admin/keys/nosuchkey000/rotate",
            None,
            404,
            "key_not_found",
        ),
        (
            Method::POST,
            "/admin/keys/nosuchkey000/rotate",
            Some(r#"{"grace":"forever"}"#),
            422,
            "invalid_duration",
        ),
        (
            Method::DELETE,
            "/admin/keys/nosuchkey000",
            None,
            404,
            "key_not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, content_type, problem) = service.call(method.clone(), path, &admin, body).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body:?}"
        );
        assert_eq!(content_type, "application/problem+json", "{method} {path}");
        assert_eq!(problem["status"], status);
    }
    assert_eq!(service.key_count().await, before, "nothing was written");

    // Only `admin` may manage keys.
    let (status, _, problem) = service
        .call(Method::GET, "/admin/keys", &service.keys.write, None)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let revoked_id = "nosuchkey000";
    let (status, _, _) = service
        .call(
            Method::DELETE,
            &format!("/admin/keys/{revoked_id}"),
            &service.keys.read,
            None,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn every_refusal_names_its_cause_and_writes_nothing() {
    let service = Service::start().await;
    // The demo admin key holds `admin items:*`.
    let admin = service.keys.admin.clone();
    let before = service.key_count().await;
    let long = "n".repeat(129);
    let many: Vec<String> = (0..65).map(|i| format!("items:s{i}")).collect();
    let cases = [
        (
            json!({"name": "x", "scopes": ["billing:read"]}),
            422,
            "invalid_scope",
        ),
        (
            json!({"name": "x", "scopes": ["items*"]}),
            422,
            "invalid_scope",
        ),
        (json!({"name": "x\u{0}y"}), 422, "invalid_name"),
        (json!({"name": "x\u{1b}[2J"}), 422, "invalid_name"),
        (json!({"name": long}), 422, "invalid_name"),
        (json!({"name": "x", "owner": "a\nb"}), 422, "invalid_owner"),
        (json!({"name": "x", "scopes": many}), 422, "too_many_scopes"),
        (json!({"name": "x", "scopes": ["*"]}), 403, "scope_not_held"),
        (
            json!({"name": "x", "scopes": ["admin", "items:*"]}),
            201,
            "",
        ),
    ];
    for (body, status, code) in cases {
        let (got, _, answer) = service
            .call(Method::POST, "/admin/keys", &admin, Some(&body.to_string()))
            .await;
        assert_eq!(got, status, "{body}: {answer}");
        if status != 201 {
            assert_eq!(answer["code"], code, "{body}");
            assert!(
                !answer["detail"].as_str().unwrap().contains('\u{1b}'),
                "{answer}"
            );
        }
    }
    assert_eq!(
        service.key_count().await,
        before + 1,
        "only the last was written"
    );
    let undeclared = service
        .call(
            Method::POST,
            "/admin/keys",
            &admin,
            Some(r#"{"name":"x","scopes":["billing:read"]}"#),
        )
        .await
        .2;
    assert!(
        undeclared["detail"]
            .as_str()
            .unwrap()
            .contains("billing:read")
    );

    // Rotation: the winner gets 201; the key's later rotations, and rotations of revoked or
    // expired keys, are 409 with a code saying which.
    let rotate = |id: &str| format!("/admin/keys/{id}/rotate");
    let created = service
        .call(Method::POST, "/admin/keys", &admin, Some(r#"{"name":"r"}"#))
        .await
        .2;
    let id = created["record"]["key_id"].as_str().unwrap().to_owned();
    assert_eq!(
        service
            .call(Method::POST, &rotate(&id), &admin, None)
            .await
            .0,
        201
    );
    let again = service.call(Method::POST, &rotate(&id), &admin, None).await;
    assert_eq!(
        (again.0, again.2["code"].as_str()),
        (409, Some("key_rotated"))
    );
    let (_, _, revoked) = service
        .call(Method::POST, "/admin/keys", &admin, Some(r#"{"name":"v"}"#))
        .await;
    let revoked = revoked["record"]["key_id"].as_str().unwrap().to_owned();
    let path = format!("/admin/keys/{revoked}");
    assert_eq!(
        service.call(Method::DELETE, &path, &admin, None).await.0,
        200
    );
    let answer = service
        .call(Method::POST, &rotate(&revoked), &admin, None)
        .await;
    assert_eq!(
        (answer.0, answer.2["code"].as_str()),
        (409, Some("key_revoked"))
    );
    let (_, _, expired) = service
        .call(Method::POST, "/admin/keys", &admin, Some(r#"{"name":"e"}"#))
        .await;
    let expired = expired["record"]["key_id"].as_str().unwrap().to_owned();
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let change = KeyChange::SetExpiry(Some(past));
    assert_eq!(
        service.store.update(&expired, change).await.unwrap(),
        ChangeOutcome::Applied
    );
    let answer = service
        .call(Method::POST, &rotate(&expired), &admin, None)
        .await;
    assert_eq!(
        (answer.0, answer.2["code"].as_str()),
        (409, Some("key_expired"))
    );

    // A key holding a scope the caller does not hold is not rotated by that caller either:
    // its successor would be broader than the caller. (The command line, which holds the
    // database, makes such a key.)
    let cli = KeyGate::builder()
        .prefix("demo")
        .store(service.store.clone())
        .build();
    let root = cli
        .create_key(keygate::NewKey::new("root").scopes(["*"]))
        .await
        .unwrap();
    let answer = service
        .call(Method::POST, &rotate(&root.record.key_id), &admin, None)
        .await;
    assert_eq!(
        (answer.0, answer.2["code"].as_str()),
        (403, Some("scope_not_held"))
    );
    assert_eq!(successors(&service, &root.record.key_id).await, 0);
}

async fn successors(service: &Service, key_id: &str) -> usize {
    let all = service.store.list(&KeyFilter::default()).await.unwrap();
    all.iter()
        .filter(|r| r.rotated_from.as_deref() == Some(key_id))
        .count()
}
