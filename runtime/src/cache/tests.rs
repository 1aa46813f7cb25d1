//! What the cache keeps, depending on whether its store's feed is listening.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::record::{KeyFilter, KeyRecord};
use crate::store::{Announcement, ChangeFeed, ChangeOutcome, KeyChange, KeyStore, StoreError};
use crate::{CachedStore, KeyGate, MemoryStore, NewKey};

/// A `MemoryStore` that counts its lookups and whose change feed announces what the test says.
struct Announced {
    inner: MemoryStore,
    fetches: AtomicUsize,
    feed: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Announcement>>>,
}

impl KeyStore for Announced {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch(key_id).await
    }
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }
    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list(filter).await
    }
    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        self.inner.update(key_id, change).await
    }
    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        self.inner.record_last_used(uses).await
    }
    fn changes(&self) -> Option<ChangeFeed> {
        let mut said = self.feed.lock().unwrap().take()?;
        Some(ChangeFeed::new(move |sink| async move {
            while let Some(announcement) = said.recv().await {
                if !sink.announce(announcement) {
                    return;
                }
            }
        }))
    }
}

/// Verifies `key` through `gate` twice; how many lookups reached the store.
async fn lookups_for_two(gate: &KeyGate, store: &Announced, key: &str) -> usize {
    let before = store.fetches.load(Ordering::SeqCst);
    for _ in 0..2 {
        assert!(gate.verify(key).await.is_ok());
    }
    store.fetches.load(Ordering::SeqCst) - before
}

#[tokio::test]
async fn nothing_is_cached_while_the_feed_is_not_listening() {
    let (say, said) = mpsc::unbounded_channel();
    let store = Arc::new(Announced {
        inner: MemoryStore::new(),
        fetches: AtomicUsize::new(0),
        feed: std::sync::Mutex::new(Some(said)),
    });
    let gate = KeyGate::builder()
        .store(
            CachedStore::builder(store.clone())
                .ttl(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let key = gate.create_key(NewKey::new("k")).await.unwrap();
    let key = key.key.expose();
    let settle = || tokio::time::sleep(Duration::from_millis(50));

    // Before the feed first listens, a change made elsewhere would go unheard: not kept.
    assert_eq!(lookups_for_two(&gate, &store, key).await, 2);
    say.send(Announcement::Listening).unwrap();
    settle().await;
    assert_eq!(
        lookups_for_two(&gate, &store, key).await,
        1,
        "kept once heard"
    );
    say.send(Announcement::Lost).unwrap();
    settle().await;
    assert_eq!(
        lookups_for_two(&gate, &store, key).await,
        2,
        "not kept while lost"
    );
    say.send(Announcement::Listening).unwrap();
    settle().await;
    assert_eq!(lookups_for_two(&gate, &store, key).await, 1, "kept again");
}

#[tokio::test]
async fn a_store_without_a_feed_is_cached_from_the_start() {
    let store = Arc::new(Announced {
        inner: MemoryStore::new(),
        fetches: AtomicUsize::new(0),
        feed: std::sync::Mutex::new(None),
    });
    let gate = KeyGate::builder()
        .store(CachedStore::new(store.clone()))
        .build();
    let key = gate.create_key(NewKey::new("k")).await.unwrap();
    assert_eq!(lookups_for_two(&gate, &store, key.key.expose()).await, 1);
}
