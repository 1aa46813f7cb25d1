//! Key administration a service mounts (feature `admin`): the admin API as a router
//! ([`api`]) and a server-rendered web console ([`console`]).

pub mod api;
pub mod console;

pub use api::AdminApi;

use crate::KeyGate;

/// The first of `requested` that a caller holding `held` may not grant, if any: a key never mints
/// or widens a key beyond itself (as with GitHub's fine-grained tokens).
///
/// Malformed or undeclared grants are not reported here; the gate refuses them with its own
/// error when the key is written, since what is wrong with a request comes before who asks.
///
/// ```
/// use keygate::{KeyGate, MemoryStore};
///
/// let gate = KeyGate::builder().store(MemoryStore::new()).build();
/// let held = vec!["items:*".to_owned()];
/// let asked = vec!["items:read".to_owned(), "admin".to_owned()];
/// assert_eq!(keygate::admin::grant_beyond(&gate, &held, &asked), Some("admin"));
/// assert_eq!(keygate::admin::grant_beyond(&gate, &held, &asked[..1]), None);
/// ```
pub fn grant_beyond<'a>(
    gate: &KeyGate,
    held: &[String],
    requested: &'a [String],
) -> Option<&'a str> {
    let declared = |grant: &str| {
        gate.declared_scopes().is_none_or(|scopes| {
            scopes
                .iter()
                .any(|s| crate::scope::grant_includes(grant, s.name))
        })
    };
    requested
        .iter()
        .find(|grant| {
            crate::scope::is_valid_grant(grant)
                && declared(grant)
                && !held
                    .iter()
                    .any(|have| crate::scope::grant_includes(have, grant))
        })
        .map(String::as_str)
}

/// Why a key limited by `held` (its own limit, else the gate's default) may not give a key
/// `requested` (its own limit; `None`: none, so the default): a faster rate, a larger burst, or
/// no limit at all. `None` when it may.
pub(crate) fn limit_beyond(
    gate: &KeyGate,
    held: Option<crate::limit::RateLimit>,
    requested: Option<crate::limit::RateLimit>,
) -> Option<String> {
    let held = held.or(gate.default_rate_limit())?;
    let effective = requested.or(gate.default_rate_limit());
    if effective.is_some_and(|limit| within(&limit, &held)) {
        return None;
    }
    let asked = effective.map_or_else(|| "no limit".to_owned(), |limit| limit.to_string());
    Some(format!(
        "The calling key is limited to {held}, so it cannot give a key {asked}."
    ))
}

/// The limit a new key minted by a key limited by `held` gets: `requested` if it is within, and
/// without one asked for, `held` itself when the gate's default (or no limit) would be looser.
pub(crate) fn limit_for_new(
    gate: &KeyGate,
    held: Option<crate::limit::RateLimit>,
    requested: Option<crate::limit::RateLimit>,
) -> Result<Option<crate::limit::RateLimit>, String> {
    if requested.is_none() && held.is_some() && limit_beyond(gate, held, None).is_some() {
        return Ok(held);
    }
    match limit_beyond(gate, held, requested) {
        Some(detail) => Err(detail),
        None => Ok(requested),
    }
}

/// Whether `limit` allows no more than `held`: no faster a rate, no larger a burst.
fn within(limit: &crate::limit::RateLimit, held: &crate::limit::RateLimit) -> bool {
    // requests / period, compared as fractions: r / p <= R / P when r * P <= R * p.
    let rate = u128::from(limit.requests()) * held.period().as_millis()
        <= u128::from(held.requests()) * limit.period().as_millis();
    rate && limit.burst() <= held.burst()
}

/// The lifetime a key minted by a key that ends at `held` gets: no later an end. Asked for none,
/// it ends with that key (and within the gate's maximum lifetime); asked for more, the reason it
/// may not.
pub(crate) fn lifetime_within(
    gate: &KeyGate,
    held: Option<time::OffsetDateTime>,
    requested: Option<std::time::Duration>,
) -> Result<Option<std::time::Duration>, String> {
    let Some(until) = held else {
        return Ok(requested);
    };
    // Whole seconds, less one: the key is written a moment after this, and its end is counted
    // from then. A live key's end is ahead; a second at least.
    let left = (until - time::OffsetDateTime::now_utc()).whole_seconds() - 1;
    let left = std::time::Duration::from_secs(left.max(1).unsigned_abs());
    let max = gate.max_key_lifetime();
    match requested {
        None => Ok(Some(max.map_or(left, |max| left.min(max)))),
        Some(asked) if asked <= left => Ok(Some(asked)),
        // Past the gate's maximum: what is wrong with the request is said first, by the gate.
        Some(asked) if max.is_some_and(|max| asked > max) => Ok(Some(asked)),
        Some(asked) => Err(format!(
            "The calling key expires in {}, so a key it mints cannot live {}.",
            about(left),
            crate::duration::format_duration(asked)
        )),
    }
}

/// `left`, in its largest whole unit, rounded down: `89d`, `5h`.
fn about(left: std::time::Duration) -> String {
    let seconds = left.as_secs();
    match seconds {
        86_400.. => format!("{}d", seconds / 86_400),
        3_600.. => format!("{}h", seconds / 3_600),
        60.. => format!("{}m", seconds / 60),
        _ => format!("{seconds}s"),
    }
}

/// Why a key that ends at `held` may not rotate `old`: its successor would end later (or never).
/// A key rotating itself may: that is how a key is renewed.
pub(crate) fn successor_outlives(
    gate: &KeyGate,
    held: Option<time::OffsetDateTime>,
    caller_id: &str,
    old: &crate::record::KeyRecord,
) -> Option<String> {
    let held = held?;
    if old.key_id == caller_id {
        return None;
    }
    let ends = gate.successor_expiry(old, time::OffsetDateTime::now_utc());
    if ends.is_some_and(|ends| ends <= held) {
        return None;
    }
    Some(
        "The calling key expires before this key's successor would, so it cannot rotate it."
            .to_owned(),
    )
}
