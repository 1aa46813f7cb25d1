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
    match requested {
        None => Ok(Some(
            gate.max_key_lifetime().map_or(left, |max| left.min(max)),
        )),
        Some(asked) if asked <= left => Ok(Some(asked)),
        Some(asked) => Err(format!(
            "The calling key expires in {}, so a key it mints cannot live {}.",
            crate::duration::format_duration(left),
            crate::duration::format_duration(asked)
        )),
    }
}

/// Why a key that ends at `held` may not rotate a key that never expires: the successor would
/// not either.
pub(crate) fn successor_outlives(
    held: Option<time::OffsetDateTime>,
    old: &crate::record::KeyRecord,
) -> Option<String> {
    (held.is_some() && old.expires_at.is_none()).then(|| {
        "The calling key expires, and the successor of a key that never expires would not."
            .to_owned()
    })
}
