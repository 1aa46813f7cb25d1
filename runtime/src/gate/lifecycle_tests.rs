//! Lifecycle changes whose store fails around them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

use crate::record::{KeyFilter, KeyRecord};
use crate::store::{ChangeOutcome, KeyChange, KeyStore, StoreError};
use crate::{KeyGate, MemoryStore, NewKey};

/// A `MemoryStore` whose reads fail once a rotation has been written: a database that answers
/// the write and then times out on the next query.
#[derive(Default)]
struct ReadsFailAfterRotation {
    inner: MemoryStore,
    failing: AtomicBool,
}

impl KeyStore for ReadsFailAfterRotation {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable("the read timed out"));
        }
        self.inner.fetch(key_id).await
    }
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }
    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list(filter).await
    }
    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        let rotation = matches!(change, KeyChange::Rotate { .. });
        let outcome = self.inner.update(key_id, change).await?;
        if rotation && outcome == ChangeOutcome::Applied {
            self.failing.store(true, Ordering::SeqCst);
        }
        Ok(outcome)
    }
    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        self.inner.record_last_used(uses).await
    }
}

#[tokio::test]
async fn a_written_rotation_hands_out_the_new_key_even_if_a_read_fails_after_it() {
    let store = Arc::new(ReadsFailAfterRotation::default());
    let gate = KeyGate::builder().store(store.clone()).build();
    let old = gate.create_key(NewKey::new("partner")).await.unwrap();
    let rotated = gate
        .rotate_key(&old.record.key_id, Duration::from_secs(60))
        .await
        .expect("the rotation was written: its new key must reach the caller");
    assert_eq!(
        rotated.record.rotated_from.as_deref(),
        Some(old.record.key_id.as_str())
    );
    // The store answers again: the key handed out is the one stored.
    store.failing.store(false, Ordering::SeqCst);
    assert!(gate.verify(rotated.key.expose()).await.is_ok());
    assert!(
        gate.verify(old.key.expose()).await.is_ok(),
        "the old key lives out its grace"
    );
}
