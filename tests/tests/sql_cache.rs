//! `CachedStore` in front of `SqlStore`: negative caching bounds store queries, changes made
//! through the cache take effect at once, changes made elsewhere within the time-to-live, and
//! store errors are never cached.

mod sql_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use keygate::store::{ChangeOutcome, KeyChange, KeyStore};
use keygate::{CachedStore, KeyGate, NewKey, SqlStore};
use sql_support::{Probe, TempDb, unknown_key};
use time::OffsetDateTime;

const PREFIX: &str = "cache";

async fn code(gate: &KeyGate, key: &str) -> &'static str {
    match gate.verify(key).await {
        Ok(_) => "ok",
        Err(rejection) => rejection.kind().code(),
    }
}

/// A gate over the default cache over a probed in-memory SQLite store, and one key in it.
async fn cached_sqlite_with_a_key() -> (Probe<SqlStore>, KeyGate, String) {
    let probe = Probe::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(CachedStore::new(probe.clone()))
        .build();
    let key = gate.mint_test_key(["items:read"]).await;
    (probe, gate, key)
}

#[tokio::test]
async fn a_flood_of_unknown_keys_costs_one_query_per_id_per_ttl() {
    let probe = Probe::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    let cached = CachedStore::builder(probe.clone())
        .negative_ttl(Duration::from_millis(400))
        .build();
    let gate = KeyGate::builder().prefix(PREFIX).store(cached).build();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        unknown.push(unknown_key(PREFIX).await);
    }
    for _ in 0..40 {
        for key in &unknown {
            assert_eq!(code(&gate, key).await, "invalid_api_key");
        }
    }
    assert_eq!(probe.fetches(), 5, "one query per unknown id");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(code(&gate, &unknown[0]).await, "invalid_api_key");
    assert_eq!(
        probe.fetches(),
        6,
        "asked again once the negative entry expired"
    );
    // Malformed keys never reach the store at all.
    assert_eq!(code(&gate, "cache_nonsense").await, "invalid_api_key");
    assert_eq!(probe.fetches(), 6);
}

#[tokio::test]
async fn concurrent_misses_for_one_id_share_one_query() {
    let (probe, gate, key) = cached_sqlite_with_a_key().await;
    let before = probe.fetches();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let gate = gate.clone();
            let key = key.clone();
            tokio::spawn(async move { gate.verify(&key).await.is_ok() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert_eq!(probe.fetches() - before, 1);
}

#[tokio::test]
async fn changes_through_the_cache_take_effect_at_once() {
    let probe = Probe::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(
            CachedStore::builder(probe.clone())
                .ttl(Duration::from_secs(60))
                .negative_ttl(Duration::from_secs(60))
                .build(),
        )
        .build();
    let created = gate
        .create_key(NewKey::new("ci").scopes(["items:read"]))
        .await
        .unwrap();
    let id = created.record.key_id.clone();
    let key = created.key.expose();
    assert_eq!(code(&gate, key).await, "ok");

    let scoped = gate.set_key_scopes(&id, ["items:write"]).await.unwrap();
    assert_eq!(scoped.scopes, ["items:write"]);
    assert!(
        gate.verify(key).await.unwrap().has_scope("items:write"),
        "scopes at once"
    );

    gate.set_key_expiry(&id, Some(Duration::from_millis(50)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(code(&gate, key).await, "expired_api_key", "expiry at once");
    gate.set_key_expiry(&id, None).await.unwrap();
    assert_eq!(code(&gate, key).await, "ok", "cleared expiry at once");

    let rotated = gate.rotate_key(&id, Duration::ZERO).await.unwrap();
    assert_eq!(
        code(&gate, key).await,
        "expired_api_key",
        "rotation at once"
    );
    assert_eq!(code(&gate, rotated.key.expose()).await, "ok");

    gate.revoke_key(&rotated.record.key_id).await.unwrap();
    assert_eq!(
        code(&gate, rotated.key.expose()).await,
        "revoked_api_key",
        "revocation at once"
    );
}

#[tokio::test]
async fn a_change_during_a_slow_lookup_is_not_undone_by_its_answer() {
    let probe = Probe::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    let cached = Arc::new(
        CachedStore::builder(probe.clone())
            .ttl(Duration::from_secs(60))
            .build(),
    );
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(cached.clone())
        .build();
    let created = gate.create_key(NewKey::new("leaked")).await.unwrap();
    let key = created.key.expose().to_owned();
    let id = created.record.key_id.clone();

    // A request misses the cache and reads the record; its answer is held back while the key is
    // revoked, then arrives with the record as it was before the revocation.
    let held = probe.stall.clone().lock_owned().await;
    let slow = tokio::spawn({
        let (gate, key) = (gate.clone(), key.clone());
        async move { code(&gate, &key).await }
    });
    while probe.reads.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let revoke = KeyChange::Revoke {
        at: OffsetDateTime::now_utc(),
        reason: None,
    };
    assert_eq!(
        cached.update(&id, revoke).await.unwrap(),
        ChangeOutcome::Applied
    );
    // A lookup that starts after the revocation does not join the stale one.
    let after = tokio::spawn({
        let gate = gate.clone();
        async move { gate.get_key(&id).await.unwrap() }
    });
    drop(held);
    assert!(after.await.unwrap().revoked_at.is_some());
    // The slow request began before the revocation, so either answer is honest for it...
    let _ = slow.await.unwrap();
    // ...but the record it read must not stay cached: the revocation holds from here on.
    assert_eq!(code(&gate, &key).await, "revoked_api_key");
    assert_eq!(code(&gate, &key).await, "revoked_api_key");
}

#[tokio::test]
async fn a_key_inserted_after_a_negative_lookup_works_at_once() {
    let cached = Probe::new(
        CachedStore::builder(SqlStore::connect("sqlite::memory:").await.unwrap())
            .negative_ttl(Duration::from_secs(60))
            .build(),
    );
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(cached.clone())
        .build();
    let elsewhere = KeyGate::builder().prefix(PREFIX).build();
    let created = elsewhere.create_key(NewKey::new("late")).await.unwrap();
    assert_eq!(code(&gate, created.key.expose()).await, "invalid_api_key");
    cached.inner.insert(created.record).await.unwrap();
    assert_eq!(
        code(&gate, created.key.expose()).await,
        "ok",
        "the negative entry was dropped"
    );
}

#[tokio::test]
async fn revocation_through_another_instance_lands_within_the_ttl() {
    let db = TempDb::new("cache-two");
    let ttl = Duration::from_millis(500);
    let here = KeyGate::builder()
        .prefix(PREFIX)
        .store(
            CachedStore::builder(SqlStore::connect(&db.url()).await.unwrap())
                .ttl(ttl)
                .build(),
        )
        .build();
    // Another process: the command line, or a second instance of the service.
    let elsewhere = KeyGate::builder()
        .prefix(PREFIX)
        .store(SqlStore::connect(&db.url()).await.unwrap())
        .build();
    let created = here.create_key(NewKey::new("leaked")).await.unwrap();
    let key = created.key.expose();
    assert_eq!(code(&here, key).await, "ok");
    let revoked_at = Instant::now();
    elsewhere.revoke_key(&created.record.key_id).await.unwrap();
    assert_eq!(code(&elsewhere, key).await, "revoked_api_key");
    loop {
        if code(&here, key).await == "revoked_api_key" {
            break;
        }
        assert!(
            revoked_at.elapsed() < ttl + Duration::from_millis(300),
            "still admitted {:?} after revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn store_errors_are_not_cached() {
    let (probe, gate, key) = cached_sqlite_with_a_key().await;
    let unknown = unknown_key(PREFIX).await;
    probe.set_failing(true);
    assert_eq!(code(&gate, &key).await, "key_store_unavailable");
    assert_eq!(code(&gate, &unknown).await, "key_store_unavailable");
    probe.set_failing(false);
    assert_eq!(
        code(&gate, &key).await,
        "ok",
        "the failure was not remembered"
    );
    assert_eq!(code(&gate, &unknown).await, "invalid_api_key");
}
