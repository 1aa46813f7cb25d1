//! Where key records live: the [`KeyStore`] trait and the in-memory [`MemoryStore`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use time::OffsetDateTime;

use crate::record::{KeyFilter, KeyRecord};

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
/// (a scope change can never un-revoke a key, say).
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
    note = "use `keygate::MemoryStore::new()`, or implement `keygate::KeyStore` for `{Self}`"
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

    /// Marks the key revoked at `at` unless it already is. `false` if there is no such key.
    fn revoke(
        &self,
        key_id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets or clears the expiry. `false` if there is no such key.
    fn set_expiry(
        &self,
        key_id: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Replaces the granted scopes. `false` if there is no such key.
    fn set_scopes(
        &self,
        key_id: &str,
        scopes: &[String],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// In one step: inserts `replacement` (whose `rotated_from` names the old key), links the old
    /// key to it and makes the old key expire at `old_expires_at` unless it expires sooner.
    /// `false` (and nothing written) if the old key does not exist.
    fn rotate(
        &self,
        old_key_id: &str,
        replacement: KeyRecord,
        old_expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores last-used times collected since the previous call. Unknown ids are ignored.
    fn record_last_used(
        &self,
        uses: &[(String, OffsetDateTime)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
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
    fn revoke(
        &self,
        key_id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        S::revoke(self, key_id, at)
    }
    fn set_expiry(
        &self,
        key_id: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        S::set_expiry(self, key_id, expires_at)
    }
    fn set_scopes(
        &self,
        key_id: &str,
        scopes: &[String],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        S::set_scopes(self, key_id, scopes)
    }
    fn rotate(
        &self,
        old_key_id: &str,
        replacement: KeyRecord,
        old_expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        S::rotate(self, old_key_id, replacement, old_expires_at)
    }
    fn record_last_used(
        &self,
        uses: &[(String, OffsetDateTime)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        S::record_last_used(self, uses)
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`KeyStore`] made object-safe, so `KeyGate` is one type whatever store it holds.
pub(crate) trait DynStore: Send + Sync + 'static {
    fn fetch<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<KeyRecord>>, StoreError>>;
    fn insert(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>>;
    fn list<'a>(
        &'a self,
        filter: &'a KeyFilter,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>>;
    fn revoke<'a>(
        &'a self,
        key_id: &'a str,
        at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn set_expiry<'a>(
        &'a self,
        key_id: &'a str,
        expires_at: Option<OffsetDateTime>,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn set_scopes<'a>(
        &'a self,
        key_id: &'a str,
        scopes: &'a [String],
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn rotate<'a>(
        &'a self,
        old_key_id: &'a str,
        replacement: KeyRecord,
        old_expires_at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn record_last_used<'a>(
        &'a self,
        uses: &'a [(String, OffsetDateTime)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<T: KeyStore> DynStore for T {
    fn fetch<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<KeyRecord>>, StoreError>> {
        Box::pin(KeyStore::fetch(self, key_id))
    }
    fn insert(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(KeyStore::insert(self, record))
    }
    fn list<'a>(
        &'a self,
        filter: &'a KeyFilter,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        Box::pin(KeyStore::list(self, filter))
    }
    fn revoke<'a>(
        &'a self,
        key_id: &'a str,
        at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(KeyStore::revoke(self, key_id, at))
    }
    fn set_expiry<'a>(
        &'a self,
        key_id: &'a str,
        expires_at: Option<OffsetDateTime>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(KeyStore::set_expiry(self, key_id, expires_at))
    }
    fn set_scopes<'a>(
        &'a self,
        key_id: &'a str,
        scopes: &'a [String],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(KeyStore::set_scopes(self, key_id, scopes))
    }
    fn rotate<'a>(
        &'a self,
        old_key_id: &'a str,
        replacement: KeyRecord,
        old_expires_at: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(KeyStore::rotate(
            self,
            old_key_id,
            replacement,
            old_expires_at,
        ))
    }
    fn record_last_used<'a>(
        &'a self,
        uses: &'a [(String, OffsetDateTime)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(KeyStore::record_last_used(self, uses))
    }
}

/// Keys held in process memory: for tests and small services. Lost on restart.
///
/// ```
/// use keygate::{KeyGate, MemoryStore, NewKey};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let gate = KeyGate::builder().prefix("demo").store(MemoryStore::new()).build();
/// let created = gate.create_key(NewKey::new("ci").scopes(["items:read"])).await.unwrap();
/// let identity = gate.verify(created.key.expose()).await.unwrap();
/// assert_eq!(identity.name(), "ci");
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: RwLock<HashMap<String, Arc<KeyRecord>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Applies `change` to a copy of the record and swaps it in; `false` if the key is unknown.
    fn update(&self, key_id: &str, change: impl FnOnce(&mut KeyRecord)) -> bool {
        // A panic while holding the lock cannot leave a half-written record (records are swapped
        // whole), so a poisoned lock is safe to keep using.
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        match records.get_mut(key_id) {
            Some(record) => {
                change(Arc::make_mut(record));
                true
            }
            None => false,
        }
    }
}

impl KeyStore for MemoryStore {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let records = self.records.read().unwrap_or_else(PoisonError::into_inner);
        Ok(records.get(key_id).cloned())
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        if records.contains_key(&record.key_id) {
            return Err(StoreError::Duplicate(record.key_id));
        }
        records.insert(record.key_id.clone(), Arc::new(record));
        Ok(())
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let records = self.records.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<KeyRecord> = records
            .values()
            .filter(|r| filter.matches(r, now))
            .map(|r| KeyRecord::clone(r))
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.key_id).cmp(&(b.created_at, &b.key_id)));
        Ok(out)
    }

    async fn revoke(&self, key_id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(self.update(key_id, |r| {
            r.revoked_at.get_or_insert(at);
        }))
    }

    async fn set_expiry(
        &self,
        key_id: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        Ok(self.update(key_id, |r| r.expires_at = expires_at))
    }

    async fn set_scopes(&self, key_id: &str, scopes: &[String]) -> Result<bool, StoreError> {
        Ok(self.update(key_id, |r| r.scopes = scopes.to_vec()))
    }

    async fn rotate(
        &self,
        old_key_id: &str,
        replacement: KeyRecord,
        old_expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        if records.contains_key(&replacement.key_id) {
            return Err(StoreError::Duplicate(replacement.key_id));
        }
        let Some(old) = records.get_mut(old_key_id) else {
            return Ok(false);
        };
        let old = Arc::make_mut(old);
        old.rotated_to = Some(replacement.key_id.clone());
        old.expires_at = Some(
            old.expires_at
                .map_or(old_expires_at, |e| e.min(old_expires_at)),
        );
        records.insert(replacement.key_id.clone(), Arc::new(replacement));
        Ok(true)
    }

    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        for (key_id, at) in uses {
            if let Some(record) = records.get_mut(key_id) {
                let record = Arc::make_mut(record);
                if record.last_used_at.is_none_or(|prev| prev < *at) {
                    record.last_used_at = Some(*at);
                }
            }
        }
        Ok(())
    }
}
