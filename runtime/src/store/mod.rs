//! Where key records live: the [`KeyStore`] trait, the changes a record can undergo
//! ([`KeyChange`]), and the in-memory [`MemoryStore`].

use std::future::Future;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::record::{KeyFilter, KeyRecord};
use crate::usage::UsageHour;

mod change;
mod dyn_store;
mod feed;
mod memory;
#[cfg(test)]
pub(crate) mod scripted;

pub use change::{ChangeOutcome, KeyChange};
pub(crate) use dyn_store::{BoxFuture, DynStore};
pub use feed::{Announcement, ChangeFeed, FeedSink};
pub use memory::MemoryStore;

/// The error type for sources of store failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot answer now (unreachable, locked, timed out). Requests fail closed with
    /// `503 key_store_unavailable`.
    #[error("the key store is unavailable")]
    Unavailable(#[source] BoxError),
    /// A record with this key id already exists.
    #[error("a key with id `{0}` already exists")]
    Duplicate(String),
    /// The store holds data keygate cannot read.
    #[error("the key store holds an unreadable record: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Wraps any error as [`StoreError::Unavailable`].
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        StoreError::Unavailable(error.into())
    }
}

/// A place that holds key records. keygate asks it by public key id and never hands it a secret.
///
/// Implementations: [`MemoryStore`] here; the SQL stores of this crate's `sqlite` and `postgres`
/// features. Each method is one atomic operation, so concurrent changes cannot undo each other
/// (a scope change can never un-revoke a key, and two rotations of one key cannot both win).
///
/// ```
/// use keygate::{KeyGate, MemoryStore};
///
/// let gate = KeyGate::builder().prefix("acme_live").store(MemoryStore::new()).build();
/// # let _ = gate;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a keygate key store",
    label = "this is not a `KeyStore`",
    note = "use `keygate::MemoryStore::new()`, or implement `keygate::store::KeyStore` for `{Self}`"
)]
pub trait KeyStore: Send + Sync + 'static {
    /// The record with this key id, if any. Records come in an `Arc` so in-memory stores and
    /// caches can hand them out without copying.
    fn fetch(
        &self,
        key_id: &str,
    ) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send;

    /// Adds a new record; fails with [`StoreError::Duplicate`] if its key id is taken.
    fn insert(&self, record: KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records matching `filter`, oldest first.
    fn list(
        &self,
        filter: &KeyFilter,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send;

    /// Applies `change` to the key as one conditional write: either the key is still in a state
    /// that allows the change ([`KeyChange::refusal`]) and the change is written, or nothing is
    /// written and the outcome says why.
    fn update(
        &self,
        key_id: &str,
        change: KeyChange,
    ) -> impl Future<Output = Result<ChangeOutcome, StoreError>> + Send;

    /// Stores last-used times collected since the previous call. Unknown ids are ignored.
    fn record_last_used(
        &self,
        uses: &[(String, OffsetDateTime)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds per-hour usage counts collected since the previous call to those already stored for
    /// the same key and hour (several instances add to the same rows). All rows are written or
    /// none: a failed call is retried with the same counts, which must not add up twice.
    ///
    /// The default keeps nothing, for a store that cannot hold usage history.
    fn record_usage(
        &self,
        counts: &[(String, UsageHour)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = counts;
        async { Ok(()) }
    }

    /// The usage of `key_id` from the hour holding `since` on, oldest first.
    ///
    /// The default says the store is unavailable: a store that keeps no usage history cannot
    /// answer, and an empty history would claim the key was not used.
    fn usage(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<UsageHour>, StoreError>> + Send {
        let _ = (key_id, since);
        async {
            Err(StoreError::unavailable(
                "this key store keeps no usage history",
            ))
        }
    }

    /// Removes usage hours starting before `before`; returns how many rows went.
    fn prune_usage(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let _ = before;
        async { Ok(0) }
    }

    /// Announcements of changes made to this store by anyone, for caches in front of it: see
    /// [`ChangeFeed`]. `None` (the default) for a store only this process can change, such as
    /// [`MemoryStore`]: a cache in front of it sees every change itself.
    fn changes(&self) -> Option<ChangeFeed> {
        None
    }

    /// Every key id the store holds, in any state. A cache whose store has a [`ChangeFeed`]
    /// keeps them, so an id the store has never held is refused without asking it. The default
    /// lists the records; a database can answer from its index alone.
    fn key_ids(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        async move {
            let records = self.list(&KeyFilter::default()).await?;
            Ok(records.into_iter().map(|record| record.key_id).collect())
        }
    }
}

/// A shared store is a store: keep an `Arc` to inspect or change it while a `KeyGate` uses it.
impl<S: KeyStore> KeyStore for Arc<S> {
    fn fetch(
        &self,
        key_id: &str,
    ) -> impl Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send {
        S::fetch(self, key_id)
    }
    fn insert(&self, record: KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send {
        S::insert(self, record)
    }
    fn list(
        &self,
        filter: &KeyFilter,
    ) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send {
        S::list(self, filter)
    }
    fn update(
        &self,
        key_id: &str,
        change: KeyChange,
    ) -> impl Future<Output = Result<ChangeOutcome, StoreError>> + Send {
        S::update(self, key_id, change)
    }
    fn record_last_used(
        &self,
        uses: &[(String, OffsetDateTime)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        S::record_last_used(self, uses)
    }
    fn record_usage(
        &self,
        counts: &[(String, UsageHour)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        S::record_usage(self, counts)
    }
    fn usage(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<UsageHour>, StoreError>> + Send {
        S::usage(self, key_id, since)
    }
    fn prune_usage(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        S::prune_usage(self, before)
    }
    fn changes(&self) -> Option<ChangeFeed> {
        S::changes(self)
    }
    fn key_ids(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        S::key_ids(self)
    }
}
