//! The usage writer against a store that takes its time.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Usage, UsageHour, UsageKind};
use crate::MemoryStore;
use crate::store::KeyStore;

/// A store whose first usage write waits until the test lets it go.
struct SlowFirstWrite {
    inner: MemoryStore,
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
    writes: std::sync::atomic::AtomicUsize,
}

impl KeyStore for SlowFirstWrite {
    async fn fetch(
        &self,
        key_id: &str,
    ) -> Result<Option<Arc<crate::record::KeyRecord>>, crate::store::StoreError> {
        self.inner.fetch(key_id).await
    }
    async fn insert(
        &self,
        record: crate::record::KeyRecord,
    ) -> Result<(), crate::store::StoreError> {
        self.inner.insert(record).await
    }
    async fn list(
        &self,
        filter: &crate::record::KeyFilter,
    ) -> Result<Vec<crate::record::KeyRecord>, crate::store::StoreError> {
        self.inner.list(filter).await
    }
    async fn update(
        &self,
        key_id: &str,
        change: crate::store::KeyChange,
    ) -> Result<crate::store::ChangeOutcome, crate::store::StoreError> {
        self.inner.update(key_id, change).await
    }
    async fn record_last_used(
        &self,
        uses: &[(String, OffsetDateTime)],
    ) -> Result<(), crate::store::StoreError> {
        self.inner.record_last_used(uses).await
    }
    async fn record_usage(
        &self,
        counts: &[(String, UsageHour)],
    ) -> Result<(), crate::store::StoreError> {
        let first = self
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 0;
        if first {
            self.started.notify_one();
            self.release.notified().await;
        }
        self.inner.record_usage(counts).await
    }
    async fn usage(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<UsageHour>, crate::store::StoreError> {
        self.inner.usage(key_id, since).await
    }
}

/// A flush called while the periodic writer is writing (a service shutting down, say) returns
/// only once those counts are stored: it used to find nothing pending and return at once, and
/// the process could end with the writer's counts in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_waits_for_a_write_already_under_way() {
    let store = Arc::new(SlowFirstWrite {
        inner: MemoryStore::new(),
        started: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
        writes: std::sync::atomic::AtomicUsize::new(0),
    });
    let usage = Arc::new(Usage::new(
        store.clone(),
        Duration::from_secs(3600),
        Duration::from_secs(90 * 86_400),
        true,
    ));
    let at = std::time::SystemTime::now();
    usage.record("k1", UsageKind::Admitted, at);
    let writer = {
        let usage = usage.clone();
        tokio::spawn(async move { usage.flush().await })
    };
    store.started.notified().await;
    // The writer holds the counts; the shutdown flush starts now.
    let shutdown = {
        let usage = usage.clone();
        tokio::spawn(async move { usage.flush().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !shutdown.is_finished(),
        "returned before the counts were stored"
    );
    store.release.notify_one();
    shutdown.await.unwrap().unwrap();
    let stored = store
        .inner
        .usage("k1", OffsetDateTime::now_utc() - time::Duration::HOUR)
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|row| row.admitted).sum::<u64>(), 1);
    writer.await.unwrap().unwrap();
}
