//! [`KeyStore`] made object-safe, so `KeyGate` is one type whatever store it holds.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{ChangeOutcome, KeyChange, KeyStore, StoreError};
use crate::metrics;
use crate::record::{KeyFilter, KeyRecord};
use crate::usage::UsageHour;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe mirror of [`KeyStore`]; every `KeyStore` is one. Every call the gate makes
/// passes here, so store failures are counted here (`keygate_store_errors_total`).
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
    fn update<'a>(
        &'a self,
        key_id: &'a str,
        change: KeyChange,
    ) -> BoxFuture<'a, Result<ChangeOutcome, StoreError>>;
    fn record_last_used<'a>(
        &'a self,
        uses: &'a [(String, OffsetDateTime)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn record_usage<'a>(
        &'a self,
        counts: &'a [(String, UsageHour)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn usage<'a>(
        &'a self,
        key_id: &'a str,
        since: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<UsageHour>, StoreError>>;
    fn prune_usage(&self, before: OffsetDateTime) -> BoxFuture<'_, Result<u64, StoreError>>;
}

impl<T: KeyStore> DynStore for T {
    fn fetch<'a>(
        &'a self,
        key_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<KeyRecord>>, StoreError>> {
        Box::pin(metrics::store_call("fetch", KeyStore::fetch(self, key_id)))
    }
    fn insert(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(metrics::store_call(
            "insert",
            KeyStore::insert(self, record),
        ))
    }
    fn list<'a>(
        &'a self,
        filter: &'a KeyFilter,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        Box::pin(metrics::store_call("list", KeyStore::list(self, filter)))
    }
    fn update<'a>(
        &'a self,
        key_id: &'a str,
        change: KeyChange,
    ) -> BoxFuture<'a, Result<ChangeOutcome, StoreError>> {
        Box::pin(metrics::store_call(
            "update",
            KeyStore::update(self, key_id, change),
        ))
    }
    fn record_last_used<'a>(
        &'a self,
        uses: &'a [(String, OffsetDateTime)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(metrics::store_call(
            "record_last_used",
            KeyStore::record_last_used(self, uses),
        ))
    }
    fn record_usage<'a>(
        &'a self,
        counts: &'a [(String, UsageHour)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(KeyStore::record_usage(self, counts))
    }
    fn usage<'a>(
        &'a self,
        key_id: &'a str,
        since: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<UsageHour>, StoreError>> {
        Box::pin(KeyStore::usage(self, key_id, since))
    }
    fn prune_usage(&self, before: OffsetDateTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(KeyStore::prune_usage(self, before))
    }
}
