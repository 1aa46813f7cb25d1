//! What a [`CachedStore`](super::CachedStore) holds, and how a change makes it forget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use moka::sync::Cache;

use super::known::KnownIds;
use crate::record::KeyRecord;

/// The cache's contents: what lookups read, and what announcements invalidate.
pub(super) struct Held {
    /// Found records. Two caches with a fixed time-to-live each, rather than one with
    /// per-entry expiry, keep a hit to a single plain lookup; synchronous caches, because a hit
    /// never waits and moka's synchronous read path costs about a third less than its async one.
    ///
    /// Keyed with foldhash rather than SipHash: only ids the store returned are ever inserted
    /// here, and keygate mints those from the OS random source, so nobody can choose ids that
    /// collide; a hit costs about a third less. Unknown ids are chosen by whoever sends the
    /// request, so `unknown` keeps the standard library's flood-resistant hasher.
    pub(super) found: Cache<String, Arc<KeyRecord>, foldhash::fast::RandomState>,
    /// Ids the store does not know.
    pub(super) unknown: Cache<String, ()>,
    /// Counts invalidations. A lookup notes it before asking the store; if it moved by the time
    /// the answer is cached, a change may have landed in between, and the answer is dropped
    /// from the cache again rather than left there for a whole time-to-live.
    pub(super) epoch: AtomicU64,
    /// Every id the store holds, when the store announces its changes.
    pub(super) ids: KnownIds,
    /// Whether every change to the store reaches this cache: always for a store without a feed
    /// (only this process changes it, through the cache), and for one with a feed from its
    /// `Listening` to its next `Lost`. Nothing is cached otherwise: before the feed first
    /// listens and while it is down, a change made elsewhere would go unheard, and a cached
    /// answer would outlive it by a whole time-to-live.
    pub(super) following: AtomicBool,
}

impl Held {
    /// Forgets `key_id`. Counted first: a lookup that read the store before this change and
    /// caches its answer after the removals below sees the count moved and removes that answer
    /// itself.
    pub(super) fn invalidate(&self, key_id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.found.invalidate(key_id);
        self.unknown.invalidate(key_id);
    }

    /// Whether an answer read from the store may be kept.
    pub(super) fn may_keep(&self) -> bool {
        self.following.load(Ordering::Acquire)
    }

    /// Forgets everything, for changes that may have gone unannounced.
    pub(super) fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.found.invalidate_all();
        self.unknown.invalidate_all();
    }
}
