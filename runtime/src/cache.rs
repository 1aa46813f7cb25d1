//! [`CachedStore`]: a moka cache in front of any [`KeyStore`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use time::OffsetDateTime;

use crate::record::{KeyFilter, KeyRecord};
use crate::store::{ChangeOutcome, KeyChange, KeyStore, StoreError};

/// A cache in front of a [`KeyStore`], so most verifications never reach the database.
///
/// - A found record is kept for a short time (default 10 seconds).
/// - An unknown key id is remembered too (default 5 seconds), so a flood of well-formed but
///   unknown keys costs at most one store query per id per period.
/// - Concurrent misses for one id share a single store query.
/// - Every change made through this store (create, revoke, rotate, scopes, expiry) drops the
///   affected entries at once, so it takes effect immediately in this process. A change made by
///   another process (the `keygate` command line, another instance) takes effect here within the
///   time-to-live.
/// - Store errors are never cached: the next request asks the store again.
///
/// ```
/// use std::time::Duration;
/// use keygate::{CachedStore, KeyGate, MemoryStore, NewKey};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = CachedStore::builder(MemoryStore::new())
///     .ttl(Duration::from_secs(10))
///     .negative_ttl(Duration::from_secs(5))
///     .build();
/// let gate = KeyGate::builder().prefix("acme_live").store(store).build();
/// let created = gate.create_key(NewKey::new("ci")).await.unwrap();
/// assert!(gate.verify(created.key.expose()).await.is_ok());
/// gate.revoke_key(&created.record.key_id).await.unwrap();
/// assert!(gate.verify(created.key.expose()).await.is_err(), "revocation is immediate");
/// # }
/// ```
pub struct CachedStore<S> {
    inner: S,
    /// Found records. Two caches with a fixed time-to-live each, rather than one with
    /// per-entry expiry, keep a hit to a single plain lookup; synchronous caches, because a hit
    /// never waits and moka's synchronous read path costs about a third less than its async one.
    ///
    /// Keyed with foldhash rather than SipHash: only ids the store returned are ever inserted
    /// here, and keygate mints those from the OS random source, so nobody can choose ids that
    /// collide; a hit costs about a third less. Unknown ids are chosen by whoever sends the
    /// request, so `unknown` keeps the standard library's flood-resistant hasher.
    found: Cache<String, Arc<KeyRecord>, foldhash::fast::RandomState>,
    /// Ids the store does not know.
    unknown: Cache<String, ()>,
    /// Lookups in flight: concurrent misses for one id wait on the first one's query. An entry
    /// lives only until its result has moved to `found`.
    /// Keyed by id and `epoch`, so a lookup that starts after a change never joins one that
    /// started before it.
    loading: moka::future::Cache<(String, u64), Arc<KeyRecord>>,
    /// Counts invalidations. A lookup notes it before asking the store; if it moved by the time
    /// the answer is cached, a change may have landed in between, and the answer is dropped
    /// from the cache again rather than left there for a whole time-to-live.
    epoch: AtomicU64,
}

impl<S> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("found", &self.found.entry_count())
            .field("unknown", &self.unknown.entry_count())
            .finish_non_exhaustive()
    }
}

/// Settings for a [`CachedStore`]. Start with [`CachedStore::builder`].
#[derive(Debug)]
pub struct CachedStoreBuilder<S> {
    inner: S,
    ttl: Duration,
    negative_ttl: Duration,
    max_capacity: u64,
}

impl<S: KeyStore> CachedStoreBuilder<S> {
    /// How long a found record is served from the cache. Default 10 seconds: the longest a
    /// revocation made by another process can take to reach this one.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an unknown key id is remembered as unknown. Default 5 seconds.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// The most entries kept, of found records and of unknown ids each. Default 100,000.
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.max_capacity = entries;
        self
    }

    /// Builds the cached store.
    pub fn build(self) -> CachedStore<S> {
        CachedStore {
            inner: self.inner,
            found: Cache::builder()
                .max_capacity(self.max_capacity)
                .time_to_live(self.ttl)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            unknown: Cache::builder()
                .max_capacity(self.max_capacity)
                .time_to_live(self.negative_ttl)
                .build(),
            loading: moka::future::Cache::builder()
                .max_capacity(self.max_capacity)
                .time_to_live(self.ttl)
                .build(),
            epoch: AtomicU64::new(0),
        }
    }
}

impl<S: KeyStore> CachedStore<S> {
    /// `inner` behind a cache with the default settings.
    pub fn new(inner: S) -> Self {
        CachedStore::builder(inner).build()
    }

    /// `inner` behind a cache, with settings to choose.
    pub fn builder(inner: S) -> CachedStoreBuilder<S> {
        CachedStoreBuilder {
            inner,
            ttl: Duration::from_secs(10),
            negative_ttl: Duration::from_secs(5),
            max_capacity: 100_000,
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Drops what the cache holds for `key_id`, for a change learnt of some other way (a
    /// database notification, say).
    pub async fn invalidate(&self, key_id: &str) {
        // Counted first: a lookup that read the store before this change and caches its answer
        // after the removals below sees the count moved and removes that answer itself.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.found.invalidate(key_id);
        self.unknown.invalidate(key_id);
    }

    /// A miss: asks the inner store, sharing the query with concurrent misses for the same id.
    async fn load(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // Concurrent misses for one id share this one lookup. Only a found record is kept here;
        // an unknown id goes to the negative cache; errors are kept nowhere.
        let epoch = self.epoch.load(Ordering::SeqCst);
        let slot = (key_id.to_owned(), epoch);
        let lookup = async {
            match self.inner.fetch(key_id).await {
                Ok(Some(record)) => Ok(record),
                Ok(None) => Err(Miss::Unknown),
                Err(error) => Err(Miss::Store(error)),
            }
        };
        let result = self.loading.try_get_with(slot.clone(), lookup).await;
        // Cached first and checked after: a change that lands after the check removes the
        // entry itself.
        let changed = || self.epoch.load(Ordering::SeqCst) != epoch;
        match result {
            Ok(record) => {
                self.found.insert(slot.0.clone(), record.clone());
                if changed() {
                    self.found.invalidate(key_id);
                }
                self.loading.invalidate(&slot).await;
                Ok(Some(record))
            }
            Err(miss) if matches!(*miss, Miss::Unknown) => {
                self.unknown.insert(slot.0, ());
                if changed() {
                    self.unknown.invalidate(key_id);
                }
                Ok(None)
            }
            Err(miss) => Err(unshare(miss)),
        }
    }
}

/// Why a shared lookup produced no record.
#[derive(Debug)]
enum Miss {
    Unknown,
    Store(StoreError),
}

/// A store error shared by every request that waited on the same miss.
#[derive(Debug)]
struct Shared(Arc<Miss>);

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Miss::Store(error) => fmt::Display::fmt(error, f),
            Miss::Unknown => f.write_str("unknown key id"),
        }
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            Miss::Store(error) => std::error::Error::source(error),
            Miss::Unknown => None,
        }
    }
}

fn unshare(miss: Arc<Miss>) -> StoreError {
    match &*miss {
        Miss::Store(StoreError::Duplicate(id)) => StoreError::Duplicate(id.clone()),
        Miss::Store(StoreError::Corrupt(what)) => StoreError::Corrupt(what.clone()),
        _ => StoreError::unavailable(Shared(miss)),
    }
}

impl<S: KeyStore> KeyStore for CachedStore<S> {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // A hit borrows the id; only a miss allocates it as a key.
        if let Some(record) = self.found.get(key_id) {
            return Ok(Some(record));
        }
        if self.unknown.contains_key(key_id) {
            return Ok(None);
        }
        // The miss path's future (the inner store's query and moka's loader) is large; boxing it
        // here keeps the hit path's future small, so the gate's per-request box stays cheap.
        Box::pin(self.load(key_id)).await
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let key_id = record.key_id.clone();
        let result = self.inner.insert(record).await;
        self.invalidate(&key_id).await;
        result
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list(filter).await
    }

    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        let created = change.created_key_id().map(str::to_owned);
        let result = self.inner.update(key_id, change).await;
        // Forgotten whatever the result: an error may hide a change that was written.
        self.invalidate(key_id).await;
        if let Some(created) = created {
            self.invalidate(&created).await;
        }
        result
    }

    /// Passed through: last-used times are informational, so cached records may show an older
    /// one for up to the time-to-live.
    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        self.inner.record_last_used(uses).await
    }
}
