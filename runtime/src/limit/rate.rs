//! [`RateLimit`]: how fast one key may call, and its text form (`100/min`, `10/s burst 20`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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
    pub(super) requests: u32,
    pub(super) period: Duration,
    pub(super) burst: u32,
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
