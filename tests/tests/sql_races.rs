//! Key-state changes that race: a revocation landing while a rotation is in flight, two
//! rotations of one key, a rotation of an expired key. Each change is one conditional write in
//! every store, so the loser gets a clear error and nothing half-written is left behind.

mod sql_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use keygate::record::KeyFilter;
use keygate::store::{ChangeOutcome, KeyChange, KeyStore};
use keygate::{CreatedKey, KeyError, KeyGate, MemoryStore, NewKey};
use sql_support::{PgSchema, Probe, TempDb};
use time::OffsetDateTime;

/// Lets spawned rotations reach the store and stall there, with the probe's lookups held.
async fn until_reads<S: KeyStore>(probe: &Probe<S>, reads: usize) {
    while probe.reads.load(Ordering::SeqCst) < reads {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn successors_of<S: KeyStore>(probe: &Probe<S>, key_id: &str) -> usize {
    let all = probe.inner.list(&KeyFilter::default()).await.unwrap();
    all.iter()
        .filter(|r| r.rotated_from.as_deref() == Some(key_id))
        .count()
}

const GRACE: Duration = Duration::from_secs(3600);

/// Rotates `id` while `change` lands between the rotation's read of the key and its write: the
/// rotation is held inside the store's lookup, the change is written past it, then both go on.
async fn rotate_while<S: KeyStore>(
    probe: &Probe<S>,
    gate: &KeyGate,
    id: &str,
    change: KeyChange,
) -> Result<CreatedKey, KeyError> {
    let held = probe.stall.lock().await;
    let reads = probe.reads.load(Ordering::SeqCst);
    let rotation = tokio::spawn({
        let (gate, id) = (gate.clone(), id.to_owned());
        async move { gate.rotate_key(&id, GRACE).await }
    });
    until_reads(probe, reads + 1).await;
    assert_eq!(
        probe.inner.update(id, change).await.unwrap(),
        ChangeOutcome::Applied
    );
    drop(held);
    rotation.await.unwrap()
}

async fn races<S: KeyStore>(name: &str, probe: Probe<S>) {
    let gate = KeyGate::builder()
        .prefix("race")
        .store(probe.clone())
        .build();
    let grace = GRACE;

    // A revocation that lands between the rotation's read and its write wins.
    let victim = gate.create_key(NewKey::new("victim")).await.unwrap();
    let id = victim.record.key_id.clone();
    let revoke = KeyChange::Revoke {
        at: OffsetDateTime::now_utc(),
        reason: None,
    };
    let outcome = rotate_while(&probe, &gate, &id, revoke).await;
    assert!(
        matches!(outcome, Err(KeyError::Revoked(_))),
        "{name}: a revoked key gets no successor, got {outcome:?}"
    );
    assert_eq!(
        successors_of(&probe, &id).await,
        0,
        "{name}: nothing written"
    );
    assert_eq!(
        gate.verify(victim.key.expose()).await.unwrap_err().code(),
        "revoked_api_key"
    );

    // Two rotations of one key: exactly one wins, the other is told the key was rotated.
    let shared = gate.create_key(NewKey::new("shared")).await.unwrap();
    let id = shared.record.key_id.clone();
    let held = probe.stall.lock().await;
    let reads = probe.reads.load(Ordering::SeqCst);
    let rotations: Vec<_> = (0..2)
        .map(|_| {
            let (gate, id) = (gate.clone(), id.clone());
            tokio::spawn(async move { gate.rotate_key(&id, grace).await })
        })
        .collect();
    until_reads(&probe, reads + 2).await;
    drop(held);
    let mut won = Vec::new();
    for rotation in rotations {
        match rotation.await.unwrap() {
            Ok(created) => won.push(created),
            Err(KeyError::Rotated(loser)) => assert_eq!(loser, id),
            Err(other) => panic!("{name}: unexpected {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "{name}: exactly one rotation wins");
    assert_eq!(successors_of(&probe, &id).await, 1, "{name}: one successor");
    let old = gate.get_key(&id).await.unwrap();
    assert_eq!(
        old.rotated_to.as_deref(),
        Some(won[0].record.key_id.as_str())
    );
    assert!(gate.verify(won[0].key.expose()).await.is_ok());

    // Lifting the expiry of a key in its grace period would leave it live beside its successor.
    let lifted = gate.set_key_expiry(&id, None).await;
    assert!(
        matches!(lifted, Err(KeyError::Rotated(_))),
        "{name}: {lifted:?}"
    );

    // A scope change that lands between the rotation's read and its write: the successor would
    // copy scopes the key no longer holds, so the rotation fails instead.
    let narrowed = gate
        .create_key(NewKey::new("narrowed").scopes(["admin", "items:read"]))
        .await
        .unwrap();
    let id = narrowed.record.key_id.clone();
    let narrow = KeyChange::SetScopes(vec!["items:read".to_owned()]);
    let outcome = rotate_while(&probe, &gate, &id, narrow).await;
    assert!(
        matches!(outcome, Err(KeyError::Conflict(_))),
        "{name}: no successor with the scopes taken away, got {outcome:?}"
    );
    assert_eq!(
        successors_of(&probe, &id).await,
        0,
        "{name}: nothing written"
    );

    // An expired key is not rotated into a fresh one.
    let stale = gate.create_key(NewKey::new("stale")).await.unwrap();
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let expire = KeyChange::SetExpiry(Some(past));
    assert_eq!(
        probe
            .inner
            .update(&stale.record.key_id, expire)
            .await
            .unwrap(),
        ChangeOutcome::Applied
    );
    let outcome = gate.rotate_key(&stale.record.key_id, grace).await;
    assert!(
        matches!(outcome, Err(KeyError::Expired(_))),
        "{name}: {outcome:?}"
    );
    assert_eq!(successors_of(&probe, &stale.record.key_id).await, 0);
}

#[tokio::test]
async fn memory_store_settles_races() {
    races("memory", Probe::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_settles_races() {
    let db = TempDb::new("races");
    let store = keygate::SqlStore::connect(&db.url()).await.unwrap();
    races("sqlite", Probe::new(store.clone())).await;
    store.close().await;
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_store_settles_races() {
    let pg = PgSchema::create("postgres_store_settles_races").await;
    let store = pg.store().await;
    races("postgres", Probe::new(store.clone())).await;
    store.close().await;
}
