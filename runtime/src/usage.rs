//! Last-used times, kept in memory and written in batches, so admitting a request never waits on
//! a store write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

use crate::gate::KeyGate;
use crate::store::{DynStore, StoreError};

pub(crate) struct Usage {
    pending: Mutex<HashMap<String, OffsetDateTime>>,
    flusher_started: AtomicBool,
    interval: Duration,
}

impl Usage {
    pub(crate) fn new(interval: Duration) -> Self {
        Usage {
            pending: Mutex::new(HashMap::new()),
            flusher_started: AtomicBool::new(false),
            interval,
        }
    }

    /// Notes that `key_id` was admitted at `at`. Allocates only the first time a key is seen
    /// between two flushes.
    pub(crate) fn record(&self, gate: &KeyGate, key_id: &str, at: OffsetDateTime) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            match pending.get_mut(key_id) {
                Some(last) => *last = at,
                None => {
                    pending.insert(key_id.to_owned(), at);
                }
            }
        }
        if !self.flusher_started.load(Ordering::Relaxed)
            && !self.flusher_started.swap(true, Ordering::AcqRel)
        {
            self.start_flusher(gate);
        }
    }

    /// Starts the periodic flush on the current tokio runtime. It holds the gate weakly and ends
    /// when the last `KeyGate` clone is dropped.
    fn start_flusher(&self, gate: &KeyGate) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (a synchronous caller): times wait for an explicit `flush_usage`.
            self.flusher_started.store(false, Ordering::Release);
            return;
        };
        let weak = gate.downgrade();
        let interval = self.interval;
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if let Err(error) = inner.usage.flush(&*inner.store).await {
                    tracing::warn!(target: "keygate", %error, "could not record last-used times; will retry");
                }
            }
        });
    }

    /// Writes everything pending. On failure the times are kept for the next attempt, unless a
    /// newer time for the same key arrived meanwhile.
    pub(crate) async fn flush(&self, store: &dyn DynStore) -> Result<(), StoreError> {
        let batch: Vec<(String, OffsetDateTime)> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.is_empty() {
                return Ok(());
            }
            pending.drain().collect()
        };
        let result = store.record_last_used(&batch).await;
        if result.is_err() {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (key_id, at) in batch {
                pending.entry(key_id).or_insert(at);
            }
        }
        result
    }
}
