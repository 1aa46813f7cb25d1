//! Usage history: per key and UTC hour, how many requests were admitted and how many were refused
//! for a missing scope (403), for the key's rate limit (429), or for a wrong secret under a key
//! id that exists (someone holds the id and is guessing, or holds a corrupted copy).
//!
//! Counted in memory on the request path and written, with last-used times, by one batched
//! writer every [`usage_flush_interval`](crate::KeyGateBuilder::usage_flush_interval): admitting
//! a request never waits on the store. Read it with [`KeyGate::usage`](crate::KeyGate::usage).
//!
//! ```
//! use keygate::{KeyGate, NewKey};
//! use time::{Duration, OffsetDateTime};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let gate = KeyGate::builder().build();
//! let created = gate.create_key(NewKey::new("ci").scopes(["items:read"])).await.unwrap();
//! gate.verify(created.key.expose()).await.unwrap();
//!
//! let since = OffsetDateTime::now_utc() - Duration::days(7);
//! let hours = gate.usage(&created.record.key_id, since).await.unwrap();
//! assert_eq!(hours.len(), 1);
//! assert_eq!(hours[0].admitted, 1);
//! # }
//! ```

use serde::Serialize;
use time::OffsetDateTime;

mod buffers;
mod recorder;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod writer_tests;

pub(crate) use recorder::Usage;

/// What one presentation of a key counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UsageKind {
    Admitted = 0,
    InsufficientScope = 1,
    RateLimited = 2,
    WrongSecret = 3,
}

/// One hour of one key's use. Hours without any use have no row.
///
/// Serialised with the hour's start as RFC 3339 in UTC (`2026-11-28T17:00:00Z`).
///
/// ```
/// use keygate::usage::UsageHour;
/// use time::OffsetDateTime;
/// use time::format_description::well_known::Rfc3339;
///
/// let at = |text| OffsetDateTime::parse(text, &Rfc3339).unwrap();
/// let mut hour = UsageHour::starting(at("2026-11-28T17:42:10Z"));
/// assert_eq!(hour.hour, at("2026-11-28T17:00:00Z"));
/// hour.admitted = 40;
/// hour.wrong_secret = 2;
/// assert_eq!(hour.total(), 42);
/// let json = serde_json::to_value(hour).unwrap();
/// assert_eq!(json["hour"], "2026-11-28T17:00:00Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(
    feature = "utoipa",
    derive(utoipa::ToSchema),
    schema(description = "One hour of one key's use: admitted requests and refusals, by kind.")
)]
pub struct UsageHour {
    /// The start of the hour, UTC.
    #[serde(with = "crate::view::rfc3339_seconds")]
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = DateTime))]
    pub hour: OffsetDateTime,
    /// Requests admitted.
    pub admitted: u64,
    /// Requests refused because the key lacks a required scope (403 `insufficient_scope`).
    pub insufficient_scope: u64,
    /// Requests refused by the key's rate limit (429 `rate_limited`).
    pub rate_limited: u64,
    /// Presentations of the key's id with a wrong secret (401 `invalid_api_key`).
    pub wrong_secret: u64,
}

impl UsageHour {
    /// The hour holding `at` (in UTC), with every count zero.
    pub fn starting(at: OffsetDateTime) -> Self {
        UsageHour::at_index(hour_index(at))
    }

    /// Every presentation counted in the hour, admitted or refused.
    pub fn total(&self) -> u64 {
        self.admitted + self.insufficient_scope + self.rate_limited + self.wrong_secret
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &UsageHour) {
        self.admitted += other.admitted;
        self.insufficient_scope += other.insufficient_scope;
        self.rate_limited += other.rate_limited;
        self.wrong_secret += other.wrong_secret;
    }

    /// The counts in [`UsageKind`] order.
    pub(crate) fn counts(&self) -> [u64; 4] {
        [
            self.admitted,
            self.insufficient_scope,
            self.rate_limited,
            self.wrong_secret,
        ]
    }

    /// An hour numbered as [`hour_index`] numbers them, every count zero.
    pub(crate) fn at_index(index: i64) -> Self {
        let hour = OffsetDateTime::from_unix_timestamp(index.saturating_mul(3600))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        UsageHour {
            hour,
            admitted: 0,
            insufficient_scope: 0,
            rate_limited: 0,
            wrong_secret: 0,
        }
    }
}

/// Hours since the Unix epoch, UTC: the hour `at` falls in.
pub(crate) fn hour_index(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(3600)
}
