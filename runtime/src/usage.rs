//! Last-used times, kept in memory and written in batches, so admitting a request never waits on
//! a store write. The recorder holds the store it writes to, not the gate: the gate depends on
//! it, never the other way round.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use crate::store::{DynStore, StoreError};

pub(crate) struct Usage {
    shared: Arc<Recorder>,
}

struct Recorder {
    pending: Mutex<HashMap<String, OffsetDateTime>>,
    store: Arc<dyn DynStore>,
    flusher_started: AtomicBool,
    interval: Duration,
}

impl Usage {
    pub(crate) fn new(store: Arc<dyn DynStore>, interval: Duration) -> Self {
        Usage {
            shared: Arc::new(Recorder {
                pending: Mutex::new(HashMap::new()),
                store,
                flusher_started: AtomicBool::new(false),
                interval,
            }),
        }
    }

    /// Notes that `key_id` was admitted at `at`. Allocates only the first time a key is seen
    /// between two flushes.
    pub(crate) fn record(&self, key_id: &str, at: OffsetDateTime) {
        let recorder = &self.shared;
        {
            let mut pending = recorder
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match pending.get_mut(key_id) {
                Some(last) => *last = at,
                None => {
                    pending.insert(key_id.to_owned(), at);
                }
            }
        }
        if !recorder.flusher_started.load(Ordering::Relaxed)
            && !recorder.flusher_started.swap(true, Ordering::AcqRel)
        {
            start_flusher(&self.shared);
        }
    }

    /// Writes everything pending now.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.shared.flush().await
    }
}

/// Starts the periodic flush on the current tokio runtime. It holds the recorder weakly and ends
/// when the gate that owns it is dropped.
fn start_flusher(recorder: &Arc<Recorder>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime (a synchronous caller): times wait for an explicit `flush_usage`.
        recorder.flusher_started.store(false, Ordering::Release);
        return;
    };
    let weak: Weak<Recorder> = Arc::downgrade(recorder);
    let interval = recorder.interval;
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(recorder) = weak.upgrade() else { break };
            if let Err(error) = recorder.flush().await {
                tracing::warn!(target: "keygate", %error, "could not record last-used times; will retry");
            }
        }
    });
}

impl Recorder {
    /// Writes everything pending. On failure the times are kept for the next attempt, unless a
    /// newer time for the same key arrived meanwhile.
    async fn flush(&self) -> Result<(), StoreError> {
        let batch: Vec<(String, OffsetDateTime)> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.is_empty() {
                return Ok(());
            }
            pending.drain().collect()
        };
        let _timer = crate::metrics::usage_flush(batch.len());
        let result = self.store.record_last_used(&batch).await;
        if result.is_err() {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (key_id, at) in batch {
                pending.entry(key_id).or_insert(at);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use time::OffsetDateTime;

    use super::Usage;
    use crate::store::KeyStore;
    use crate::{KeyGate, MemoryStore, NewKey};

    #[tokio::test]
    async fn last_used_times_reach_the_store_without_an_explicit_flush() {
        let store = Arc::new(MemoryStore::new());
        let gate = KeyGate::builder()
            .store(store.clone())
            .usage_flush_interval(Duration::from_millis(20))
            .build();
        let created = gate.create_key(NewKey::new("used")).await.unwrap();
        gate.verify(created.key.expose()).await.unwrap();
        let id = &created.record.key_id;
        for _ in 0..250 {
            let record = store.fetch(id).await.unwrap().unwrap();
            if record.last_used_at.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the periodic flush never wrote the last-used time");
    }

    #[tokio::test]
    async fn one_flusher_runs_however_many_times_keys_are_used() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let usage = Usage::new(Arc::new(MemoryStore::new()), Duration::from_secs(3600));
        for n in 0..20 {
            usage.record(&format!("key{}", n % 3), OffsetDateTime::now_utc());
        }
        assert_eq!(
            metrics.num_alive_tasks() - before,
            1,
            "each recorder starts one periodic flush, once"
        );
    }
}
