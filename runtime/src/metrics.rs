//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`), named
//! the Prometheus way. Without the feature every function here is empty and inlined away, and
//! no clock is read for the histograms: the places that decide call them unconditionally.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `keygate_decisions_total` | counter | `outcome` (`admitted`, `refused`), `code` (`ok` or the rejection's code) |
//! | `keygate_verification_seconds` | histogram | |
//! | `keygate_cache_lookups_total` | counter | `result` (`hit`, `negative_hit`, `miss`) |
//! | `keygate_cache_entries` | gauge | |
//! | `keygate_store_errors_total` | counter | `operation` (`fetch`, `insert`, `list`, `update`, `record_last_used`) |
//! | `keygate_usage_flush_seconds` | histogram | |
//! | `keygate_usage_backlog` | gauge | |
//!
//! Every label takes one of a few fixed values; none carries a key id, a name or a secret, so the
//! number of series stays the same however many keys a service has.

// Without the feature, the names are only read by code compiled out.
#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use std::future::Future;

use crate::reject::RejectionKind;

/// Decisions on presented keys.
pub(crate) const DECISIONS: &str = "keygate_decisions_total";
/// How long verifying one key took.
pub(crate) const VERIFICATION: &str = "keygate_verification_seconds";
/// Lookups in the cache in front of the store.
pub(crate) const CACHE_LOOKUPS: &str = "keygate_cache_lookups_total";
/// Records and unknown ids the cache holds.
pub(crate) const CACHE_ENTRIES: &str = "keygate_cache_entries";
/// Store calls that failed.
pub(crate) const STORE_ERRORS: &str = "keygate_store_errors_total";
/// How long writing last-used times took.
pub(crate) const USAGE_FLUSH: &str = "keygate_usage_flush_seconds";
/// Keys whose last-used time waited for the latest flush.
pub(crate) const USAGE_BACKLOG: &str = "keygate_usage_backlog";

/// Measures a span of time, for a histogram. Without the feature it holds nothing and reads no
/// clock.
#[must_use]
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

impl Timer {
    #[inline(always)]
    pub(crate) fn start() -> Timer {
        Timer {
            #[cfg(feature = "metrics")]
            started: std::time::Instant::now(),
        }
    }

    /// Records the time since `start` in `histogram`.
    #[inline(always)]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn record(self, histogram: &'static str) {
        #[cfg(feature = "metrics")]
        metrics::histogram!(histogram).record(self.started.elapsed());
    }

    /// Records a key's verification time.
    #[inline(always)]
    pub(crate) fn verified(self) {
        self.record(VERIFICATION);
    }
}

/// One decision on a presented key: admitted, or refused with the rejection's code.
#[inline(always)]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn decision(outcome: Result<(), &RejectionKind>) {
    #[cfg(feature = "metrics")]
    match outcome {
        Ok(()) => {
            metrics::counter!(DECISIONS, "outcome" => "admitted", "code" => "ok").increment(1)
        }
        Err(kind) => {
            metrics::counter!(DECISIONS, "outcome" => "refused", "code" => kind.code()).increment(1)
        }
    }
}

/// What a cache lookup found: `hit`, `negative_hit` (an id known not to exist) or `miss`.
#[inline(always)]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn cache_lookup(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(CACHE_LOOKUPS, "result" => result).increment(1);
}

/// How many entries the cache holds, read after a miss filled it (only with the feature: the
/// count is not free).
#[inline(always)]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn cache_entries(entries: impl FnOnce() -> u64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(CACHE_ENTRIES).set(entries() as f64);
}

/// `call`, counting its failure in `keygate_store_errors_total{operation}`. Without the feature
/// it is `call` itself, so the store's future is boxed as it was.
#[cfg(feature = "metrics")]
pub(crate) async fn store_call<T, E>(
    operation: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let result = call.await;
    if result.is_err() {
        metrics::counter!(STORE_ERRORS, "operation" => operation).increment(1);
    }
    result
}

/// `call`, counting its failure in `keygate_store_errors_total{operation}`. Without the feature
/// it is `call` itself, so the store's future is boxed as it was.
#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(crate) fn store_call<F: Future>(_operation: &'static str, call: F) -> F {
    call
}

/// A flush of last-used times about to write `backlog` keys: sets the backlog gauge, and records
/// the flush time in `keygate_usage_flush_seconds` when the returned guard is dropped.
#[inline(always)]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn usage_flush(backlog: usize) -> FlushTimer {
    #[cfg(feature = "metrics")]
    metrics::gauge!(USAGE_BACKLOG).set(backlog as f64);
    FlushTimer(Some(Timer::start()))
}

/// Records a flush's time when dropped, however the flush ended.
pub(crate) struct FlushTimer(Option<Timer>);

impl Drop for FlushTimer {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(timer) = self.0.take() {
            timer.record(USAGE_FLUSH);
        }
    }
}
