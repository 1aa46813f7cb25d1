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
        #[cfg(feature = "metrics")]
        handles::get().verification.record(self.started.elapsed());
    }
}

/// One decision on a presented key: admitted, or refused with the rejection's code.
#[inline(always)]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn decision(outcome: Result<(), &RejectionKind>) {
    #[cfg(feature = "metrics")]
    handles::get().decisions[handles::decision_index(outcome)].increment(1);
}

#[inline(always)]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn cache_lookup(result: CacheLookup) {
    #[cfg(feature = "metrics")]
    handles::get().cache_lookups[result as usize].increment(1);
}

/// What a lookup in the cache found; the `result` label of [`CACHE_LOOKUPS`].
#[derive(Clone, Copy)]
pub(crate) enum CacheLookup {
    Hit = 0,
    NegativeHit = 1,
    Miss = 2,
}

/// The handles of the metrics recorded on every request, registered once. Registering through
/// `counter!` on each call costs a lookup in the recorder's registry (hashing and comparing the
/// key and its labels) per request; a handle is one atomic add. The price is the `metrics`
/// crate's rule for every handle: they bind to the recorder installed when they are first
/// needed, so a service installs its recorder before it serves requests.
#[cfg(feature = "metrics")]
mod handles {
    use std::sync::OnceLock;

    use metrics::{Counter, Histogram};

    use super::{CACHE_LOOKUPS, DECISIONS, VERIFICATION};
    use crate::reject::RejectionKind;

    /// Every `code` of `keygate_decisions_total`, in the order of [`decision_index`].
    const CODES: [&str; 11] = [
        "ok",
        "missing_api_key",
        "invalid_api_key",
        "expired_api_key",
        "revoked_api_key",
        "ambiguous_api_key",
        "insufficient_scope",
        "key_store_unavailable",
        "https_required",
        "rate_limited",
        "rate_limiter_unavailable",
    ];

    pub(super) struct Handles {
        pub(super) decisions: [Counter; CODES.len()],
        pub(super) cache_lookups: [Counter; 3],
        pub(super) verification: Histogram,
    }

    static HANDLES: OnceLock<Handles> = OnceLock::new();

    pub(super) fn get() -> &'static Handles {
        HANDLES.get_or_init(|| Handles {
            decisions: CODES.map(|code| {
                let outcome = if code == "ok" { "admitted" } else { "refused" };
                metrics::counter!(DECISIONS, "outcome" => outcome, "code" => code)
            }),
            cache_lookups: ["hit", "negative_hit", "miss"]
                .map(|result| metrics::counter!(CACHE_LOOKUPS, "result" => result)),
            verification: metrics::histogram!(VERIFICATION),
        })
    }

    pub(super) fn decision_index(outcome: Result<(), &RejectionKind>) -> usize {
        match outcome {
            Ok(()) => 0,
            Err(RejectionKind::Missing) => 1,
            Err(RejectionKind::Invalid) => 2,
            Err(RejectionKind::Expired) => 3,
            Err(RejectionKind::Revoked) => 4,
            Err(RejectionKind::Ambiguous) => 5,
            Err(RejectionKind::InsufficientScope { .. }) => 6,
            Err(RejectionKind::StoreUnavailable) => 7,
            Err(RejectionKind::HttpsRequired) => 8,
            Err(RejectionKind::RateLimited(_)) => 9,
            Err(RejectionKind::RateLimiterUnavailable) => 10,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn each_code_sits_at_the_index_of_its_kind() {
            let kinds = [
                RejectionKind::Missing,
                RejectionKind::Invalid,
                RejectionKind::Expired,
                RejectionKind::Revoked,
                RejectionKind::Ambiguous,
                RejectionKind::InsufficientScope {
                    required: vec![],
                    mode: crate::scope::ScopeMatch::All,
                },
                RejectionKind::StoreUnavailable,
                RejectionKind::HttpsRequired,
                RejectionKind::RateLimiterUnavailable,
            ];
            assert_eq!(CODES[decision_index(Ok(()))], "ok");
            for kind in &kinds {
                assert_eq!(CODES[decision_index(Err(kind))], kind.code());
            }
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_rate_limited_refusal_sits_at_its_code() {
            let gate = crate::KeyGate::builder().build();
            let limited = crate::NewKey::new("partner").rate_limit("1/min".parse().unwrap());
            let key = gate.create_key(limited).await.unwrap().key;
            assert!(gate.verify(key.expose()).await.is_ok());
            let refused = gate.verify(key.expose()).await.unwrap_err();
            assert!(matches!(refused.kind(), RejectionKind::RateLimited(_)));
            assert_eq!(CODES[decision_index(Err(refused.kind()))], "rate_limited");
        }
    }
}

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
