//! The store suite's last-used and rate-limit parts. Last-used times are batched and never go
//! back; a limit round-trips in its canonical text, changes in one
//! conditional write, is refused on a revoked key, and is copied to a rotated successor.

use keygate::KeyGate;
use keygate::store::{ChangeOutcome, KeyChange, KeyStore};

use super::*;

pub async fn rate_limits<K: KeyStore>(
    name: &str,
    store: &K,
    gate: &KeyGate,
    owner: &str,
    uid: &str,
) {
    let limit = |text: &str| text.parse::<keygate::limit::RateLimit>().unwrap();
    let limited = gate
        .create_key(
            NewKey::new("limited")
                .owner(owner)
                .rate_limit(limit("10/sec burst 20")),
        )
        .await
        .unwrap();
    let lid = limited.record.key_id.clone();
    let fetched = store.fetch(&lid).await.unwrap().expect("stored");
    assert_eq!(fetched.rate_limit, Some(limit("10/s burst 20")), "{name}");
    let unlimited = store.fetch(uid).await.unwrap().expect("stored");
    assert_eq!(unlimited.rate_limit, None, "{name}");
    assert_eq!(
        store
            .update(&lid, KeyChange::SetRateLimit(Some(limit("100/min"))))
            .await
            .unwrap(),
        ChangeOutcome::Applied
    );
    assert_eq!(
        gate.get_key(&lid).await.unwrap().rate_limit,
        Some(limit("100/min")),
        "{name}"
    );
    let successor = gate
        .rotate_key(&lid, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(successor.record.rate_limit, Some(limit("100/min")));
    let sid = successor.record.key_id.clone();
    assert_eq!(
        store.fetch(&sid).await.unwrap().unwrap().rate_limit,
        Some(limit("100/min")),
        "{name}: the successor's stored row"
    );
    let cleared = gate.set_rate_limit(&sid, None).await.unwrap();
    assert_eq!(cleared.rate_limit, None, "{name}");
    gate.revoke_key(&sid).await.unwrap();
    assert_eq!(
        store
            .update(&sid, KeyChange::SetRateLimit(Some(limit("1/s"))))
            .await
            .unwrap(),
        ChangeOutcome::Revoked,
        "{name}"
    );
    assert!(matches!(
        gate.set_rate_limit(&sid, Some(limit("1/s"))).await,
        Err(KeyError::Revoked(_))
    ));
    assert_eq!(store.fetch(&sid).await.unwrap().unwrap().rate_limit, None);
    assert_eq!(
        store
            .update("nosuchkey000", KeyChange::SetRateLimit(None))
            .await
            .unwrap(),
        ChangeOutcome::NotFound
    );
}

/// Last-used times: nothing is written per request, all of it on flush, and an older time never
/// overwrites a newer one. Returns the id of the key it used.
pub async fn last_used<K: KeyStore>(name: &str, store: &K, gate: &KeyGate, owner: &str) -> String {
    // last-used times are batched: nothing is written per request, all of it on flush
    let used = gate
        .create_key(NewKey::new("used").owner(owner))
        .await
        .unwrap();
    let uid = used.record.key_id.clone();
    assert_eq!(code(gate, used.key.expose()).await, "ok");
    assert_eq!(
        gate.get_key(&uid).await.unwrap().last_used_at,
        None,
        "{name}"
    );
    gate.flush_usage().await.unwrap();
    let last = gate
        .get_key(&uid)
        .await
        .unwrap()
        .last_used_at
        .expect("flushed");
    assert!(last >= used.record.created_at - time::Duration::seconds(1));
    // an older time never overwrites a newer one; unknown ids are ignored
    let older = last - time::Duration::hours(1);
    store
        .record_last_used(&[(uid.clone(), older), ("nosuchkey000".into(), older)])
        .await
        .unwrap();
    assert_eq!(
        gate.get_key(&uid).await.unwrap().last_used_at.map(ms),
        Some(ms(last))
    );
    uid
}
