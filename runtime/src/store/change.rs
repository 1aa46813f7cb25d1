//! The changes a key record can undergo, and the rule each one is held to.

use time::OffsetDateTime;

use crate::hash::KeyHash;
use crate::limit::RateLimit;
use crate::record::{KeyRecord, RevocationReason};

/// One change to a stored key, applied by [`KeyStore::update`](super::KeyStore::update) as one
/// conditional write: the check that the change is still allowed and the write itself cannot be
/// separated by another process's change.
///
/// ```
/// use keygate::store::KeyChange;
/// use time::OffsetDateTime;
///
/// let revoke = KeyChange::Revoke { at: OffsetDateTime::now_utc(), reason: None };
/// assert_eq!(revoke.name(), "revoke");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyChange {
    /// Marks the key revoked at `at` for `reason`. Refused as [`ChangeOutcome::Revoked`] when it
    /// already is: nothing is written, so the first revocation's time and reason stay, and of two
    /// revocations racing exactly one is told it was applied (the one whose reason stands).
    Revoke {
        /// When the key was revoked.
        at: OffsetDateTime,
        /// Why, if the revoker said.
        reason: Option<RevocationReason>,
    },
    /// Sets or clears the expiry. Refused on a revoked key, and on a rotated one (its expiry is
    /// the end of its grace period, which must not be lifted beside its successor). Allowed on an
    /// expired key: setting a later expiry brings it back.
    SetExpiry(Option<OffsetDateTime>),
    /// Replaces the granted scopes. Refused on a revoked key.
    SetScopes(Vec<String>),
    /// Sets or clears the key's own rate limit. Refused on a revoked key.
    SetRateLimit(Option<RateLimit>),
    /// Replaces the stored hash `from` with `to` (the same secret under a stronger scheme: a
    /// plain SHA-256 upgraded to the peppered HMAC on the key's next use). Refused when the hash
    /// is no longer `from`, so a concurrent upgrade or rotation is never overwritten.
    Rehash {
        /// The hash the upgrade was computed against.
        from: KeyHash,
        /// The new hash of the same secret.
        to: KeyHash,
    },
    /// Inserts `replacement` (whose `rotated_from` names this key), links this key to it, and
    /// makes this key expire at `old_expires_at` unless it expires sooner. Refused unless this key
    /// is active at `at` and was never rotated, so two racing rotations cannot both win and a
    /// revoked or expired key never gets a live successor.
    Rotate {
        /// The new key's record.
        replacement: Box<KeyRecord>,
        /// The scopes the replacement copied: the rotation is refused as
        /// [`ChangeOutcome::Superseded`] if the key holds others by the time it is written, so a
        /// scope change racing the rotation never leaves the successor with scopes the key no
        /// longer has.
        expected_scopes: Vec<String>,
        /// When the old key stops working: now plus the grace period.
        old_expires_at: OffsetDateTime,
        /// The moment the rotation is judged at.
        at: OffsetDateTime,
    },
}

/// What [`KeyStore::update`](super::KeyStore::update) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeOutcome {
    /// The change was written.
    Applied,
    /// No key has this id; nothing was written.
    NotFound,
    /// The key is revoked, and the change is not allowed on a revoked key; nothing was written.
    Revoked,
    /// The key was already rotated; nothing was written.
    Rotated,
    /// The key has expired, and the change is not allowed on an expired key; nothing was written.
    Expired,
    /// The record no longer holds what the change was computed against (another process changed
    /// it first); nothing was written.
    Superseded,
}

impl KeyChange {
    /// A short name for logs and change announcements.
    pub fn name(&self) -> &'static str {
        match self {
            KeyChange::Revoke { .. } => "revoke",
            KeyChange::SetExpiry(_) => "set_expiry",
            KeyChange::SetScopes(_) => "set_scopes",
            KeyChange::SetRateLimit(_) => "set_rate_limit",
            KeyChange::Rehash { .. } => "rehash",
            KeyChange::Rotate { .. } => "rotate",
        }
    }

    /// Why this change may not be applied to `record` as it stands, if it may not. Every store
    /// holds its conditional write to this rule; SQL stores also use it to say why a conditional
    /// statement matched no row.
    pub fn refusal(&self, record: &KeyRecord) -> Option<ChangeOutcome> {
        match self {
            KeyChange::Revoke { .. } => record
                .revoked_at
                .is_some()
                .then_some(ChangeOutcome::Revoked),
            KeyChange::Rehash { from, .. } => {
                (record.hash != *from).then_some(ChangeOutcome::Superseded)
            }
            KeyChange::SetScopes(_) | KeyChange::SetRateLimit(_) => record
                .revoked_at
                .is_some()
                .then_some(ChangeOutcome::Revoked),
            KeyChange::SetExpiry(_) => {
                if record.revoked_at.is_some() {
                    Some(ChangeOutcome::Revoked)
                } else if record.rotated_to.is_some() {
                    Some(ChangeOutcome::Rotated)
                } else {
                    None
                }
            }
            KeyChange::Rotate {
                at,
                expected_scopes,
                ..
            } => {
                if record.revoked_at.is_some() {
                    Some(ChangeOutcome::Revoked)
                } else if record.rotated_to.is_some() {
                    Some(ChangeOutcome::Rotated)
                } else if record.expires_at.is_some_and(|e| e <= *at) {
                    Some(ChangeOutcome::Expired)
                } else if record.scopes != *expected_scopes {
                    Some(ChangeOutcome::Superseded)
                } else {
                    None
                }
            }
        }
    }

    /// Applies the change to `record`, which [`refusal`](Self::refusal) allowed; returns the
    /// record to insert beside it, for a rotation.
    pub fn apply(self, record: &mut KeyRecord) -> Option<KeyRecord> {
        match self {
            KeyChange::Revoke { at, reason } => {
                if record.revoked_at.is_none() {
                    record.revoked_at = Some(at);
                    record.revocation = reason;
                }
                None
            }
            KeyChange::SetExpiry(expires_at) => {
                record.expires_at = expires_at;
                None
            }
            KeyChange::SetScopes(scopes) => {
                record.scopes = scopes;
                None
            }
            KeyChange::SetRateLimit(limit) => {
                record.rate_limit = limit;
                None
            }
            KeyChange::Rehash { to, .. } => {
                record.hash = to;
                None
            }
            KeyChange::Rotate {
                replacement,
                old_expires_at,
                ..
            } => {
                record.rotated_to = Some(replacement.key_id.clone());
                record.expires_at = Some(
                    record
                        .expires_at
                        .map_or(old_expires_at, |e| e.min(old_expires_at)),
                );
                Some(*replacement)
            }
        }
    }

    /// The id of a record this change creates (a rotation's replacement), which caches must
    /// forget too.
    pub fn created_key_id(&self) -> Option<&str> {
        match self {
            KeyChange::Rotate { replacement, .. } => Some(&replacement.key_id),
            _ => None,
        }
    }
}
