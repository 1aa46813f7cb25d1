//! Per-key rate limits: requests per period with a burst, checked after authentication and
//! scopes, so a request that is not admitted for another reason never spends a key's budget.
//!
//! A key carries its own [`RateLimit`] ([`KeyRecord::rate_limit`](crate::KeyRecord::rate_limit)),
//! or gets the gate's [`default_rate_limit`](crate::KeyGateBuilder::default_rate_limit); a key
//! with neither costs nothing. Limits are enforced with GCRA (the generic cell rate algorithm,
//! behind governor and redis-cell): one timestamp per key, smooth refill, no window edges.
//!
//! Where the timestamps live is the gate's [`RateLimiter`]: in this process (the default, for one
//! instance), or in Redis (feature `redis`, for several instances that must share one budget per
//! key). Both run the same arithmetic, so they give the same decisions and the same header values.
//!
//! A request over its key's limit is answered `429` with the code `rate_limited`, `Retry-After`
//! and the IETF rate-limit headers (`RateLimit-Policy: "default";q=100;w=60`,
//! `RateLimit: "default";r=0;t=17`). Admitted requests of limited keys carry the same two headers
//! when [`KeyGate::route_layer`](crate::KeyGate::route_layer) protects the route, or when the
//! router has [`KeyGate::rate_limit_headers`](crate::KeyGate::rate_limit_headers).

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

mod gcra;
mod headers;
mod memory;
mod rate;
#[cfg(feature = "redis")]
mod redis;

pub use headers::{RateLimitHeaders, RateLimitHeadersFuture, RateLimitHeadersLayer};
pub use rate::{MAX_PERIOD, MAX_REQUESTS, MIN_PERIOD, RateLimit, RateLimitError};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisLimiter, RedisLimiterError};

pub(crate) use headers::{fill_slot, insert_rate_limit_headers};

/// Where a key stands against its limit after one check: what the `RateLimit` headers say.
///
/// ```
/// use keygate::{KeyGate, NewKey};
/// use keygate::reject::RejectionKind;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let gate = KeyGate::builder().build();
/// let limited = NewKey::new("partner").rate_limit("1/min".parse().unwrap());
/// let key = gate.create_key(limited).await.unwrap().key;
/// assert!(gate.verify(key.expose()).await.is_ok());
/// let refused = gate.verify(key.expose()).await.unwrap_err();
/// let RejectionKind::RateLimited(status) = refused.kind() else { panic!("{refused}") };
/// assert!(!status.admitted());
/// assert_eq!(status.remaining(), 0);
/// assert_eq!(status.retry_after_seconds(), 60);
/// assert_eq!(refused.status().as_u16(), 429);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    limit: RateLimit,
    admitted: bool,
    remaining: u64,
    reset: u64,
    retry_after: u64,
}

impl RateLimitStatus {
    /// The limit the key was checked against.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Whether the request was admitted.
    pub fn admitted(&self) -> bool {
        self.admitted
    }

    /// How many more requests would be admitted right now (the header's `r`).
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whole seconds until the key's full burst is available again (the header's `t`).
    pub fn reset_seconds(&self) -> u64 {
        self.reset
    }

    /// For a refused request, whole seconds until the next one would be admitted
    /// (`Retry-After`); 0 for an admitted one.
    pub fn retry_after_seconds(&self) -> u64 {
        self.retry_after
    }
}

/// What a rate limiter does when its backing server cannot answer. See
/// `RedisLimiter::fail_mode` (feature `redis`).
///
/// ```
/// use keygate::limit::FailMode;
///
/// assert_eq!(FailMode::default(), FailMode::Open);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailMode {
    /// Admit the request (authentication still happened), counted, with a WARN event at most
    /// once a second. The default: a rate limit protects capacity, not access.
    #[default]
    Open,
    /// Refuse the request with `503 rate_limiter_unavailable`.
    Closed,
}

/// Where a gate keeps the rate-limit state of its keys. Set with
/// [`KeyGateBuilder::rate_limiter`](crate::KeyGateBuilder::rate_limiter); the default is
/// [`RateLimiter::in_process`].
///
/// ```
/// use keygate::KeyGate;
/// use keygate::limit::{RateLimit, RateLimiter};
///
/// let gate = KeyGate::builder()
///     .rate_limiter(RateLimiter::in_process())
///     .default_rate_limit("100/min".parse::<RateLimit>().unwrap())
///     .build();
/// # let _ = gate;
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    InProcess(Arc<memory::MemoryLimiter>),
    #[cfg(feature = "redis")]
    Redis(RedisLimiter),
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::InProcess(_) => f.write_str("RateLimiter::InProcess"),
            #[cfg(feature = "redis")]
            Kind::Redis(redis) => f.debug_tuple("RateLimiter::Redis").field(redis).finish(),
        }
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::in_process()
    }
}

/// The limiter's server could not answer, and it fails closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

impl RateLimiter {
    /// Keeps each key's state in this process: exact for one instance, and each instance of a
    /// service counts on its own.
    pub fn in_process() -> Self {
        RateLimiter {
            kind: Kind::InProcess(Arc::new(memory::MemoryLimiter::new())),
        }
    }

    /// Keeps each key's state in Redis, shared by every instance that uses the same server.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(limiter: RedisLimiter) -> Self {
        RateLimiter {
            kind: Kind::Redis(limiter),
        }
    }

    /// Spends one request of `key_id`'s budget under `limit`, at `now` (the in-process limiter's
    /// clock; Redis reads its own). `Ok(None)`: the server could not answer and the limiter fails
    /// open.
    pub(crate) async fn check(
        &self,
        key_id: &str,
        limit: &RateLimit,
        now: SystemTime,
    ) -> Result<Option<RateLimitStatus>, Unavailable> {
        match &self.kind {
            Kind::InProcess(memory) => {
                let micros = now.duration_since(UNIX_EPOCH).map_or(0, |since| {
                    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
                });
                Ok(Some(memory.check(key_id, limit, micros)))
            }
            #[cfg(feature = "redis")]
            Kind::Redis(redis) => redis.check(key_id, limit).await,
        }
    }
}

#[cfg(feature = "redis")]
impl From<RedisLimiter> for RateLimiter {
    fn from(limiter: RedisLimiter) -> Self {
        RateLimiter::redis(limiter)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::RateLimit;

    fn parse(text: &str) -> Result<RateLimit, String> {
        text.parse()
            .map_err(|e: super::RateLimitError| e.to_string())
    }

    #[test]
    fn every_documented_form_parses_and_displays_canonically() {
        for (text, requests, seconds, burst, shown) in [
            ("100/min", 100, 60, 100, "100/min"),
            ("100/m", 100, 60, 100, "100/min"),
            ("10/s burst 20", 10, 1, 20, "10/s burst 20"),
            ("10/sec", 10, 1, 10, "10/s"),
            ("1000/h", 1000, 3600, 1000, "1000/h"),
            ("1000/hour", 1000, 3600, 1000, "1000/h"),
            ("5/30s", 5, 30, 5, "5/30s"),
            ("5/120s", 5, 120, 5, "5/2min"),
            ("7/d", 7, 86_400, 7, "7/d"),
            ("7/1day", 7, 86_400, 7, "7/d"),
            ("  3/min   burst 1 ", 3, 60, 1, "3/min burst 1"),
            ("10/s burst 10", 10, 1, 10, "10/s"),
        ] {
            let limit = parse(text).unwrap();
            assert_eq!(limit.requests(), requests, "{text}");
            assert_eq!(limit.period(), Duration::from_secs(seconds), "{text}");
            assert_eq!(limit.burst(), burst, "{text}");
            assert_eq!(limit.to_string(), shown, "{text}");
            assert_eq!(parse(shown), Ok(limit), "{shown} reads back");
        }
    }

    #[test]
    fn limits_that_cannot_work_are_refused_with_the_reason() {
        for (text, reason) in [
            ("", "it is empty"),
            ("100", "expected `<requests>/<period>`"),
            ("0/min", "requests must be 1 to 1000000"),
            ("1000001/s", "requests must be 1 to 1000000"),
            ("99999999999/s", "requests must be 1 to 1000000"),
            ("-1/s", "requests must be a whole number"),
            ("1.5/s", "requests must be a whole number"),
            ("10/s burst 0", "the burst must be 1 to 1000000"),
            ("10/s burst", "optionally `burst <n>`"),
            ("10/s burst 2 3", "optionally `burst <n>`"),
            ("10/s bust 2", "optionally `burst <n>`"),
            ("10/0s", "the period must be 1 second to 1 day"),
            ("10/2d", "the period must be 1 second to 1 day"),
            ("10/86401s", "the period must be 1 second to 1 day"),
            ("10/99999999999d", "the period's count must be 1 to"),
            ("10/minute", "unknown unit `minute`"),
            ("10/30", "the period has no unit"),
            ("10/\u{1b}[2J", "unknown unit `\\u{1b}[2J`"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(reason), "{text:?}: {error}");
            assert!(!error.contains('\u{1b}'), "{text:?}: {error}");
        }
        assert!(RateLimit::new(1, Duration::from_millis(1500)).is_err());
        assert!(RateLimit::new(1, Duration::from_secs(86_400)).is_ok());
    }

    #[test]
    fn serde_uses_the_canonical_text() {
        let limit = parse("10/s burst 20").unwrap();
        assert_eq!(serde_json::to_string(&limit).unwrap(), "\"10/s burst 20\"");
        let back: RateLimit = serde_json::from_str("\"10/sec burst 20\"").unwrap();
        assert_eq!(back, limit);
        let error = serde_json::from_str::<RateLimit>("\"10/fortnight\"").unwrap_err();
        assert!(error.to_string().contains("unknown unit"), "{error}");
    }
}
