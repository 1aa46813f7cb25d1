//! When a key was last used is recorded in batches, not by a store write per request.

use keygate::KeyGate;
use time::OffsetDateTime;

use crate::support::{KeyParts, Service};

/// When the store last saw `key_id` used.
async fn last_used(gate: &KeyGate, key_id: &str) -> Option<OffsetDateTime> {
    gate.get_key(key_id).await.unwrap().last_used_at
}

#[tokio::test]
async fn last_used_is_recorded_in_batches() {
    let svc = Service::example().await;
    let key = svc.mint(&["items:read"]).await;
    let key_id = KeyParts::of(&key).key_id;
    assert!(last_used(&svc.gate, key_id).await.is_none());
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
    assert!(
        last_used(&svc.gate, key_id).await.is_none(),
        "no store write per request"
    );
    svc.gate.flush_usage().await.unwrap();
    assert!(last_used(&svc.gate, key_id).await.is_some());
}
