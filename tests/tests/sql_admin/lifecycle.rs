//! The lifecycle through the admin routes, and bad input answered with a problem document.

use reqwest::Method;
use serde_json::json;

use crate::Service;

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
    assert_eq!(listed.len(), 6, "five demo keys and the new one");
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

/// A key revoked with a reason (here as secret scanning revokes one) shows the reason in the
/// admin listing; a key revoked through the admin route has none.
#[tokio::test]
async fn the_listing_shows_why_a_key_was_revoked() {
    let service = Service::start().await;
    let admin = service.keys.admin.clone();
    let gate = keygate::KeyGate::builder()
        .prefix("demo")
        .store(service.store.clone())
        .build();
    let leaked = gate
        .create_key(keygate::NewKey::new("leaky").owner("team-x"))
        .await
        .unwrap();
    let plain = gate
        .create_key(keygate::NewKey::new("plain"))
        .await
        .unwrap();
    let reason = keygate::record::RevocationReason::leaked(
        Some("https://github.com/o/r/blob/1/.env".into()),
        Some("commit".into()),
    );
    gate.revoke_key_with_reason(&leaked.record.key_id, reason)
        .await
        .unwrap();
    let (status, _, _) = service
        .call(
            Method::DELETE,
            &format!("/admin/keys/{}", plain.record.key_id),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 200);

    let (status, _, list) = service
        .call(Method::GET, "/admin/keys?all=true", &admin, None)
        .await;
    assert_eq!(status, 200, "{list}");
    let find = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|view| view["key_id"] == id)
            .cloned()
            .unwrap()
    };
    let view = find(&leaked.record.key_id);
    assert_eq!(
        view["revocation"],
        json!({"kind": "leaked", "url": "https://github.com/o/r/blob/1/.env", "source": "commit"})
    );
    assert!(find(&plain.record.key_id)["revocation"].is_null());
}

#[tokio::test]
async fn rate_limits_are_set_at_creation_and_changed_through_the_admin_routes() {
    let service = Service::start().await;
    let admin = service.keys.admin.clone();
    let (status, _, created) = service
        .call(
            Method::POST,
            "/admin/keys",
            &admin,
            Some(r#"{"name": "partner", "scopes": ["items:read"], "rate_limit": "2/min"}"#),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["record"]["rate_limit"], "2/min");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["record"]["key_id"].as_str().unwrap().to_owned();
    let statuses = || async {
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(service.call(Method::GET, "/items", &key, None).await.0);
        }
        out
    };
    assert_eq!(statuses().await, [200, 200, 429]);

    let path = format!("/admin/keys/{id}/rate_limit");
    let (status, _, view) = service
        .call(
            Method::PUT,
            &path,
            &admin,
            Some(r#"{"rate_limit": "10/s burst 20"}"#),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["rate_limit"], "10/s burst 20");
    let (status, _, view) = service
        .call(Method::PUT, &path, &admin, Some(r#"{"rate_limit": null}"#))
        .await;
    assert_eq!(status, 200, "{view}");
    assert!(view["rate_limit"].is_null());

    // Refusals: a code each, and nothing written.
    for (body, code) in [
        (r#"{"rate_limit": "100/fortnight"}"#, "invalid_rate_limit"),
        (r#"{"rate_limit": "0/min"}"#, "invalid_rate_limit"),
        (r#"{"rate_limit": "010/min"}"#, "invalid_rate_limit"),
        (r#"{"rate_limit": "10/s  burst 2"}"#, "invalid_rate_limit"),
        (r#"{"rate_limit": " 10/s"}"#, "invalid_rate_limit"),
        (r#"{"rate_limit": 10}"#, "malformed_request"),
        (r#"{}"#, "malformed_request"),
        (r#"{"rate_limit": "1/s", "burst": 2}"#, "malformed_request"),
    ] {
        let (status, content_type, problem) =
            service.call(Method::PUT, &path, &admin, Some(body)).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["code"], code, "{body}");
    }
    let (status, _, problem) = service
        .call(
            Method::POST,
            "/admin/keys",
            &admin,
            Some(r#"{"name": "x", "rate_limit": "5/2d"}"#),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_rate_limit"))
    );
    let (status, _, problem) = service
        .call(
            Method::PUT,
            "/admin/keys/nosuchkey000/rate_limit",
            &admin,
            Some(r#"{"rate_limit": "1/s"}"#),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("key_not_found"))
    );
    let (status, _, _) = service
        .call(
            Method::PUT,
            &path,
            &service.keys.read,
            Some(r#"{"rate_limit": "1/s"}"#),
        )
        .await;
    assert_eq!(status, 403, "admin only");
    let (_, _, shown) = service.call(Method::GET, "/admin/keys", &admin, None).await;
    let shown = shown
        .as_array()
        .unwrap()
        .iter()
        .find(|view| view["key_id"] == id.as_str())
        .unwrap();
    assert!(shown["rate_limit"].is_null(), "nothing written: {shown}");

    service
        .call(Method::DELETE, &format!("/admin/keys/{id}"), &admin, None)
        .await;
    let (status, _, problem) = service
        .call(Method::PUT, &path, &admin, Some(r#"{"rate_limit": "1/s"}"#))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("key_revoked"))
    );
}
