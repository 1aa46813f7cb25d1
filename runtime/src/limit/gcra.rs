//! GCRA, the arithmetic both limiters share: the in-process one runs it here, the Redis one runs
//! the same steps in its script and hands the result to [`status`], so both give the same
//! decisions and the same header values.
//!
//! Each key holds one number, its theoretical arrival time (TAT): when its budget would be whole
//! again. A request at `now` moves it to `max(TAT, now) + interval`, and is admitted if that is
//! at most `tolerance` ahead of `now`. Time is wall-clock microseconds since the Unix epoch, as
//! Redis' `TIME` gives it: exact in Lua's doubles, and fine enough for a million requests a
//! second. A clock stepped back only makes a limit stricter until it catches up.

use super::{RateLimit, RateLimitStatus};

/// Microseconds per second.
const MICROS: u64 = 1_000_000;

/// A limit in the units GCRA works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    /// Microseconds one request costs: the period over the requests, rounded up so a period
    /// never holds more than `requests` beyond the burst.
    pub(crate) interval: u64,
    /// How far ahead of now the TAT may run: `burst` requests' worth.
    pub(crate) tolerance: u64,
}

impl Quota {
    pub(crate) fn of(limit: &RateLimit) -> Self {
        // Bounded by validation: period ≤ 86 400 s, requests and burst ≤ 10⁶, so nothing overflows.
        let period = limit.period.as_secs() * MICROS;
        let interval = period.div_ceil(u64::from(limit.requests));
        Quota {
            interval,
            tolerance: interval * u64::from(limit.burst),
        }
    }
}

/// One request at `now` against a key whose TAT is `tat` (0 for a key never seen): the new TAT
/// to store if it is admitted, and how far ahead of `now` the TAT stands after the decision.
pub(crate) fn decide(tat: u64, now: u64, quota: Quota) -> (Option<u64>, u64) {
    let from = tat.max(now);
    let next = from + quota.interval;
    if next - now <= quota.tolerance {
        (Some(next), next - now)
    } else {
        (None, from - now)
    }
}

/// The status after a decision under `limit` (whose quota is `quota`), from whether it admitted
/// and how far ahead of now the TAT stands (`ahead`, microseconds).
pub(crate) fn status(
    limit: &RateLimit,
    quota: Quota,
    admitted: bool,
    ahead: u64,
) -> RateLimitStatus {
    // `ahead` is not capped at one burst's worth: after a key's limit changed, or the clock
    // stepped back, the stored TAT can stand far beyond the quota's tolerance, and the wait it
    // implies is the true one. A capped value told clients to come back in a second when the
    // next admission was an hour away.
    let (remaining, retry_after) = if admitted {
        (
            (quota.tolerance - ahead.min(quota.tolerance)) / quota.interval,
            0,
        )
    } else {
        // The next request is admitted once the TAT is back within tolerance of now.
        let wait = ahead
            .saturating_add(quota.interval)
            .saturating_sub(quota.tolerance);
        (0, wait.div_ceil(MICROS).max(1))
    };
    RateLimitStatus {
        limit: *limit,
        admitted,
        remaining,
        reset: ahead.div_ceil(MICROS),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{MICROS, Quota, decide, status};
    use crate::limit::RateLimit;

    fn limit(text: &str) -> RateLimit {
        text.parse().unwrap()
    }

    /// Runs requests at the given times through one key; returns which were admitted.
    fn run(limit: &RateLimit, times: &[u64]) -> Vec<bool> {
        let quota = Quota::of(limit);
        let mut tat = 0;
        times
            .iter()
            .map(|&now| match decide(tat, now, quota) {
                (Some(next), _) => {
                    tat = next;
                    true
                }
                (None, _) => false,
            })
            .collect()
    }

    #[test]
    fn a_burst_is_admitted_at_once_and_the_next_request_refused() {
        let limit = limit("10/s burst 3");
        let quota = Quota::of(&limit);
        let mut tat = 0;
        let now = 5 * MICROS;
        for expected_remaining in [2, 1, 0] {
            let (next, ahead) = decide(tat, now, quota);
            tat = next.expect("inside the burst");
            let status = status(&limit, quota, true, ahead);
            assert_eq!(status.remaining(), expected_remaining);
            assert_eq!(status.retry_after_seconds(), 0);
        }
        let (next, ahead) = decide(tat, now, quota);
        assert_eq!(next, None, "the fourth request at once is refused");
        let refused = status(&limit, quota, false, ahead);
        assert!(!refused.admitted());
        assert_eq!(refused.remaining(), 0);
        assert_eq!(refused.retry_after_seconds(), 1);
        assert_eq!(
            refused.reset_seconds(),
            1,
            "three tenths of a second, rounded up"
        );
    }

    #[test]
    fn the_budget_refills_one_interval_at_a_time() {
        let limit = limit("60/min burst 2");
        // Interval 1 s: two at once, the third at +0.999 s refused, at +1 s admitted.
        let admitted = run(
            &limit,
            &[0, 0, 999_999, MICROS, MICROS + 1, 3 * MICROS, 3 * MICROS],
        );
        assert_eq!(admitted, [true, true, false, true, false, true, true]);
    }

    #[test]
    fn retry_after_says_when_the_next_request_is_admitted() {
        let limit = limit("1/min");
        let quota = Quota::of(&limit);
        let (tat, _) = decide(0, 0, quota);
        let tat = tat.unwrap();
        let (next, ahead) = decide(tat, 17 * MICROS, quota);
        assert_eq!(next, None);
        let refused = status(&limit, quota, false, ahead);
        assert_eq!(refused.retry_after_seconds(), 43);
        assert_eq!(refused.reset_seconds(), 43);
        assert_eq!(decide(tat, 60 * MICROS, quota).0, Some(120 * MICROS));
    }

    #[test]
    fn a_new_quota_applies_to_the_next_request() {
        let tight = Quota::of(&limit("1/min"));
        let loose = Quota::of(&limit("100/s"));
        let (tat, _) = decide(0, 0, tight);
        let tat = tat.unwrap();
        assert_eq!(decide(tat, MICROS, tight).0, None);
        assert!(
            decide(tat, MICROS, loose).0.is_none(),
            "the stored TAT still counts"
        );
        // Once the TAT is past, the looser quota admits its whole burst.
        let later = 61 * MICROS;
        let mut tat = tat;
        for _ in 0..100 {
            tat = decide(tat, later, loose).0.expect("inside the new burst");
        }
        assert_eq!(decide(tat, later, loose).0, None);
    }

    #[test]
    fn retry_after_is_the_true_wait_after_the_limit_changed() {
        // Admitted once under 1/h at 1 s: the TAT stands at 3601 s. Then the key's limit
        // becomes 10/s (burst 10): the stored TAT still counts, so the next admission is at
        // 3600.1 s, and the refusal at 2 s must say so, not "one second".
        let tat = decide(0, MICROS, Quota::of(&limit("1/h"))).0.unwrap();
        let loose = limit("10/s");
        let quota = Quota::of(&loose);
        let (next, ahead) = decide(tat, 2 * MICROS, quota);
        assert_eq!(next, None);
        let refused = status(&loose, quota, false, ahead);
        assert_eq!(refused.retry_after_seconds(), 3599);
        assert_eq!(refused.reset_seconds(), 3599);
        let retry = 2 * MICROS + refused.retry_after_seconds() * MICROS;
        assert!(
            decide(tat, retry - MICROS, quota).0.is_none(),
            "a second earlier is still refused"
        );
        assert!(decide(tat, retry, quota).0.is_some(), "admitted when told");
    }

    #[test]
    fn retry_after_is_the_true_wait_after_the_clock_stepped_back() {
        let limit = limit("1/min");
        let quota = Quota::of(&limit);
        let tat = decide(0, 1000 * MICROS, quota).0.unwrap();
        let (next, ahead) = decide(tat, 400 * MICROS, quota);
        assert_eq!(next, None);
        let refused = status(&limit, quota, false, ahead);
        // The TAT is 1060 s: admitted again once the clock reads 1060 s, 660 s from now.
        assert_eq!(refused.retry_after_seconds(), 660);
        assert_eq!(refused.reset_seconds(), 660);
        assert!(decide(tat, 1059 * MICROS, quota).0.is_none());
        assert!(decide(tat, 1060 * MICROS, quota).0.is_some());
    }

    #[test]
    fn the_interval_rounds_up_so_a_period_never_holds_more() {
        let quota = Quota::of(&limit("7/min"));
        assert_eq!(quota.interval, 8_571_429);
        assert!(quota.interval * 7 >= 60 * MICROS);
    }

    proptest! {
        /// In any window as long as the period, at most burst + requests are admitted.
        #[test]
        fn no_window_of_one_period_admits_more_than_burst_plus_requests(
            requests in 1u32..20,
            period in 1u64..5,
            burst in 1u32..20,
            gaps in proptest::collection::vec(0u64..400_000, 1..300),
        ) {
            let limit = RateLimit::new(requests, std::time::Duration::from_secs(period))
                .unwrap()
                .with_burst(burst)
                .unwrap();
            let mut now = 0;
            let times: Vec<u64> = gaps.iter().map(|gap| { now += gap; now }).collect();
            let admitted: Vec<u64> = times
                .iter()
                .zip(run(&limit, &times))
                .filter_map(|(&t, ok)| ok.then_some(t))
                .collect();
            let window = period * MICROS;
            let most = u64::from(burst) + u64::from(requests);
            for (i, &start) in admitted.iter().enumerate() {
                let inside = admitted[i..].iter().take_while(|&&t| t <= start + window).count();
                prop_assert!(inside as u64 <= most, "{inside} admitted in one period from {start}");
            }
        }
    }
}
