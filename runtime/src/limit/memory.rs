//! The in-process limiter: one atomic TAT per key, in a sharded map.
//!
//! Own code rather than governor's direct limiters: a key's quota can change at any moment (a
//! `set_rate_limit`, a new gate default), and here the quota is an argument of each check, not
//! fixed when a limiter is built; the arithmetic is the same as the Redis script's, so both give
//! the same answers and header values; and the status the headers need comes out of the same
//! step.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use super::gcra::{Quota, decide, status};
use super::{RateLimit, RateLimitStatus};

const SHARDS: usize = 16;
/// A shard is swept of stale entries when it reaches this size, or twice its size after the
/// last sweep.
const FIRST_SWEEP: usize = 1024;

type Map = HashMap<Box<str>, AtomicU64, foldhash::fast::RandomState>;

struct Shard {
    tats: RwLock<Map>,
    sweep_at: AtomicUsize,
}

/// Keys' TATs in microseconds since the Unix epoch. Only verified key ids reach it, and they are
/// minted from the OS random source, so the fast (not DoS-hardened) hasher is fine, a key id's
/// last character picks its shard, and the map holds at most one entry per real key that called
/// recently.
pub(crate) struct MemoryLimiter {
    shards: Box<[Shard]>,
}

impl MemoryLimiter {
    pub(crate) fn new() -> Self {
        MemoryLimiter {
            shards: (0..SHARDS)
                .map(|_| Shard {
                    tats: RwLock::new(Map::default()),
                    sweep_at: AtomicUsize::new(FIRST_SWEEP),
                })
                .collect(),
        }
    }

    /// One request of `key_id` at `now` (microseconds since the Unix epoch).
    pub(crate) fn check(&self, key_id: &str, limit: &RateLimit, now: u64) -> RateLimitStatus {
        let quota = Quota::of(limit);
        let last = key_id.as_bytes().last().copied().unwrap_or(0);
        let shard = &self.shards[usize::from(last) % SHARDS];
        {
            let tats = shard.tats.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(tat) = tats.get(key_id) {
                return spend(tat, now, quota, limit);
            }
        }
        let mut tats = shard.tats.write().unwrap_or_else(PoisonError::into_inner);
        if tats.len() >= shard.sweep_at.load(Ordering::Relaxed) {
            // A TAT at or before now carries nothing: the key's budget is whole either way.
            tats.retain(|_, tat| tat.load(Ordering::Relaxed) > now);
            shard
                .sweep_at
                .store((tats.len() * 2).max(FIRST_SWEEP), Ordering::Relaxed);
        }
        let tat = tats
            .entry(key_id.into())
            .or_insert_with(|| AtomicU64::new(0));
        spend(tat, now, quota, limit)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.tats.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

/// Decides on the current TAT and stores the new one, unless another thread moved it first (then
/// decides again on what that thread stored).
fn spend(tat: &AtomicU64, now: u64, quota: Quota, limit: &RateLimit) -> RateLimitStatus {
    let mut current = tat.load(Ordering::Acquire);
    loop {
        match decide(current, now, quota) {
            (None, ahead) => return status(limit, quota, false, ahead),
            (Some(next), ahead) => {
                match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return status(limit, quota, true, ahead),
                    Err(actual) => current = actual,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{FIRST_SWEEP, MemoryLimiter};
    use crate::limit::RateLimit;

    const SECOND: u64 = 1_000_000;

    #[test]
    fn each_key_has_its_own_budget() {
        let limiter = MemoryLimiter::new();
        let limit: RateLimit = "2/min".parse().unwrap();
        assert!(limiter.check("a", &limit, 0).admitted());
        assert!(limiter.check("a", &limit, 0).admitted());
        let refused = limiter.check("a", &limit, SECOND);
        assert!(!refused.admitted());
        assert_eq!(refused.retry_after_seconds(), 29);
        assert!(limiter.check("b", &limit, SECOND).admitted());
        assert!(limiter.check("a", &limit, 30 * SECOND).admitted());
    }

    #[test]
    fn a_changed_limit_applies_to_the_next_check() {
        let limiter = MemoryLimiter::new();
        let tight: RateLimit = "1/h".parse().unwrap();
        let loose: RateLimit = "10/s".parse().unwrap();
        assert!(limiter.check("a", &loose, 0).admitted());
        assert!(limiter.check("a", &loose, 0).admitted());
        // The TAT stands 0.2 s ahead; under one request an hour, the next would put it an hour
        // and 0.2 s ahead, past the tolerance.
        assert!(!limiter.check("a", &tight, 0).admitted());
        assert!(limiter.check("a", &tight, SECOND).admitted());
        // Now an hour ahead: the loose limit's one-second tolerance refuses too.
        assert!(!limiter.check("a", &loose, 2 * SECOND).admitted());
        assert!(limiter.check("a", &loose, 3601 * SECOND).admitted());
    }

    #[test]
    fn concurrent_checks_never_admit_more_than_the_burst() {
        let limiter = Arc::new(MemoryLimiter::new());
        let limit: RateLimit = "100/h".parse().unwrap();
        let admitted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let limiter = limiter.clone();
                    scope.spawn(move || {
                        (0..1000)
                            .filter(|_| limiter.check("k", &limit, 5 * SECOND).admitted())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(admitted, 100);
    }

    #[test]
    fn stale_entries_are_swept_when_the_map_grows() {
        let limiter = MemoryLimiter::new();
        let limit: RateLimit = "1/s".parse().unwrap();
        let keys = super::SHARDS * FIRST_SWEEP * 2;
        for i in 0..keys {
            limiter.check(&format!("old{i}"), &limit, 0);
        }
        assert!(limiter.len() >= keys / 2, "nothing is stale yet");
        // Ten seconds later every TAT has passed; new keys push each shard past its threshold.
        for i in 0..keys {
            limiter.check(&format!("new{i}"), &limit, 10 * SECOND);
        }
        assert!(
            limiter.len() < keys + keys / 2,
            "{} entries kept",
            limiter.len()
        );
        // A swept key starts again with a whole budget, as it would have anyway.
        assert!(limiter.check("old0", &limit, 10 * SECOND).admitted());
    }
}
