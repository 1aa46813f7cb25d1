//! No secret leaves the service: not in a response, a `Debug` output or a log line.

use keygate::NewKey;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{KeyParts, Service, logs};

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
    // Dropping `svc` checks that no minted secret, this one included, is in those logs.
}
