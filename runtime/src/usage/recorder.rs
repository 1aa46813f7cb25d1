//! Last-used times and per-hour counts, kept in memory and written in batches, so admitting a
//! request never waits on a store write. The recorder holds the store it writes to, not the gate:
//! the gate depends on it, never the other way round.
//!
//! The request path takes no exclusive lock once a key has been seen in the current hour: keys
//! are spread over shards, each a read-write lock over the hour's counters, and a request only
//! reads the shard's map and adds to its key's atomic counters. Requests for different keys on
//! different cores touch different shards; even requests for one hot key only share a read lock,
//! never wait for each other's map lookup. The writer swaps a shard's map out under its write
//! lock, so an addition lands either in the batch being written or in the next one.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;
use time::OffsetDateTime;

use super::{UsageHour, UsageKind, hour_index};
use crate::store::{DynStore, StoreError};

/// Shards of the pending counters: a few per core of a large machine, so two cores rarely share
/// one.
const SHARDS: usize = 64;

/// How often old hours are pruned, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// No last-used time recorded.
const NEVER: i64 = i64::MIN;

/// One key's counters for one hour: counts in [`UsageKind`] order, and the latest admission
/// (unix nanoseconds).
struct Tally {
    counts: [AtomicU64; 4],
    last_used: AtomicI64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            counts: Default::default(),
            last_used: AtomicI64::new(NEVER),
        }
    }
}

impl Tally {
    fn add(&self, kind: UsageKind, at_nanos: i64) {
        // Relaxed: the writer reads the counters only after taking the shard's write lock,
        // which orders every addition made under a read lock before it.
        self.counts[kind as usize].fetch_add(1, Ordering::Relaxed);
        if kind == UsageKind::Admitted {
            self.last_used.fetch_max(at_nanos, Ordering::Relaxed);
        }
    }
}

type Keys = HashMap<Box<str>, Tally, RandomState>;

/// A batch for the store: counts per key and hour, and each key's latest admission.
type Batch = (Vec<(String, UsageHour)>, Vec<(String, OffsetDateTime)>);

/// Pending counters of the keys that hash to this shard, per hour (usually one or two hours).
/// Aligned to its own cache lines, so cores working on neighbouring shards do not contend.
#[derive(Default)]
#[repr(align(128))]
struct Shard(RwLock<Vec<(i64, Keys)>>);

pub(crate) struct Usage {
    shared: Arc<Recorder>,
}

struct Recorder {
    shards: Box<[Shard]>,
    seed: RandomState,
    store: Arc<dyn DynStore>,
    flusher_started: AtomicBool,
    interval: Duration,
    /// Off: nothing is recorded (see `KeyGateBuilder::record_usage`).
    enabled: bool,
    retention: Duration,
    /// When old hours were last pruned.
    pruned_at: Mutex<Option<Instant>>,
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
                shards: (0..SHARDS).map(|_| Shard::default()).collect(),
                seed: RandomState::default(),
                store,
                flusher_started: AtomicBool::new(false),
                interval,
                enabled,
                retention,
                pruned_at: Mutex::new(None),
            }),
        }
    }

    /// Counts one presentation of `key_id` at `at`; an admission also moves its last-used time.
    /// Allocates only the first time a key is seen in an hour between two flushes.
    pub(crate) fn record(&self, key_id: &str, kind: UsageKind, at: OffsetDateTime) {
        let recorder = &self.shared;
        if !recorder.enabled {
            return;
        }
        let nanos = i64::try_from(at.unix_timestamp_nanos()).unwrap_or(NEVER);
        recorder.with_tally(key_id, hour_index(at), |tally| tally.add(kind, nanos));
        if !recorder.flusher_started.load(Ordering::Relaxed)
            && !recorder.flusher_started.swap(true, Ordering::AcqRel)
        {
            start_flusher(&self.shared);
        }
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
    fn shard(&self, key_id: &str) -> &Shard {
        // The low bits of a foldhash are as good as its high ones; truncation keeps them.
        let at = self.seed.hash_one(key_id) as usize % SHARDS;
        &self.shards[at]
    }

    /// Runs `f` on the counters of `key_id` in hour `hour`, under the shard's read lock when
    /// they exist, else creating them under its write lock.
    fn with_tally(&self, key_id: &str, hour: i64, f: impl Fn(&Tally)) {
        let shard = self.shard(key_id);
        {
            let hours = shard.0.read().unwrap_or_else(PoisonError::into_inner);
            let tally = hours
                .iter()
                .find(|(h, _)| *h == hour)
                .and_then(|(_, keys)| keys.get(key_id));
            if let Some(tally) = tally {
                f(tally);
                return;
            }
        }
        // No code that can panic runs under these locks, so a poisoned one holds whole counters.
        let mut hours = shard.0.write().unwrap_or_else(PoisonError::into_inner);
        let at = match hours.iter().position(|(h, _)| *h == hour) {
            Some(at) => at,
            None => {
                hours.push((hour, Keys::default()));
                hours.len() - 1
            }
        };
        let keys = &mut hours[at].1;
        match keys.get(key_id) {
            Some(tally) => f(tally),
            None => {
                let tally = Tally::default();
                f(&tally);
                keys.insert(key_id.into(), tally);
            }
        }
    }

    /// Takes every pending counter out, as rows to add and last-used times to write.
    fn take(&self) -> Batch {
        let mut counts = Vec::new();
        let mut last_used: HashMap<String, i64> = HashMap::new();
        for shard in &self.shards {
            let hours =
                std::mem::take(&mut *shard.0.write().unwrap_or_else(PoisonError::into_inner));
            for (hour, keys) in hours {
                for (key_id, tally) in keys {
                    let [admitted, insufficient_scope, rate_limited, wrong_secret] =
                        tally.counts.map(AtomicU64::into_inner);
                    let row = UsageHour {
                        admitted,
                        insufficient_scope,
                        rate_limited,
                        wrong_secret,
                        ..UsageHour::at_index(hour)
                    };
                    let at = tally.last_used.into_inner();
                    if at != NEVER {
                        let latest = last_used.entry(key_id.to_string()).or_insert(at);
                        *latest = (*latest).max(at);
                    }
                    if row.total() > 0 {
                        counts.push((key_id.into_string(), row));
                    }
                }
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

    /// Puts counts that could not be written back, added to any that arrived meanwhile.
    fn restore_counts(&self, counts: &[(String, UsageHour)]) {
        for (key_id, row) in counts {
            self.with_tally(key_id, hour_index(row.hour), |tally| {
                for (counter, n) in tally.counts.iter().zip(row.counts()) {
                    counter.fetch_add(n, Ordering::Relaxed);
                }
            });
        }
    }

    /// Puts last-used times that could not be written back, unless a newer one arrived meanwhile.
    fn restore_uses(&self, uses: &[(String, OffsetDateTime)]) {
        for (key_id, at) in uses {
            let nanos = i64::try_from(at.unix_timestamp_nanos()).unwrap_or(NEVER);
            self.with_tally(key_id, hour_index(*at), |tally| {
                tally.last_used.fetch_max(nanos, Ordering::Relaxed);
            });
        }
    }

    /// Writes everything pending. On failure nothing is lost: what was not written is kept for
    /// the next attempt, merged with what arrived meanwhile. Counts go first: they add up, so
    /// they are written once and only once; last-used times can be written again harmlessly.
    async fn write_pending(&self) -> Result<(), StoreError> {
        let (counts, uses) = self.take();
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
