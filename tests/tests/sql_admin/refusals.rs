//! Every refusal of the admin routes names its cause with a code, and writes nothing: limits,
//! undeclared scopes, scopes the caller does not hold, rotations that lost a race.

use keygate::KeyGate;
use keygate::record::KeyFilter;
use keygate::store::{ChangeOutcome, KeyChange, KeyStore};
use reqwest::Method;
use serde_json::json;

use crate::Service;

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
