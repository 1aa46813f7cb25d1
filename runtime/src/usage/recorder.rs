//! Last-used times and per-hour counts, kept in memory and written in batches, so admitting a
//! request never waits on a store write. The recorder holds the store it writes to, not the gate:
//! the gate depends on it, never the other way round.
//!
//! Every thread counts into a buffer of its own: a request takes one lock that no other request
//! takes (its thread's), looks the key id up in a map and adds to plain integers, so requests on
//! different cores share no cache line, even for one hot key, and a request pays for two atomic
//! operations (the lock and its release) rather than one per counter. The writer takes each
//! thread's buffer out under that lock, so an addition lands either in the batch being written
//! or in the next one. A thread's buffer outlives the thread (the recorder holds it too), so
//! counts made on a worker thread that has since ended are still written.
//!
//! A thread's list of buffers holds one per gate it has counted for, usually one: finding its
//! buffer is a scan of that list, and the buffers of gates since dropped leave it when the thread
//! next meets a new gate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime};

use time::OffsetDateTime;

use super::buffers::{
    BUFFERS, Buffer, Hours, NEVER, NEXT_ID, Tally, hour_and_nanos, take_if_ended, with_tally,
};
use super::{UsageHour, UsageKind, hour_index};
use crate::store::{DynStore, StoreError};

/// How often old hours are pruned, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A batch for the store: counts per key and hour, and each key's latest admission.
type Batch = (Vec<(String, UsageHour)>, Vec<(String, OffsetDateTime)>);

pub(crate) struct Usage {
    shared: Arc<Recorder>,
}

struct Recorder {
    /// Finds this recorder's buffer among a thread's.
    id: u64,
    /// Every thread's buffer for this recorder.
    buffers: Mutex<Vec<Arc<Buffer>>>,
    /// Counts made where a thread's own buffer cannot be reached (while the thread's locals are
    /// being destroyed), and counts the writer could not write and puts back.
    spill: Buffer,
    store: Arc<dyn DynStore>,
    flusher_started: AtomicBool,
    interval: Duration,
    /// Off: nothing is recorded (see `KeyGateBuilder::record_usage`).
    enabled: bool,
    retention: Duration,
    /// When old hours were last pruned.
    pruned_at: Mutex<Option<Instant>>,
    /// Held for a whole write: a `flush_usage` that started while the periodic writer was
    /// writing waits for it, so it returns only once what was counted before it is stored (or
    /// put back after a failure, and written by this call).
    writing: tokio::sync::Mutex<()>,
}

impl Usage {
    pub(crate) fn new(
        store: Arc<dyn DynStore>,
        interval: Duration,
        retention: Duration,
        enabled: bool,
    ) -> Self {
        Usage {
            shared: Arc::new(Recorder {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                buffers: Mutex::default(),
                spill: Buffer::default(),
                store,
                flusher_started: AtomicBool::new(false),
                interval,
                enabled,
                retention,
                pruned_at: Mutex::new(None),
                writing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Counts one presentation of `key_id` at `at`; an admission also moves its last-used time.
    /// Allocates only the first time a key is seen in an hour on a thread between two writes,
    /// and the first time a thread counts for this recorder.
    ///
    /// Takes the clock's reading rather than a date, so that admitting a request never turns its
    /// reading into a date only to count it.
    pub(crate) fn record(&self, key_id: &str, kind: UsageKind, at: SystemTime) {
        let recorder = &self.shared;
        if !recorder.enabled {
            return;
        }
        let (hour, nanos) = hour_and_nanos(at);
        recorder.count(key_id, hour, |tally| {
            tally.counts[kind as usize] += 1;
            if kind == UsageKind::Admitted {
                tally.last_used = tally.last_used.max(nanos);
            }
        });
        if !recorder.flusher_started.load(Ordering::Relaxed)
            && !recorder.flusher_started.swap(true, Ordering::AcqRel)
        {
            start_flusher(&self.shared);
        }
    }

    /// How many thread buffers the recorder holds.
    #[cfg(test)]
    pub(super) fn buffers_held(&self) -> usize {
        self.shared
            .buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Writes everything pending now, and prunes old hours if that is due.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.shared.flush().await
    }

    /// Writes everything pending now, without pruning: for a reader, which may be a command line
    /// that does not know the service's retention.
    pub(crate) async fn flush_pending(&self) -> Result<(), StoreError> {
        self.shared.write_pending().await
    }
}

/// Starts the periodic flush on the current tokio runtime. It holds the recorder weakly and ends
/// when the gate that owns it is dropped.
fn start_flusher(recorder: &Arc<Recorder>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime (a synchronous caller): counts wait for an explicit `flush_usage`.
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
            let Some(recorder) = weak.upgrade() else {
                break;
            };
            if let Err(error) = recorder.flush().await {
                tracing::warn!(target: "keygate", %error, "could not record key usage; will retry");
            }
        }
    });
}

impl Recorder {
    /// Runs `f` on this thread's counts of `key_id` in `hour`.
    fn count(&self, key_id: &str, hour: i64, f: impl FnOnce(&mut Tally)) {
        let mut f = Some(f);
        let counted = BUFFERS.try_with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            let buffer = match buffers.iter().position(|(id, _)| *id == self.id) {
                Some(at) => &buffers[at].1,
                None => self.register(&mut buffers),
            };
            if let Some(f) = f.take() {
                with_tally(&mut buffer.lock(), key_id, hour, f);
            }
        });
        if counted.is_err()
            && let Some(f) = f
        {
            with_tally(&mut self.spill.lock(), key_id, hour, f);
        }
    }

    /// Gives this thread a buffer for this recorder, and forgets the buffers of recorders that
    /// have since been dropped (only this thread still holds them). The buffers of threads that
    /// have ended go into the spill: a program that starts a thread per job and has no runtime
    /// for the periodic write would otherwise keep one buffer per thread it ever ran.
    fn register<'b>(&self, buffers: &'b mut Vec<(u64, Arc<Buffer>)>) -> &'b Arc<Buffer> {
        buffers.retain(|(_, buffer)| Arc::strong_count(buffer) > 1);
        let buffer = Arc::new(Buffer::default());
        {
            let mut all = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
            all.retain(|buffer| {
                let Some(hours) = take_if_ended(buffer) else {
                    return true;
                };
                let mut spill = self.spill.lock();
                for (hour, keys) in hours {
                    for (key_id, tally) in keys {
                        with_tally(&mut spill, &key_id, hour, |sum| sum.add(&tally));
                    }
                }
                false
            });
            all.push(buffer.clone());
        }
        buffers.push((self.id, buffer));
        &buffers[buffers.len() - 1].1
    }

    /// Takes every pending count out, as rows to add and last-used times to write. Forgets the
    /// buffers of threads that have ended, once emptied.
    fn take(&self) -> Batch {
        let mut pending: Vec<Hours> = vec![std::mem::take(&mut *self.spill.lock())];
        {
            let mut buffers = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
            buffers.retain(|buffer| match take_if_ended(buffer) {
                Some(hours) => {
                    pending.push(hours);
                    false
                }
                None => {
                    pending.push(std::mem::take(&mut *buffer.lock()));
                    true
                }
            });
        }
        // The same key and hour may have been counted on several threads: one row each.
        let mut rows: HashMap<(i64, Box<str>), Tally> = HashMap::new();
        for (hour, keys) in pending.into_iter().flatten() {
            for (key_id, tally) in keys {
                rows.entry((hour, key_id)).or_default().add(&tally);
            }
        }
        let mut counts = Vec::new();
        let mut last_used: HashMap<String, i64> = HashMap::new();
        for ((hour, key_id), tally) in rows {
            let [admitted, insufficient_scope, rate_limited, wrong_secret] = tally.counts;
            let row = UsageHour {
                admitted,
                insufficient_scope,
                rate_limited,
                wrong_secret,
                ..UsageHour::at_index(hour)
            };
            if tally.last_used != NEVER {
                let latest = last_used
                    .entry(key_id.to_string())
                    .or_insert(tally.last_used);
                *latest = (*latest).max(tally.last_used);
            }
            if row.total() > 0 {
                counts.push((key_id.into_string(), row));
            }
        }
        let uses = last_used
            .into_iter()
            .filter_map(|(key_id, at)| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(at))
                    .ok()
                    .map(|at| (key_id, at))
            })
            .collect();
        (counts, uses)
    }

    /// Puts counts that could not be written back, added to any that arrive meanwhile.
    fn restore_counts(&self, counts: &[(String, UsageHour)]) {
        let mut spill = self.spill.lock();
        for (key_id, row) in counts {
            with_tally(&mut spill, key_id, hour_index(row.hour), |tally| {
                for (sum, n) in tally.counts.iter_mut().zip(row.counts()) {
                    *sum += n;
                }
            });
        }
    }

    /// Puts last-used times that could not be written back, unless a newer one arrives meanwhile.
    fn restore_uses(&self, uses: &[(String, OffsetDateTime)]) {
        let mut spill = self.spill.lock();
        for (key_id, at) in uses {
            let nanos = i64::try_from(at.unix_timestamp_nanos()).unwrap_or(NEVER);
            with_tally(&mut spill, key_id, hour_index(*at), |tally| {
                tally.last_used = tally.last_used.max(nanos);
            });
        }
    }

    /// Writes everything pending. On failure nothing is lost: what was not written is kept for
    /// the next attempt, merged with what arrived meanwhile. Counts go first: they add up, so
    /// they are written once and only once; last-used times can be written again harmlessly.
    async fn write_pending(&self) -> Result<(), StoreError> {
        let _writing = self.writing.lock().await;
        let (mut counts, mut uses) = self.take();
        // In key order: two instances adding to the same rows in one transaction each would
        // otherwise lock them in opposite orders now and then, and deadlock until the database
        // aborts one.
        counts
            .sort_unstable_by(|(a, row_a), (b, row_b)| a.cmp(b).then(row_a.hour.cmp(&row_b.hour)));
        uses.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        let _timer = crate::metrics::usage_flush(uses.len().max(counts.len()));
        if !counts.is_empty()
            && let Err(error) = self.store.record_usage(&counts).await
        {
            self.restore_counts(&counts);
            self.restore_uses(&uses);
            return Err(error);
        }
        if !uses.is_empty()
            && let Err(error) = self.store.record_last_used(&uses).await
        {
            self.restore_uses(&uses);
            return Err(error);
        }
        Ok(())
    }

    /// [`write_pending`](Self::write_pending), then prunes old hours if that is due. A gate
    /// that records nothing prunes nothing either.
    async fn flush(&self) -> Result<(), StoreError> {
        self.write_pending().await?;
        if !self.enabled {
            return Ok(());
        }
        self.prune_if_due().await
    }

    /// Removes hours older than the retention, at most once per [`PRUNE_EVERY`].
    async fn prune_if_due(&self) -> Result<(), StoreError> {
        {
            let pruned_at = self
                .pruned_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if pruned_at.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
                return Ok(());
            }
        }
        let before = OffsetDateTime::now_utc() - self.retention;
        let removed = self
            .store
            .prune_usage(UsageHour::starting(before).hour)
            .await?;
        *self
            .pruned_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        if removed > 0 {
            tracing::debug!(target: "keygate", removed, "pruned old key usage hours");
        }
        Ok(())
    }
}
