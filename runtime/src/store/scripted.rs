//! A `MemoryStore` for unit tests that counts its lookups, can fail its reads once a rotation is
//! written, and announces through its change feed what the test says.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::{
    Announcement, ChangeFeed, ChangeOutcome, KeyChange, KeyStore, MemoryStore, StoreError,
};
use crate::record::{KeyFilter, KeyRecord};

#[derive(Default)]
pub(crate) struct Scripted {
    inner: MemoryStore,
    /// Lookups that reached the store.
    pub(crate) fetches: AtomicUsize,
    /// Whether reads fail, as a database that times out.
    pub(crate) failing: AtomicBool,
    /// Set `failing` once a rotation has been written.
    fail_after_rotation: bool,
    /// The feed's announcements, when the store has a feed.
    feed: Mutex<Option<mpsc::UnboundedReceiver<Announcement>>>,
}

impl Scripted {
    /// A store whose reads fail once a rotation has been written: a database that answers the
    /// write and then times out on the next query.
    pub(crate) fn failing_after_rotation() -> Scripted {
        Scripted {
            fail_after_rotation: true,
            ..Scripted::default()
        }
    }

    /// A store with a feed, and the sender of what it announces.
    pub(crate) fn with_feed() -> (Scripted, mpsc::UnboundedSender<Announcement>) {
        let (say, said) = mpsc::unbounded_channel();
        let store = Scripted {
            feed: Mutex::new(Some(said)),
            ..Scripted::default()
        };
        (store, say)
    }
}

impl KeyStore for Scripted {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
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
        if rotation && self.fail_after_rotation && outcome == ChangeOutcome::Applied {
            self.failing.store(true, Ordering::SeqCst);
        }
        Ok(outcome)
    }
    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        self.inner.record_last_used(uses).await
    }
    fn changes(&self) -> Option<ChangeFeed> {
        let mut said = self
            .feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(ChangeFeed::new(move |sink| async move {
            while let Some(announcement) = said.recv().await {
                if !sink.announce(announcement) {
                    return;
                }
            }
        }))
    }
}
