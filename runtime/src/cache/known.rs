//! What the cache knows of the store's ids: the fingerprints of every id it holds, and the
//! allowance of lookups for ids outside them.

use super::*;

/// At most `per_second` takes in each whole second since `started`: the second and the count so
/// far, in one atomic word.
pub(super) struct Budget {
    per_second: u32,
    started: std::time::Instant,
    state: AtomicU64,
}

impl Budget {
    pub(super) fn new(per_second: u32) -> Self {
        Budget {
            per_second,
            started: std::time::Instant::now(),
            state: AtomicU64::new(0),
        }
    }

    pub(super) fn take(&self) -> bool {
        // None at all: not even the first of a new second.
        if self.per_second == 0 {
            return false;
        }
        let second = self.started.elapsed().as_secs() & 0xffff_ffff;
        let mut seen = self.state.load(Ordering::Relaxed);
        loop {
            let (at, count) = (seen >> 32, seen & 0xffff_ffff);
            let next = if at == second {
                if count >= u64::from(self.per_second) {
                    return false;
                }
                seen + 1
            } else {
                (second << 32) | 1
            };
            match self
                .state
                .compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => seen = actual,
            }
        }
    }
}

/// Fingerprints of every key id the store holds: 8 bytes a key, not the ids. A fingerprint is a
/// hash under a key chosen at random when the cache is built, so nobody can aim an unknown id at a
/// known one's fingerprint; a chance match costs only the query the set exists to save.
///
/// The set only grows (an announcement does not say whether a key was added or deleted, and a
/// deleted id costs just a query); it is complete from the moment a full listing, started after
/// the feed began listening, is merged in, until the feed is lost.
pub(super) struct KnownIds {
    pub(super) enabled: bool,
    pub(super) complete: AtomicBool,
    /// Moves at every `Lost` and `Listening`: a listing started before the last one does not
    /// mark the set complete.
    pub(super) generation: AtomicU64,
    pub(super) seed: foldhash::fast::RandomState,
    pub(super) set: RwLock<HashSet<u64, foldhash::fast::RandomState>>,
}

impl KnownIds {
    pub(super) fn fingerprint(&self, key_id: &str) -> u64 {
        self.seed.hash_one(key_id)
    }

    pub(super) fn add(&self, key_id: &str) {
        if self.enabled {
            let fingerprint = self.fingerprint(key_id);
            self.set
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(fingerprint);
        }
    }

    /// Marks the set incomplete and moves the generation, so no listing started before now can
    /// mark it complete; returns the new generation. Done under the set's lock, which a listing
    /// holds while it checks the generation and marks the set complete.
    pub(super) fn forget_completeness(&self) -> u64 {
        let _set = self.set.write().unwrap_or_else(PoisonError::into_inner);
        self.complete.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Whether the store surely lacks `key_id`.
    pub(super) fn surely_unknown(&self, key_id: &str) -> bool {
        self.complete.load(Ordering::Acquire)
            && !self
                .set
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&self.fingerprint(key_id))
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;

    #[test]
    fn a_budget_of_zero_allows_nothing_in_any_second() {
        let budget = Budget::new(0);
        assert!(!budget.take());
        // A new second used to start with one take granted, whatever the budget.
        let budget = Budget {
            started: std::time::Instant::now() - std::time::Duration::from_secs(5),
            ..Budget::new(0)
        };
        assert!(!budget.take());
    }

    #[test]
    fn a_budget_allows_its_count_in_a_second_then_refuses() {
        let budget = Budget::new(3);
        assert_eq!((0..5).filter(|_| budget.take()).count(), 3);
    }
}
