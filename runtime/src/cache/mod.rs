//! [`CachedStore`]: a moka cache in front of any [`KeyStore`].

use std::collections::HashSet;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use moka::sync::Cache;
use time::OffsetDateTime;

use crate::metrics;
use crate::record::{KeyFilter, KeyRecord};
use crate::store::{
    Announcement, ChangeFeed, ChangeOutcome, FeedSink, KeyChange, KeyStore, StoreError,
};
use crate::usage::UsageHour;

mod follow;
mod held;
mod known;
mod miss;

use follow::hear;
use held::Held;
use known::{Budget, KnownIds};
use miss::{Miss, unshare};

/// A cache in front of a [`KeyStore`], so most verifications never reach the database.
///
/// - A found record is kept for a short time (default 10 seconds).
/// - An unknown key id is remembered too (default 5 seconds), so a flood of well-formed but
///   unknown keys costs at most one store query per id per period.
/// - Concurrent misses for one id share a single store query.
/// - Every change made through this store (create, revoke, rotate, scopes, expiry) drops the
///   affected entries at once, so it takes effect immediately in this process.
/// - A change made by another process (the `keygate` command line, another instance) takes
///   effect as soon as the store announces it, when the store has a [`ChangeFeed`]
///   ([`SqlStore`](crate::SqlStore) does: PostgreSQL notifications, or a SQLite change log
///   looked at every 100 ms). The feed runs on the tokio runtime the cache is built in (or first
///   used in). If the feed loses its connection, the cache drops everything it holds, and keeps
///   nothing until the feed listens again (nor before it first listens): meanwhile every lookup
///   asks the store, so a change made elsewhere takes effect at once even then. The
///   time-to-live stays the last line of defence.
/// - With a feed, the cache also keeps a fingerprint of every key id the store holds, so a
///   well-formed key whose id the store never issued costs no query: a flood of made-up ids
///   reaches the database at most 20 times a second
///   ([`unknown_id_lookups_per_second`](CachedStoreBuilder::unknown_id_lookups_per_second)),
///   which still lets a key created by another process a moment ago, before its announcement
///   arrives, be found.
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
    inner: Arc<S>,
    /// What the cache holds, shared with the feed's handler.
    held: Arc<Held>,
    /// Lookups in flight: concurrent misses for one id wait on the first one's query. An entry
    /// lives only until its result has moved to `found`.
    /// Keyed by id and `epoch`, so a lookup that starts after a change never joins one that
    /// started before it.
    loading: moka::future::Cache<(String, u64), Arc<KeyRecord>>,
    /// The store's feed, when the cache was built outside a tokio runtime: started by the first
    /// lookup. `feed_waiting` says whether there is one, so lookups need not take the lock.
    waiting_feed: Mutex<Option<ChangeFeed>>,
    feed_waiting: AtomicBool,
    /// Lookups a second of ids the known set does not hold.
    doubts: Budget,
}

impl<S> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("found", &self.held.found.entry_count())
            .field("unknown", &self.held.unknown.entry_count())
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
    known_ids: bool,
    unknown_id_lookups: u32,
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

    /// Whether to keep fingerprints of every key id the store holds (8 bytes a key), so unknown
    /// ids are refused without a query. Default on; it takes effect only for a store with a
    /// [`ChangeFeed`], which keeps the set current.
    pub fn known_ids(mut self, keep: bool) -> Self {
        self.known_ids = keep;
        self
    }

    /// How many lookups a second may go to the store for ids the known set does not hold
    /// (created elsewhere a moment ago, their announcement still on the way). Default 20: a
    /// key used the instant another process created it still works, and a flood of made-up ids
    /// costs the store at most this many queries a second. `0` refuses such ids outright until
    /// their creation is announced.
    pub fn unknown_id_lookups_per_second(mut self, lookups: u32) -> Self {
        self.unknown_id_lookups = lookups;
        self
    }

    /// Builds the cached store, and starts the store's [`ChangeFeed`] if it has one (on the
    /// current tokio runtime; outside one, at the first lookup).
    pub fn build(self) -> CachedStore<S> {
        let feed = self.inner.changes();
        let held = Arc::new(Held {
            found: Cache::builder()
                .max_capacity(self.max_capacity)
                .time_to_live(self.ttl)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            unknown: Cache::builder()
                .max_capacity(self.max_capacity)
                .time_to_live(self.negative_ttl)
                .build(),
            epoch: AtomicU64::new(0),
            following: AtomicBool::new(feed.is_none()),
            ids: KnownIds {
                enabled: self.known_ids && feed.is_some(),
                complete: AtomicBool::new(false),
                generation: AtomicU64::new(0),
                seed: foldhash::fast::RandomState::default(),
                set: RwLock::new(HashSet::default()),
            },
        });
        let store = CachedStore {
            inner: Arc::new(self.inner),
            held,
            loading: moka::future::Cache::builder()
                .max_capacity(self.max_capacity)
                .time_to_live(self.ttl)
                .build(),
            feed_waiting: AtomicBool::new(feed.is_some()),
            waiting_feed: Mutex::new(feed),
            doubts: Budget::new(self.unknown_id_lookups),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            store.start_feed();
        }
        store
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
            known_ids: true,
            unknown_id_lookups: 20,
        }
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Drops what the cache holds for `key_id`, for a change learnt of some other way.
    pub async fn invalidate(&self, key_id: &str) {
        self.held.invalidate(key_id);
    }

    /// Whether the cache holds every key id its store has, so that unknown ids are refused without
    /// a query: true once the store's [`ChangeFeed`] listens and the ids are listed, false while
    /// the feed is down (and always for a store without a feed).
    pub fn knows_every_key_id(&self) -> bool {
        self.held.ids.complete.load(Ordering::Acquire)
    }

    /// Whether the cache keeps what it reads: always for a store without a [`ChangeFeed`], and
    /// for one with a feed while the feed listens. While it does not (before it first listens,
    /// and from a lost connection until it listens again), every lookup asks the store. A
    /// readiness check can report it: false for long means every request reaches the database.
    ///
    /// ```
    /// use keygate::{CachedStore, MemoryStore};
    ///
    /// let cached = CachedStore::new(MemoryStore::new());
    /// assert!(cached.follows_changes(), "only this process changes a MemoryStore");
    /// ```
    pub fn follows_changes(&self) -> bool {
        self.held.may_keep()
    }

    /// Starts the store's feed, if it has one not yet started. Announcements go to `held`
    /// through weak references, so dropping the cache ends the feed.
    fn start_feed(&self) {
        if !self.feed_waiting.swap(false, Ordering::AcqRel) {
            return;
        }
        let Some(feed) = self
            .waiting_feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let held = Arc::downgrade(&self.held);
        let inner = Arc::downgrade(&self.inner);
        feed.spawn(FeedSink::new(move |announcement| {
            let Some(held) = held.upgrade() else {
                return false;
            };
            if let Some(announcement) = announcement {
                hear(&held, &inner, announcement);
            }
            true
        }));
    }

    /// A miss: asks the inner store, sharing the query with concurrent misses for the same id.
    async fn load(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // Concurrent misses for one id share this one lookup. Only a found record is kept here;
        // an unknown id goes to the negative cache; errors are kept nowhere.
        let epoch = self.held.epoch.load(Ordering::SeqCst);
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
        let changed = || self.held.epoch.load(Ordering::SeqCst) != epoch;
        match result {
            Ok(record) => {
                if self.held.may_keep() {
                    self.held.found.insert(slot.0.clone(), record.clone());
                    if changed() {
                        self.held.found.invalidate(key_id);
                    }
                }
                self.loading.invalidate(&slot).await;
                Ok(Some(record))
            }
            Err(miss) if matches!(*miss, Miss::Unknown) => {
                if self.held.may_keep() {
                    self.held.unknown.insert(slot.0, ());
                    if changed() {
                        self.held.unknown.invalidate(key_id);
                    }
                }
                Ok(None)
            }
            Err(miss) => Err(unshare(miss)),
        }
    }
}

impl<S: KeyStore> KeyStore for CachedStore<S> {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // A hit borrows the id; only a miss allocates it as a key.
        if let Some(record) = self.held.found.get(key_id) {
            metrics::cache_lookup(metrics::CacheLookup::Hit);
            return Ok(Some(record));
        }
        if self.held.unknown.contains_key(key_id) {
            metrics::cache_lookup(metrics::CacheLookup::NegativeHit);
            return Ok(None);
        }
        // An id the store has never held, as far as the announcements say. It may have been
        // created elsewhere a moment ago, its announcement still on the way: a few such ids a
        // second are still asked of the store, so `create` then `use` works at once, while a
        // flood of made-up ids costs at most that many queries a second.
        if self.held.ids.surely_unknown(key_id) && !self.doubts.take() {
            metrics::cache_lookup(metrics::CacheLookup::NegativeHit);
            return Ok(None);
        }
        if self.feed_waiting.load(Ordering::Relaxed) {
            self.start_feed();
        }
        // The miss path's future (the inner store's query and moka's loader) is large; boxing it
        // here keeps the hit path's future small, so the gate's per-request box stays cheap.
        metrics::cache_lookup(metrics::CacheLookup::Miss);
        let loaded = Box::pin(self.load(key_id)).await;
        metrics::cache_entries(|| self.held.found.entry_count() + self.held.unknown.entry_count());
        loaded
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let key_id = record.key_id.clone();
        // Known before it exists: a lookup right after the insert must reach the store.
        self.held.ids.add(&key_id);
        let result = self.inner.insert(record).await;
        self.invalidate(&key_id).await;
        result
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list(filter).await
    }

    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        let created = change.created_key_id().map(str::to_owned);
        if let Some(created) = &created {
            self.held.ids.add(created);
        }
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

    // Usage history is not cached: it is read rarely, by people, and must be current.
    async fn record_usage(&self, counts: &[(String, UsageHour)]) -> Result<(), StoreError> {
        self.inner.record_usage(counts).await
    }
    async fn usage(&self, id: &str, since: OffsetDateTime) -> Result<Vec<UsageHour>, StoreError> {
        self.inner.usage(id, since).await
    }
    async fn prune_usage(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.prune_usage(before).await
    }

    /// `None`: the cache runs its store's feed itself; a cache in front of this one sees every
    /// change made through it.
    fn changes(&self) -> Option<ChangeFeed> {
        None
    }

    async fn key_ids(&self) -> Result<Vec<String>, StoreError> {
        self.inner.key_ids().await
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
