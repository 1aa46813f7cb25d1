//! One behaviour suite, run against `MemoryStore` (the reference), `SqlStore` on SQLite and
//! `SqlStore` on PostgreSQL.

mod sql_support;
#[path = "sql_store/usage_and_limits.rs"]
mod usage_and_limits;

use std::collections::BTreeMap;
use std::time::Duration;

use keygate::record::{KeyFilter, KeyState, RevocationReason};
use keygate::store::{ChangeOutcome, KeyChange, KeyStore, StoreError};
use keygate::{KeyError, KeyGate, KeyRecord, MemoryStore, NewKey};
use sql_support::{PgSchema, Probe, TempDb};
use time::OffsetDateTime;
use usage_and_limits::{last_used, rate_limits};

const PREFIX: &str = "suite";

/// Times compare at the millisecond the SQL stores keep.
fn ms(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 1_000_000
}

async fn code(gate: &KeyGate, key: &str) -> &'static str {
    match gate.verify(key).await {
        Ok(_) => "ok",
        Err(rejection) => rejection.kind().code(),
    }
}

/// Everything a key store must do, checked through the store and through a `KeyGate` over it.
async fn suite<S: KeyStore>(name: &str, store: Probe<S>) {
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(store.clone())
        .usage_flush_interval(Duration::from_secs(3600))
        .build();
    let store = store.inner.clone();
    let owner = format!("owner-{name}");

    // insert and fetch round-trip every field
    let created = gate
        .create_key(
            NewKey::new("round-trip")
                .owner(&owner)
                .scopes(["items:read", "billing:*"])
                .expires_in(Duration::from_secs(3600))
                .metadata("ticket", "OPS-1")
                .metadata("team", "infra"),
        )
        .await
        .unwrap();
    let fetched = store
        .fetch(&created.record.key_id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(fetched.key_id, created.record.key_id);
    assert_eq!(fetched.hash, created.record.hash);
    assert_eq!(fetched.name, "round-trip");
    assert_eq!(fetched.owner, owner);
    assert_eq!(fetched.scopes, ["items:read", "billing:*"]);
    assert_eq!(
        fetched.metadata,
        BTreeMap::from([
            ("team".into(), "infra".into()),
            ("ticket".into(), "OPS-1".into())
        ])
    );
    assert_eq!(ms(fetched.created_at), ms(created.record.created_at));
    assert_eq!(
        fetched.expires_at.map(ms),
        created.record.expires_at.map(ms)
    );
    assert_eq!(fetched.revoked_at, None);
    assert_eq!(fetched.last_used_at, None);
    assert_eq!(code(&gate, created.key.expose()).await, "ok", "{name}");
    assert!(store.fetch("nosuchkey000").await.unwrap().is_none());

    // a taken key id is refused
    let duplicate = store.insert(KeyRecord::clone(&fetched)).await;
    assert!(matches!(duplicate, Err(StoreError::Duplicate(id)) if id == fetched.key_id));

    // list: oldest first, filtered by owner and by state
    let other_owner = format!("other-{name}");
    // SQL stores keep milliseconds; keys made within one are ordered by id.
    let pause = || tokio::time::sleep(Duration::from_millis(3));
    let a = gate
        .create_key(NewKey::new("a").owner(&other_owner))
        .await
        .unwrap();
    pause().await;
    let b = gate
        .create_key(NewKey::new("b").owner(&other_owner))
        .await
        .unwrap();
    pause().await;
    let c = gate
        .create_key(NewKey::new("c").owner(&other_owner))
        .await
        .unwrap();
    gate.revoke_key(&b.record.key_id).await.unwrap();
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    assert_eq!(
        store
            .update(&c.record.key_id, KeyChange::SetExpiry(Some(past)))
            .await
            .unwrap(),
        ChangeOutcome::Applied
    );
    let ids = |records: Vec<keygate::KeyRecord>| -> Vec<String> {
        records.into_iter().map(|r| r.key_id).collect()
    };
    let everyone = ids(gate
        .list_keys(&KeyFilter::default().owner(&other_owner))
        .await
        .unwrap());
    assert_eq!(
        everyone,
        [a.record.key_id.as_str(), &b.record.key_id, &c.record.key_id],
        "{name}: oldest first"
    );
    for (state, expected) in [
        (KeyState::Active, a.record.key_id.as_str()),
        (KeyState::Revoked, &b.record.key_id),
        (KeyState::Expired, &c.record.key_id),
    ] {
        let filter = KeyFilter::default().owner(&other_owner).state(state);
        assert_eq!(
            ids(gate.list_keys(&filter).await.unwrap()),
            [expected],
            "{name}: {state}"
        );
    }
    assert!(
        gate.list_keys(&KeyFilter::default().owner("nobody-at-all"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(code(&gate, c.key.expose()).await, "expired_api_key");

    // revocation is immediate, idempotent and irreversible
    let first = gate.revoke_key(&a.record.key_id).await.unwrap().revoked_at;
    assert!(first.is_some());
    assert_eq!(code(&gate, a.key.expose()).await, "revoked_api_key");
    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let revoke_later = || KeyChange::Revoke {
        at: later,
        reason: None,
    };
    assert_eq!(
        store
            .update(&a.record.key_id, revoke_later())
            .await
            .unwrap(),
        ChangeOutcome::Revoked,
        "{name}: a second revocation writes nothing"
    );
    let again = store.fetch(&a.record.key_id).await.unwrap().unwrap();
    assert_eq!(
        again.revoked_at.map(ms),
        first.map(ms),
        "{name}: first revocation stands"
    );
    assert_eq!(again.revocation, None, "{name}: revoked without a reason");
    let later_reason = || KeyChange::Revoke {
        at: later,
        reason: Some(RevocationReason::new("later")),
    };
    store
        .update(&a.record.key_id, later_reason())
        .await
        .unwrap();
    let again = store.fetch(&a.record.key_id).await.unwrap().unwrap();
    assert_eq!(again.revocation, None, "{name}: no reason added afterwards");
    // A reason is stored with the revocation, and the first one stands.
    let leaked =
        RevocationReason::leaked(Some("https://example.com/x".into()), Some("commit".into()));
    let d = gate
        .create_key(NewKey::new("d").owner(&owner))
        .await
        .unwrap();
    let reasoned = gate
        .revoke_key_with_reason(&d.record.key_id, leaked.clone())
        .await
        .unwrap();
    assert_eq!(reasoned.revocation.as_ref(), Some(&leaked), "{name}");
    store
        .update(&d.record.key_id, later_reason())
        .await
        .unwrap();
    let again = store.fetch(&d.record.key_id).await.unwrap().unwrap();
    assert_eq!(
        again.revocation,
        Some(leaked),
        "{name}: first reason stands"
    );
    assert!(matches!(
        gate.set_key_scopes(&a.record.key_id, ["admin"]).await,
        Err(KeyError::Revoked(_))
    ));
    assert!(matches!(
        gate.set_key_expiry(&a.record.key_id, None).await,
        Err(KeyError::Revoked(_))
    ));
    assert!(matches!(
        gate.rotate_key(&a.record.key_id, Duration::ZERO).await,
        Err(KeyError::Revoked(_))
    ));
    assert_eq!(code(&gate, a.key.expose()).await, "revoked_api_key");
    assert_eq!(
        store.update("nosuchkey000", revoke_later()).await.unwrap(),
        ChangeOutcome::NotFound
    );
    assert!(matches!(
        gate.revoke_key("nosuchkey000").await,
        Err(KeyError::NotFound(_))
    ));

    // rotation links old -> new, keeps name/owner/scopes, and gives the old key a grace period
    let old = gate
        .create_key(NewKey::new("partner").owner(&owner).scopes(["items:read"]))
        .await
        .unwrap();
    let before = OffsetDateTime::now_utc();
    let new = gate
        .rotate_key(&old.record.key_id, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        new.record.rotated_from.as_deref(),
        Some(old.record.key_id.as_str())
    );
    assert_eq!(new.record.name, "partner");
    assert_eq!(new.record.owner, owner);
    assert_eq!(new.record.scopes, ["items:read"]);
    let old_after = gate.get_key(&old.record.key_id).await.unwrap();
    assert_eq!(
        old_after.rotated_to.as_deref(),
        Some(new.record.key_id.as_str())
    );
    let grace_end = old_after.expires_at.expect("the old key now expires");
    assert!(grace_end >= before + time::Duration::minutes(59), "{name}");
    assert!(
        grace_end <= OffsetDateTime::now_utc() + time::Duration::minutes(61),
        "{name}"
    );
    assert_eq!(
        code(&gate, old.key.expose()).await,
        "ok",
        "{name}: inside the grace period"
    );
    assert_eq!(code(&gate, new.key.expose()).await, "ok");
    let stored_new = gate.get_key(&new.record.key_id).await.unwrap();
    assert_eq!(
        stored_new.rotated_from.as_deref(),
        Some(old.record.key_id.as_str())
    );
    // a rotation with no grace ends the old key now
    let newer = gate
        .rotate_key(&new.record.key_id, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(code(&gate, new.key.expose()).await, "expired_api_key");
    assert_eq!(code(&gate, newer.key.expose()).await, "ok");
    assert!(matches!(
        gate.rotate_key("nosuchkey000", Duration::ZERO).await,
        Err(KeyError::NotFound(_))
    ));
    // a failed rotation writes nothing
    let rotation = |replacement: KeyRecord| KeyChange::Rotate {
        replacement: Box::new(replacement),
        expected_scopes: newer.record.scopes.clone(),
        old_expires_at: OffsetDateTime::now_utc(),
        at: OffsetDateTime::now_utc(),
    };
    let clash = store
        .update(&newer.record.key_id, rotation(KeyRecord::clone(&fetched)))
        .await;
    assert!(matches!(clash, Err(StoreError::Duplicate(_))), "{name}");
    let untouched = gate.get_key(&newer.record.key_id).await.unwrap();
    assert_eq!(untouched.rotated_to, None, "{name}: rolled back");
    assert_eq!(untouched.expires_at, None, "{name}: rolled back");
    let mut orphan = KeyRecord::clone(&fetched);
    orphan.key_id = format!("orphan{}", name.len());
    assert_eq!(
        store
            .update("nosuchkey000", rotation(orphan.clone()))
            .await
            .unwrap(),
        ChangeOutcome::NotFound
    );
    assert!(
        store.fetch(&orphan.key_id).await.unwrap().is_none(),
        "{name}: nothing written"
    );

    // expiry: set, clear, and refused when zero or absurd
    let key = gate
        .create_key(NewKey::new("expiry").owner(&owner))
        .await
        .unwrap();
    let id = &key.record.key_id;
    let set = gate
        .set_key_expiry(id, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(set.expires_at.is_some());
    let cleared = gate.set_key_expiry(id, None).await.unwrap();
    assert_eq!(cleared.expires_at, None);
    assert!(matches!(
        gate.set_key_expiry(id, Some(Duration::ZERO)).await,
        Err(KeyError::InvalidDuration(_))
    ));
    assert!(matches!(
        gate.set_key_expiry(id, Some(Duration::from_secs(u64::MAX)))
            .await,
        Err(KeyError::InvalidDuration(_))
    ));
    assert!(matches!(
        gate.set_key_expiry("nosuchkey000", None).await,
        Err(KeyError::NotFound(_))
    ));

    // scopes: replaced, validated, and nothing written on a bad one
    let scoped = gate.set_key_scopes(id, ["items:*", "admin"]).await.unwrap();
    assert_eq!(scoped.scopes, ["items:*", "admin"]);
    assert!(matches!(
        gate.set_key_scopes(id, ["items read"]).await,
        Err(KeyError::InvalidScope(_))
    ));
    assert_eq!(gate.get_key(id).await.unwrap().scopes, ["items:*", "admin"]);
    let identity = gate.verify(key.key.expose()).await.unwrap();
    assert!(identity.has_scope("items:write"));
    assert!(matches!(
        gate.create_key(NewKey::new("bad").scopes(["no spaces"]))
            .await,
        Err(KeyError::InvalidScope(_))
    ));

    // Text no key holds (PostgreSQL refuses NUL in text) is no such key, not a store failure.
    let nul = "nosuch\0key00";
    assert!(store.fetch(nul).await.unwrap().is_none(), "{name}");
    let revoke = KeyChange::Revoke {
        at: OffsetDateTime::now_utc(),
        reason: None,
    };
    assert_eq!(
        store.update(nul, revoke).await.unwrap(),
        ChangeOutcome::NotFound,
        "{name}"
    );
    let by_nul_owner = KeyFilter::default().owner("\0");
    assert!(
        store.list(&by_nul_owner).await.unwrap().is_empty(),
        "{name}"
    );

    let uid = last_used(name, &store, &gate, &owner).await;
    rate_limits(name, &store, &gate, &owner, &uid).await;
}

#[tokio::test]
async fn memory_store_passes_the_suite() {
    suite("memory", Probe::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_passes_the_suite() {
    let db = TempDb::new("suite");
    let store = keygate::SqlStore::connect(&db.url()).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    suite("sqlite", Probe::new(store.clone())).await;
    store.close().await;
    // what was written is still there after reopening the file
    let reopened = keygate::SqlStore::connect(&db.url()).await.unwrap();
    let records = reopened.list(&KeyFilter::default()).await.unwrap();
    assert!(records.len() >= 8, "{} records survived", records.len());
}

#[tokio::test]
async fn sqlite_in_memory_store_passes_the_suite() {
    let store = keygate::SqlStore::connect("sqlite::memory:").await.unwrap();
    suite("sqlite-memory", Probe::new(store)).await;
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_store_passes_the_suite() {
    let pg = PgSchema::create("postgres_store_passes_the_suite").await;
    let store = pg.store().await;
    assert_eq!(store.backend(), "postgres");
    suite("postgres", Probe::new(store.clone())).await;
    store.close().await;
}
