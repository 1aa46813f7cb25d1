//! Reading what the admin routes are given, as their schemas state it, and the privilege rule.

use std::time::Duration;

use axum::http::StatusCode;

use super::problem::AdminError;
use crate::duration::parse_duration;
use crate::limit::{RateLimit, RateLimitError};
use crate::{ApiKey, KeyGate};

/// Refuses grants the calling key does not itself hold ([`grant_beyond`](crate::admin::grant_beyond)).
/// The command line, which holds the database, is not limited.
pub(super) fn may_grant(
    gate: &KeyGate,
    caller: &ApiKey,
    requested: &[String],
) -> Result<(), AdminError> {
    match crate::admin::grant_beyond(gate, caller.scopes(), requested) {
        Some(grant) => Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "scope_not_held",
            format!("The calling key does not hold `{grant}`, so it cannot grant it."),
        )),
        None => Ok(()),
    }
}

/// Refuses a rate limit looser than the calling key's own (its own, else the gate's default):
/// a key held to `10/min` must neither lift its own limit nor mint or loosen a key beyond it.
/// `requested` is the limit the key would carry (`None`: none of its own, so the default).
pub(super) fn may_limit(
    gate: &KeyGate,
    caller: &ApiKey,
    requested: Option<RateLimit>,
) -> Result<(), AdminError> {
    match crate::admin::limit_beyond(gate, caller.0.rate_limit, requested) {
        Some(detail) => Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "rate_limit_not_held",
            detail,
        )),
        None => Ok(()),
    }
}

/// The limit a key minted by `caller` gets: the one asked for, if within the caller's own; none
/// asked for, the caller's own when the default would be looser.
pub(super) fn limit_for_new(
    gate: &KeyGate,
    caller: &ApiKey,
    requested: Option<RateLimit>,
) -> Result<Option<RateLimit>, AdminError> {
    crate::admin::limit_for_new(gate, caller.0.rate_limit, requested)
        .map_err(|detail| AdminError::new(StatusCode::FORBIDDEN, "rate_limit_not_held", detail))
}

/// The lifetime a key minted by `caller` gets: no later an end than the caller's own.
pub(super) fn lifetime_within(
    gate: &KeyGate,
    caller: &ApiKey,
    requested: Option<Duration>,
) -> Result<Option<Duration>, AdminError> {
    crate::admin::lifetime_within(gate, caller.expires_at(), requested)
        .map_err(|detail| AdminError::new(StatusCode::FORBIDDEN, "lifetime_not_held", detail))
}

/// Refuses rotating a key that never expires when the caller does.
pub(super) fn may_rotate_lifetime(
    gate: &KeyGate,
    caller: &ApiKey,
    old: &crate::record::KeyRecord,
) -> Result<(), AdminError> {
    match crate::admin::successor_outlives(gate, caller.expires_at(), caller.key_id(), old) {
        Some(detail) => Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "lifetime_not_held",
            detail,
        )),
        None => Ok(()),
    }
}

/// Reads a duration as its schema states it: `parse_duration`'s grammar, written without
/// surrounding spaces or leading zeros.
pub(super) fn duration(text: Option<&str>) -> Result<Option<Duration>, AdminError> {
    let refused = |detail: String| {
        AdminError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_duration", detail)
    };
    let Some(text) = text else { return Ok(None) };
    if text.trim() != text || text.starts_with('0') {
        return Err(refused(format!(
            "invalid duration `{}`: write a positive whole number without spaces or leading \
             zeros, and a unit, such as 30m, 24h, 90d or 2w",
            text.escape_default()
        )));
    }
    parse_duration(text)
        .map(Some)
        .map_err(|error| refused(error.to_string()))
}

/// Reads a rate limit as its schema states it: `RateLimit`'s grammar, written with single spaces
/// and without leading zeros.
pub(super) fn rate_limit(text: Option<&str>) -> Result<Option<RateLimit>, AdminError> {
    let refused = |detail: String| {
        AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rate_limit",
            detail,
        )
    };
    let Some(text) = text else { return Ok(None) };
    let loose_space =
        text.split(' ').any(str::is_empty) || text.chars().any(|c| c.is_whitespace() && c != ' ');
    let leading_zero = text
        .split(|c: char| !c.is_ascii_digit())
        .any(|digits| digits.starts_with('0'));
    if loose_space || leading_zero {
        return Err(refused(format!(
            "invalid rate limit `{}`: write whole numbers without leading zeros, separated by \
             single spaces, such as 100/min or 10/s burst 20",
            text.escape_default()
        )));
    }
    text.parse()
        .map(Some)
        .map_err(|error: RateLimitError| refused(error.to_string()))
}
