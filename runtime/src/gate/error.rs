//! What can go wrong when keys are created or changed.

use crate::store::StoreError;

/// A lifecycle operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A scope or grant is not valid; the message says why and how to write it.
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// A scope (or a wildcard grant covering no scope) outside the service's declared scopes.
    /// Only when the `KeyGate` was given a declaration; see
    /// [`KeyGateBuilder::declared_scopes`](crate::KeyGateBuilder::declared_scopes).
    #[error("{}", undeclared_message(.scope, .declared))]
    UndeclaredScope {
        /// The refused scope or wildcard grant.
        scope: String,
        /// The declared scopes.
        declared: Vec<&'static str>,
    },
    /// A name, owner or metadata entry is too long or holds control characters.
    #[error("invalid {field}: {reason}")]
    InvalidText {
        /// `name`, `owner` or `metadata`.
        field: &'static str,
        /// What is wrong, without repeating the text.
        reason: String,
    },
    /// More scopes than one key may hold ([`MAX_SCOPES`](crate::record::MAX_SCOPES)).
    #[error("a key may hold at most {max} scopes")]
    TooManyScopes {
        /// The limit.
        max: usize,
    },
    /// The key's name is empty.
    #[error("a key needs a non-empty name")]
    EmptyName,
    /// A lifetime, expiry or grace period is zero, negative or absurdly long.
    #[error("{0}")]
    InvalidDuration(String),
    /// The key would live longer than the gate's maximum key lifetime
    /// ([`KeyGateBuilder::max_key_lifetime`](crate::KeyGateBuilder::max_key_lifetime)); nothing
    /// was written.
    #[error("{}", lifetime_message(*.requested, *.max))]
    LifetimeTooLong {
        /// The lifetime asked for, counted from the key's creation; `None`: no expiry at all.
        requested: Option<std::time::Duration>,
        /// The longest lifetime allowed.
        max: std::time::Duration,
    },
    /// No key has this id.
    #[error("no key with id `{0}`")]
    NotFound(String),
    /// The key is revoked, and revocation is final.
    #[error("key `{0}` is revoked")]
    Revoked(String),
    /// The key was already rotated; a key is rotated once, and its successor is the one to
    /// rotate next.
    #[error("key `{0}` was already rotated; rotate its successor instead")]
    Rotated(String),
    /// The key has expired, so it cannot be rotated; create a new key instead.
    #[error("key `{0}` has expired; create a new key instead of rotating it")]
    Expired(String),
    /// Another process changed the key while this change was being made; nothing was written.
    #[error("key `{0}` was changed concurrently; read it again and retry")]
    Conflict(String),
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random(#[source] getrandom::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn undeclared_message(scope: &str, declared: &[&str]) -> String {
    let what = if scope.ends_with('*') {
        format!("wildcard grant `{scope}` covers no declared scope")
    } else {
        format!("scope `{scope}` is not declared")
    };
    if declared.is_empty() {
        format!("{what}; this service declares no scope")
    } else {
        format!(
            "{what}; the declared scopes are `{}`",
            declared.join("`, `")
        )
    }
}

fn lifetime_message(requested: Option<std::time::Duration>, max: std::time::Duration) -> String {
    use crate::duration::format_duration;
    let max = format_duration(max);
    match requested {
        Some(requested) => format!(
            "a lifetime of {} (from the key's creation) is longer than this service's maximum \
             key lifetime of {max}; ask for at most {max}",
            roughly(requested)
        ),
        None => format!(
            "keys of this service must expire: the maximum key lifetime is {max}, so a key \
             cannot be left without an expiry"
        ),
    }
}

/// A duration as `parse_duration` writes it when it is a whole number of minutes, else in days
/// or hours with one decimal, so a lifetime measured from a creation time stays readable.
fn roughly(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs_f64();
    if duration.as_secs().is_multiple_of(60) && duration.subsec_nanos() == 0 {
        crate::duration::format_duration(duration)
    } else if seconds >= 86_400.0 {
        format!("{:.1} days", seconds / 86_400.0)
    } else {
        format!("{:.1} hours", seconds / 3_600.0)
    }
}
