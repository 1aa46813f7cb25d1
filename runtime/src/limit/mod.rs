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
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod gcra;
mod headers;
mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use headers::{RateLimitHeaders, RateLimitHeadersFuture, RateLimitHeadersLayer};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisLimiter, RedisLimiterError};

pub(crate) use headers::HeaderSlot;

/// The most requests (or burst) one limit may name.
pub const MAX_REQUESTS: u32 = 1_000_000;
/// The shortest period of a limit.
pub const MIN_PERIOD: Duration = Duration::from_secs(1);
/// The longest period of a limit.
pub const MAX_PERIOD: Duration = Duration::from_secs(86_400);

/// How fast one key may call: `requests` per `period`, with up to `burst` at once.
///
/// Written `100/min`, `10/s burst 20`, `1000/h` or `5/30s`: a count, `/`, an optional number and
/// a unit (`s`/`sec`, `m`/`min`, `h`/`hour`, `d`/`day`), and optionally `burst` and a count. The
/// burst defaults to `requests`. Serialised as that text.
///
/// ```
/// use std::time::Duration;
/// use keygate::limit::RateLimit;
///
/// let limit: RateLimit = "10/s burst 20".parse().unwrap();
/// assert_eq!(limit.requests(), 10);
/// assert_eq!(limit.period(), Duration::from_secs(1));
/// assert_eq!(limit.burst(), 20);
/// assert_eq!(limit.to_string(), "10/s burst 20");
///
/// let limit: RateLimit = "5/30s".parse().unwrap();
/// assert_eq!(limit, RateLimit::new(5, Duration::from_secs(30)).unwrap());
/// assert_eq!("100/minute".parse::<RateLimit>().unwrap_err().to_string(),
///     "invalid rate limit `100/minute`: unknown unit `minute`; use s, min, h or d, \
///      such as 100/min, 10/s burst 20 or 5/30s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    requests: u32,
    period: Duration,
    burst: u32,
}

/// A rate limit that keygate cannot use; the message says why, on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RateLimitError(String);

impl RateLimit {
    /// `requests` per `period`, with a burst of `requests`. Requests and burst must be 1 to
    /// [`MAX_REQUESTS`]; the period a whole number of seconds from [`MIN_PERIOD`] to
    /// [`MAX_PERIOD`].
    pub fn new(requests: u32, period: Duration) -> Result<Self, RateLimitError> {
        let limit = RateLimit {
            requests,
            period,
            burst: requests,
        };
        limit.validate()?;
        Ok(limit)
    }

    /// The same limit, allowing up to `burst` requests at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keygate::limit::RateLimit;
    ///
    /// let limit = RateLimit::new(10, Duration::from_secs(1)).unwrap().with_burst(20).unwrap();
    /// assert_eq!(limit.to_string(), "10/s burst 20");
    /// assert!(RateLimit::new(10, Duration::from_secs(1)).unwrap().with_burst(0).is_err());
    /// ```
    pub fn with_burst(self, burst: u32) -> Result<Self, RateLimitError> {
        let limit = RateLimit { burst, ..self };
        limit.validate()?;
        Ok(limit)
    }

    /// Requests per period.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How many requests may come at once, after a quiet period.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn validate(&self) -> Result<(), RateLimitError> {
        let problem = if !(1..=MAX_REQUESTS).contains(&self.requests) {
            format!("requests must be 1 to {MAX_REQUESTS}")
        } else if !(1..=MAX_REQUESTS).contains(&self.burst) {
            format!("the burst must be 1 to {MAX_REQUESTS}")
        } else if self.period < MIN_PERIOD || self.period > MAX_PERIOD {
            "the period must be 1 second to 1 day".to_owned()
        } else if self.period.subsec_nanos() != 0 {
            "the period must be a whole number of seconds".to_owned()
        } else {
            return Ok(());
        };
        Err(RateLimitError(format!(
            "invalid rate limit `{self}`: {problem}"
        )))
    }
}

/// Seconds per unit, largest first: the order [`Display`](fmt::Display) picks a unit in.
const UNITS: &[(&str, u64)] = &[("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)];

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.period.as_secs();
        let (unit, per) = UNITS
            .iter()
            .copied()
            .find(|&(_, per)| seconds != 0 && seconds.is_multiple_of(per))
            .unwrap_or(("s", 1));
        write!(f, "{}/", self.requests)?;
        if seconds / per != 1 {
            write!(f, "{}", seconds / per)?;
        }
        f.write_str(unit)?;
        if self.burst != self.requests {
            write!(f, " burst {}", self.burst)?;
        }
        Ok(())
    }
}

impl FromStr for RateLimit {
    type Err = RateLimitError;

    fn from_str(text: &str) -> Result<Self, RateLimitError> {
        let shown = text.trim().escape_default().to_string();
        let refuse = |why: String| {
            Err(RateLimitError(format!(
                "invalid rate limit `{shown}`: {why}; use s, min, h or d, such as 100/min, \
                 10/s burst 20 or 5/30s"
            )))
        };
        let number = |what: &str, digits: &str| -> Result<u32, RateLimitError> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RateLimitError(format!(
                    "invalid rate limit `{shown}`: {what} must be a whole number, such as \
                     100/min or 10/s burst 20"
                )));
            }
            digits.parse().map_err(|_| {
                RateLimitError(format!(
                    "invalid rate limit `{shown}`: {what} must be 1 to {MAX_REQUESTS}"
                ))
            })
        };
        let mut words = text.split_whitespace();
        let Some(rate) = words.next() else {
            return refuse("it is empty".into());
        };
        let burst = match (words.next(), words.next(), words.next()) {
            (None, _, _) => None,
            (Some("burst"), Some(count), None) => Some(number("the burst", count)?),
            _ => return refuse("expected `<requests>/<period>` and optionally `burst <n>`".into()),
        };
        let Some((requests, period)) = rate.split_once('/') else {
            return refuse("expected `<requests>/<period>`".into());
        };
        let requests = number("requests", requests)?;
        let unit_at = period
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(period.len());
        let (count, unit) = period.split_at(unit_at);
        let count = if count.is_empty() {
            1
        } else {
            number("the period's count", count)?
        };
        let per: u64 = match unit {
            "s" | "sec" => 1,
            "m" | "min" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            "" => return refuse("the period has no unit".into()),
            other => return refuse(format!("unknown unit `{}`", other.escape_default())),
        };
        let limit = RateLimit {
            requests,
            period: Duration::from_secs(u64::from(count).saturating_mul(per)),
            burst: burst.unwrap_or(requests),
        };
        limit.validate().map_err(|e| {
            // Name the text as written, not as it would be displayed.
            let why = e.0.split_once("`: ").map_or(e.0.as_str(), |(_, why)| why);
            RateLimitError(format!("invalid rate limit `{shown}`: {why}"))
        })?;
        Ok(limit)
    }
}

impl serde::Serialize for RateLimit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RateLimit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

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
    /// Admit the request (authentication still happened), with a WARN event and a count. The
    /// default: a rate limit protects capacity, not access.
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
