//! The pending counts of one thread for one recorder, and the arithmetic that files a clock
//! reading under its hour. See the recorder for how they are written.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use foldhash::fast::RandomState;

#[cfg(doc)]
use super::{UsageKind, hour_index};

/// No last-used time recorded.
pub(super) const NEVER: i64 = i64::MIN;

/// One key's counts for one hour: in [`UsageKind`] order, and the latest admission (unix
/// nanoseconds).
#[derive(Clone, Copy)]
pub(super) struct Tally {
    pub(super) counts: [u64; 4],
    pub(super) last_used: i64,
}

impl Tally {
    pub(super) fn add(&mut self, other: &Tally) {
        for (sum, n) in self.counts.iter_mut().zip(other.counts) {
            *sum += n;
        }
        self.last_used = self.last_used.max(other.last_used);
    }
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            counts: [0; 4],
            last_used: NEVER,
        }
    }
}

/// Pending counts per hour (usually one or two hours), then per key id.
pub(super) type Hours = Vec<(i64, HashMap<Box<str>, Tally, RandomState>)>;

/// The pending counts one thread made for one recorder. Its thread locks it for every count,
/// uncontended but for the moment the writer takes the counts out.
#[derive(Default)]
pub(super) struct Buffer(Mutex<Hours>);

impl Buffer {
    pub(super) fn lock(&self) -> MutexGuard<'_, Hours> {
        // No code that can panic runs under this lock, so a poisoned one holds whole counts.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `f` on the counts of `key_id` in `hour`, creating them (the only allocation) the first
/// time the key is seen in the hour since the last write.
pub(super) fn with_tally(hours: &mut Hours, key_id: &str, hour: i64, f: impl FnOnce(&mut Tally)) {
    let at = match hours.iter().position(|(h, _)| *h == hour) {
        Some(at) => at,
        None => {
            hours.push((hour, HashMap::default()));
            hours.len() - 1
        }
    };
    let keys = &mut hours[at].1;
    match keys.get_mut(key_id) {
        Some(tally) => f(tally),
        None => {
            let mut tally = Tally::default();
            f(&mut tally);
            keys.insert(key_id.into(), tally);
        }
    }
}

/// The counts of a buffer whose thread has ended, or `None` while the thread lives.
///
/// Whether it ended is read *before* the counts are taken: once the registry is the buffer's
/// only holder, its thread has dropped its handle and can add nothing more, so what is taken is
/// all the buffer will ever hold. Read after, a thread could add and end in between, and its
/// last counts would be dropped with the buffer.
pub(super) fn take_if_ended(buffer: &Arc<Buffer>) -> Option<Hours> {
    if Arc::strong_count(buffer) > 1 {
        return None;
    }
    // The count is read without ordering; this pairs with the release of the thread's handle,
    // so everything the thread did before is seen here (the buffer's lock orders it as well).
    fence(Ordering::Acquire);
    Some(std::mem::take(&mut *buffer.lock()))
}

thread_local! {
    /// This thread's buffers, one per recorder it has counted for, by recorder id.
    pub(super) static BUFFERS: RefCell<Vec<(u64, Arc<Buffer>)>> = const { RefCell::new(Vec::new()) };
}

const NANOS_PER_HOUR: u128 = 3_600_000_000_000;

/// The hour a clock reading falls in (hours since the Unix epoch, as [`hour_index`] numbers
/// them), and the reading in nanoseconds since the epoch, or [`NEVER`] (no last-used time) for
/// a clock over 292 years from 1970, which nanoseconds in an `i64` cannot hold.
pub(super) fn hour_and_nanos(at: SystemTime) -> (i64, i64) {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs() / 3600).unwrap_or(i64::MAX),
            i64::try_from(after.as_nanos()).unwrap_or(NEVER),
        ),
        Err(before) => {
            let before = before.duration().as_nanos();
            // Rounded down, like `hour_index`: a moment before the epoch is in the hour that
            // starts at or before it.
            let hours = i64::try_from(before.div_ceil(NANOS_PER_HOUR)).unwrap_or(i64::MAX);
            (-hours, i64::try_from(before).map_or(NEVER, |n| -n))
        }
    }
}

/// Recorder ids, unique in the process.
pub(super) static NEXT_ID: AtomicU64 = AtomicU64::new(0);
