//! The maximum key lifetime: what expiry a key gets, and which ones are refused.

use std::time::Duration;

use time::OffsetDateTime;

use super::builder::ConfigError;
use super::lifecycle::MAX_LIFETIME;
use super::{KeyError, KeyGate};
use crate::record::KeyRecord;

/// Refuses a maximum lifetime that could not be a policy: zero, or past keygate's own limit.
pub(super) fn check_max_lifetime(max: Duration) -> Result<(), ConfigError> {
    if max.is_zero() {
        return Err(ConfigError(
            "the maximum key lifetime must be longer than zero".into(),
        ));
    }
    if max > MAX_LIFETIME {
        return Err(ConfigError(
            "the maximum key lifetime may be at most 100 years".into(),
        ));
    }
    Ok(())
}

/// `at + by`, or `None` past the end of time (no expiry can be later than that anyway).
fn after(at: OffsetDateTime, by: Duration) -> Option<OffsetDateTime> {
    time::Duration::try_from(by)
        .ok()
        .and_then(|d| at.checked_add(d))
}

impl KeyGate {
    /// The expiry of a key created at `now` that asked for `requested` (`None`: no expiry, or
    /// the maximum lifetime under a policy); a longer lifetime than the policy allows is
    /// refused.
    pub(super) fn expiry_for_new_key(
        &self,
        now: OffsetDateTime,
        requested: Option<Duration>,
    ) -> Result<Option<OffsetDateTime>, KeyError> {
        let lifetime = match (requested, self.inner.max_lifetime) {
            (Some(requested), Some(max)) if requested > max => {
                return Err(KeyError::LifetimeTooLong {
                    requested: Some(requested),
                    max,
                });
            }
            (Some(lifetime), _) | (None, Some(lifetime)) => lifetime,
            (None, None) => return Ok(None),
        };
        super::lifecycle::expiry_after(now, lifetime, "lifetime").map(Some)
    }

    /// Checks an expiry about to be set on `record`: under a policy, it must exist and fall
    /// within the maximum lifetime from the key's creation (which never changes, so the check
    /// cannot race the write).
    pub(super) fn check_new_expiry(
        &self,
        record: &KeyRecord,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(), KeyError> {
        let Some(max) = self.inner.max_lifetime else {
            return Ok(());
        };
        let Some(expires_at) = expires_at else {
            return Err(KeyError::LifetimeTooLong {
                requested: None,
                max,
            });
        };
        let lifetime = expires_at - record.created_at;
        if lifetime > max {
            return Err(KeyError::LifetimeTooLong {
                requested: Some(lifetime.try_into().unwrap_or(Duration::MAX)),
                max,
            });
        }
        Ok(())
    }

    /// The expiry of a rotation's successor minted at `now`: the old key's lifetime, if it had
    /// an expiry, held to the maximum lifetime if there is one.
    pub(crate) fn successor_expiry(
        &self,
        old: &KeyRecord,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let old_lifetime = old
            .expires_at
            .map(|expires_at| (expires_at - old.created_at).max(time::Duration::ZERO))
            .map(|lifetime| lifetime.try_into().unwrap_or(Duration::ZERO));
        let lifetime = match (old_lifetime, self.inner.max_lifetime) {
            (Some(old), Some(max)) => old.min(max),
            (Some(lifetime), None) | (None, Some(lifetime)) => lifetime,
            (None, None) => return None,
        };
        after(now, lifetime)
    }

    /// When a rotated key stops working: after the grace period, but under a policy never past
    /// its own maximum lifetime (and at once if that has passed already).
    pub(super) fn grace_end(
        &self,
        old: &KeyRecord,
        grace_end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> OffsetDateTime {
        match self
            .inner
            .max_lifetime
            .and_then(|max| after(old.created_at, max))
        {
            Some(limit) => grace_end.min(limit.max(now)),
            None => grace_end,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{KeyError, KeyGate, NewKey};

    const DAY: Duration = Duration::from_secs(86_400);

    fn gate(max: Duration) -> KeyGate {
        KeyGate::builder().max_key_lifetime(max).build()
    }

    #[tokio::test]
    async fn a_key_created_without_an_expiry_gets_the_maximum_lifetime() {
        let gate = gate(90 * DAY);
        let record = gate.create_key(NewKey::new("ci")).await.unwrap().record;
        assert_eq!(
            record.expires_at.unwrap() - record.created_at,
            time::Duration::days(90)
        );
        let shorter = NewKey::new("ci").expires_in(30 * DAY);
        let record = gate.create_key(shorter).await.unwrap().record;
        assert_eq!(
            record.expires_at.unwrap() - record.created_at,
            time::Duration::days(30)
        );
    }

    #[tokio::test]
    async fn a_longer_lifetime_is_refused_and_nothing_is_written() {
        let gate = gate(90 * DAY);
        let refused = gate
            .create_key(NewKey::new("ci").expires_in(91 * DAY))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, KeyError::LifetimeTooLong { requested: Some(r), max } if r == 91 * DAY && max == 90 * DAY),
            "{refused:?}"
        );
        let message = refused.to_string();
        assert!(
            message.contains("91d") && message.contains("maximum key lifetime of 90d"),
            "{message}"
        );
        assert!(
            gate.list_keys(&Default::default())
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn an_expiry_cannot_be_cleared_or_moved_past_the_limit() {
        let gate = gate(90 * DAY);
        let id = gate
            .create_key(NewKey::new("ci"))
            .await
            .unwrap()
            .record
            .key_id;
        let cleared = gate.set_key_expiry(&id, None).await.unwrap_err();
        assert!(
            matches!(
                cleared,
                KeyError::LifetimeTooLong {
                    requested: None,
                    ..
                }
            ),
            "{cleared:?}"
        );
        assert!(cleared.to_string().contains("must expire"), "{cleared}");
        let past = gate.set_key_expiry(&id, Some(91 * DAY)).await.unwrap_err();
        assert!(matches!(past, KeyError::LifetimeTooLong { .. }), "{past:?}");
        let record = gate.set_key_expiry(&id, Some(10 * DAY)).await.unwrap();
        let lifetime = record.expires_at.unwrap() - record.created_at;
        // Ten days from the call, a moment after the creation.
        assert!(
            (lifetime - time::Duration::days(10)).abs() < time::Duration::seconds(1),
            "{lifetime}"
        );
    }

    #[tokio::test]
    async fn rotation_keeps_within_the_limit() {
        let store = std::sync::Arc::new(crate::MemoryStore::new());
        // A key made before the policy: no expiry, and created long ago.
        let before = KeyGate::builder().store(store.clone()).build();
        let mut old = before.create_key(NewKey::new("ci")).await.unwrap().record;
        old.key_id = "oldkeyoldkey".into();
        old.created_at -= time::Duration::days(89);
        crate::store::KeyStore::insert(&store, old.clone())
            .await
            .unwrap();

        let gate = KeyGate::builder()
            .store(store.clone())
            .max_key_lifetime(90 * DAY)
            .build();
        let new = gate.rotate_key(&old.key_id, 7 * DAY).await.unwrap().record;
        assert_eq!(
            new.expires_at.unwrap() - new.created_at,
            time::Duration::days(90),
            "the successor of a key without expiry gets the maximum"
        );
        let old = gate.get_key(&old.key_id).await.unwrap();
        let old_lifetime = old.expires_at.unwrap() - old.created_at;
        assert!(
            old_lifetime <= time::Duration::days(90),
            "the grace period ends at the old key's own limit: {old_lifetime}"
        );
    }

    #[test]
    fn a_zero_or_absurd_maximum_is_a_configuration_error() {
        for max in [Duration::ZERO, crate::gate::MAX_LIFETIME + DAY] {
            let error = KeyGate::builder()
                .max_key_lifetime(max)
                .try_build()
                .unwrap_err();
            assert!(
                error.to_string().contains("maximum key lifetime"),
                "{error}"
            );
        }
    }
}
