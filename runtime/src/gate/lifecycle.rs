//! The key lifecycle: create, list, rotate, revoke, change expiry and scopes.

use std::time::Duration;

use time::OffsetDateTime;

use super::{KeyError, KeyGate};
use crate::declared::grant_is_declared;
use crate::key_format;
use crate::limit::RateLimit;
use crate::record::{
    CONSOLE_SESSION_OF, CreatedKey, KeyFilter, KeyRecord, MAX_METADATA_ENTRIES,
    MAX_METADATA_KEY_LEN, MAX_METADATA_VALUE_LEN, MAX_NAME_LEN, MAX_OWNER_LEN, MAX_SCOPES, NewKey,
    PlaintextKey, RevocationReason,
};
use crate::scope::grant_problem;
use crate::store::{ChangeOutcome, KeyChange};

/// The longest lifetime or grace period keygate accepts: a hundred years. Anything longer is a
/// unit mistake, not a policy.
pub const MAX_LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl KeyGate {
    /// Refuses grants that are malformed, or outside the declaration when there is one.
    fn validate_grants(&self, scopes: &[String]) -> Result<(), KeyError> {
        validate_grants(scopes)?;
        let Some(declared) = self.inner.declared else {
            return Ok(());
        };
        match scopes.iter().find(|s| !grant_is_declared(s, declared)) {
            Some(bad) => Err(KeyError::UndeclaredScope {
                scope: bad.clone(),
                declared: declared.iter().map(|s| s.name).collect(),
            }),
            None => Ok(()),
        }
    }

    /// Creates a key. The returned [`CreatedKey::key`] is the only time the key text exists
    /// outside its holder.
    ///
    /// ```
    /// use keygate::{KeyGate, NewKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().prefix("acme_live").build();
    /// let created = gate
    ///     .create_key(NewKey::new("ci-deploy").owner("team-infra").scopes(["items:read"]))
    ///     .await
    ///     .unwrap();
    /// assert!(created.key.expose().starts_with("acme_live_"));
    /// assert_eq!(created.record.scopes, ["items:read"]);
    /// # }
    /// ```
    ///
    /// Free text is bounded: see the limits in [`record`](crate::record) (name and owner length,
    /// metadata size, scopes per key); control characters are refused everywhere, so a name can
    /// never repaint a terminal or forge a log line. The metadata entry `console_session_of` is
    /// reserved for the web console's sessions and refused here.
    pub async fn create_key(&self, new: NewKey) -> Result<CreatedKey, KeyError> {
        if new.metadata.contains_key(CONSOLE_SESSION_OF) {
            // A key carrying it would pass for a session the console never opened.
            return Err(KeyError::InvalidText {
                field: "metadata",
                reason: format!("`{CONSOLE_SESSION_OF}` is reserved for web console sessions"),
            });
        }
        self.create_unreserved(new).await
    }

    /// A web console session key: [`create_key`](Self::create_key) with the reserved metadata
    /// entry `new` carries.
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) async fn create_console_session(&self, new: NewKey) -> Result<CreatedKey, KeyError> {
        self.create_unreserved(new).await
    }

    /// [`create_key`](Self::create_key), reserved metadata allowed.
    async fn create_unreserved(&self, new: NewKey) -> Result<CreatedKey, KeyError> {
        if new.name.trim().is_empty() {
            return Err(KeyError::EmptyName);
        }
        check_text("name", &new.name, MAX_NAME_LEN)?;
        check_text("owner", &new.owner, MAX_OWNER_LEN)?;
        if new.metadata.len() > MAX_METADATA_ENTRIES {
            return Err(KeyError::InvalidText {
                field: "metadata",
                reason: format!("at most {MAX_METADATA_ENTRIES} entries"),
            });
        }
        for (key, value) in &new.metadata {
            if key.is_empty() {
                return Err(KeyError::InvalidText {
                    field: "metadata",
                    reason: "an entry's key cannot be empty".into(),
                });
            }
            check_text("metadata", key, MAX_METADATA_KEY_LEN)?;
            check_text("metadata", value, MAX_METADATA_VALUE_LEN)?;
        }
        self.validate_grants(&new.scopes)?;
        let now = OffsetDateTime::now_utc();
        let expires_at = self.expiry_for_new_key(now, new.expires_in)?;
        let (key, mut record) = self.mint(now)?;
        record.name = new.name;
        record.owner = new.owner;
        record.scopes = new.scopes;
        record.metadata = new.metadata;
        record.rate_limit = new.rate_limit;
        record.expires_at = expires_at;
        self.inner.store.insert(record.clone()).await?;
        Ok(CreatedKey { key, record })
    }

    /// A fresh key and a record holding only its id, hash and creation time.
    fn mint(&self, now: OffsetDateTime) -> Result<(PlaintextKey, KeyRecord), KeyError> {
        let generated = key_format::generate(&self.inner.prefix).map_err(KeyError::Random)?;
        let record = KeyRecord {
            key_id: generated.key_id().to_owned(),
            hash: self.inner.hasher.hash_new(generated.secret()),
            name: String::new(),
            owner: String::new(),
            scopes: Vec::new(),
            metadata: Default::default(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            rotated_from: None,
            rotated_to: None,
            revocation: None,
            rate_limit: None,
        };
        Ok((PlaintextKey::new(generated.into_key()), record))
    }

    /// Keys matching `filter`, oldest first. Records carry hashes, never secrets.
    pub async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, KeyError> {
        Ok(self.inner.store.list(filter).await?)
    }

    /// The record of one key.
    pub async fn get_key(&self, key_id: &str) -> Result<KeyRecord, KeyError> {
        match self.inner.store.fetch(key_id).await? {
            Some(record) => Ok(KeyRecord::clone(&record)),
            None => Err(KeyError::NotFound(key_id.to_owned())),
        }
    }

    /// Revokes a key, at once and for good. Revoking a revoked key changes nothing.
    pub async fn revoke_key(&self, key_id: &str) -> Result<KeyRecord, KeyError> {
        let at = OffsetDateTime::now_utc();
        self.revoke_with(key_id, KeyChange::Revoke { at, reason: None })
            .await
    }

    /// Applies a revocation; a key revoked already is no error: it is revoked, as asked.
    async fn revoke_with(&self, key_id: &str, revoke: KeyChange) -> Result<KeyRecord, KeyError> {
        match self.write_change(key_id, revoke).await {
            Ok(()) | Err(KeyError::Revoked(_)) => self.get_key(key_id).await,
            Err(error) => Err(error),
        }
    }

    /// Revokes a key and records why. Revoking a revoked key changes nothing: it keeps its first
    /// time and reason.
    ///
    /// ```
    /// use keygate::{KeyGate, NewKey};
    /// use keygate::record::RevocationReason;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().build();
    /// let created = gate.create_key(NewKey::new("ci")).await.unwrap();
    /// let reason = RevocationReason::new("compromised_laptop");
    /// let record = gate
    ///     .revoke_key_with_reason(&created.record.key_id, reason.clone())
    ///     .await
    ///     .unwrap();
    /// assert_eq!(record.revocation, Some(reason));
    /// # }
    /// ```
    pub async fn revoke_key_with_reason(
        &self,
        key_id: &str,
        reason: RevocationReason,
    ) -> Result<KeyRecord, KeyError> {
        let at = OffsetDateTime::now_utc();
        let change = KeyChange::Revoke {
            at,
            reason: Some(reason),
        };
        self.revoke_with(key_id, change).await
    }

    /// Replaces a key: a new key with the same name, owner, scopes and metadata (and the same
    /// lifetime, if the old one had an expiry), while the old key keeps working for `grace` and
    /// then expires. The records link old → new. Under a
    /// [maximum key lifetime](crate::KeyGateBuilder::max_key_lifetime) the successor lives at
    /// most that long, and the grace period ends no later than the old key's own limit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keygate::{KeyGate, NewKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().build();
    /// let old = gate.create_key(NewKey::new("partner")).await.unwrap();
    /// let new = gate
    ///     .rotate_key(&old.record.key_id, Duration::from_secs(3600))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(new.record.rotated_from.as_deref(), Some(old.record.key_id.as_str()));
    /// assert!(gate.verify(old.key.expose()).await.is_ok(), "still inside the grace period");
    /// # }
    /// ```
    ///
    /// Only an active key that was never rotated can be rotated: a revoked key fails with
    /// [`KeyError::Revoked`], an expired one with [`KeyError::Expired`], and a second rotation of
    /// the same key with [`KeyError::Rotated`]. The check and the write are one conditional write
    /// in the store, so a revocation or rotation racing this one (from another process, say)
    /// cannot leave a live successor behind.
    ///
    /// The successor copies the scopes read here; if the key's scopes change before the rotation
    /// is written, it fails with [`KeyError::Conflict`] rather than mint a successor with scopes
    /// the key no longer holds.
    pub async fn rotate_key(&self, key_id: &str, grace: Duration) -> Result<CreatedKey, KeyError> {
        let old = self.get_key(key_id).await?;
        self.rotate_record(&old, grace).await
    }

    /// Rotates the key `old` as it was read earlier: like [`rotate_key`](Self::rotate_key), but
    /// the successor copies exactly `old`'s scopes, and the rotation fails with
    /// [`KeyError::Conflict`] unless the stored key still holds them when it is written. A caller
    /// that checked something about `old` (that it may grant its scopes, say) knows the successor
    /// is what it checked.
    pub async fn rotate_record(
        &self,
        old: &KeyRecord,
        grace: Duration,
    ) -> Result<CreatedKey, KeyError> {
        let key_id = old.key_id.as_str();
        // The declaration may have changed since the old key was made.
        self.validate_grants(&old.scopes)?;
        let now = OffsetDateTime::now_utc();
        let old_expires_at = if grace.is_zero() {
            now
        } else {
            self.grace_end(old, expiry_after(now, grace, "grace period")?, now)
        };
        let (key, mut record) = self.mint(now)?;
        record.name = old.name.clone();
        record.owner = old.owner.clone();
        record.scopes = old.scopes.clone();
        record.metadata = old.metadata.clone();
        record.metadata.remove(CONSOLE_SESSION_OF); // only the console opens sessions
        record.rate_limit = old.rate_limit;
        record.expires_at = self.successor_expiry(old, now);
        record.rotated_from = Some(old.key_id.clone());
        let change = KeyChange::Rotate {
            replacement: Box::new(record.clone()),
            expected_scopes: old.scopes.clone(),
            old_expires_at,
            at: now,
        };
        // Written, not re-read: once the rotation is stored, the new key's text exists nowhere
        // else, so a failed read after it must not turn a done rotation into an error.
        self.write_change(key_id, change).await?;
        Ok(CreatedKey { key, record })
    }

    /// Sets the expiry to `now + lifetime`, or clears it with `None`. Under a
    /// [maximum key lifetime](crate::KeyGateBuilder::max_key_lifetime), an expiry past the
    /// key's creation plus the maximum, or none at all, is refused with
    /// [`KeyError::LifetimeTooLong`].
    pub async fn set_key_expiry(
        &self,
        key_id: &str,
        lifetime: Option<Duration>,
    ) -> Result<KeyRecord, KeyError> {
        let expires_at = match lifetime {
            Some(lifetime) => Some(expiry_after(
                OffsetDateTime::now_utc(),
                lifetime,
                "lifetime",
            )?),
            None => None,
        };
        if self.inner.max_lifetime.is_some() {
            self.check_new_expiry(&self.get_key(key_id).await?, expires_at)?;
        }
        self.apply_change(key_id, KeyChange::SetExpiry(expires_at))
            .await
    }

    /// Replaces a key's granted scopes.
    pub async fn set_key_scopes<I, S>(&self, key_id: &str, scopes: I) -> Result<KeyRecord, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.validate_grants(&scopes)?;
        self.apply_change(key_id, KeyChange::SetScopes(scopes))
            .await
    }

    /// Sets the key's own rate limit, or clears it with `None` (the gate's default then applies,
    /// if it has one). Takes effect on the key's next request (after the cache, if the store has
    /// one, forgets the record). Refused on a revoked key.
    ///
    /// ```
    /// use keygate::{KeyGate, NewKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().build();
    /// let key = gate.create_key(NewKey::new("partner")).await.unwrap();
    /// let id = &key.record.key_id;
    /// let record = gate.set_rate_limit(id, Some("100/min".parse().unwrap())).await.unwrap();
    /// assert_eq!(record.rate_limit.unwrap().to_string(), "100/min");
    /// assert_eq!(gate.set_rate_limit(id, None).await.unwrap().rate_limit, None);
    /// # }
    /// ```
    pub async fn set_rate_limit(
        &self,
        key_id: &str,
        limit: Option<RateLimit>,
    ) -> Result<KeyRecord, KeyError> {
        self.apply_change(key_id, KeyChange::SetRateLimit(limit))
            .await
    }

    /// Applies `change` as one conditional write and returns the record as it is now; a refusal
    /// becomes the error that says why.
    async fn apply_change(&self, key_id: &str, change: KeyChange) -> Result<KeyRecord, KeyError> {
        self.write_change(key_id, change).await?;
        self.get_key(key_id).await
    }

    /// Applies `change` as one conditional write; a refusal becomes the error that says why.
    async fn write_change(&self, key_id: &str, change: KeyChange) -> Result<(), KeyError> {
        let refused = |error: fn(String) -> KeyError| Err(error(key_id.to_owned()));
        match self.inner.store.update(key_id, change).await? {
            ChangeOutcome::Applied => Ok(()),
            ChangeOutcome::NotFound => refused(KeyError::NotFound),
            ChangeOutcome::Revoked => refused(KeyError::Revoked),
            ChangeOutcome::Rotated => refused(KeyError::Rotated),
            ChangeOutcome::Expired => refused(KeyError::Expired),
            ChangeOutcome::Superseded => refused(KeyError::Conflict),
        }
    }
}

/// Refuses text over `max` bytes or holding control characters (which include NUL, that
/// PostgreSQL cannot store, and the escapes that steer terminals).
fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), KeyError> {
    let reason = if text.len() > max {
        format!("at most {max} bytes")
    } else if text.chars().any(char::is_control) {
        "control characters are not allowed".to_owned()
    } else {
        return Ok(());
    };
    Err(KeyError::InvalidText { field, reason })
}

fn validate_grants(scopes: &[String]) -> Result<(), KeyError> {
    if scopes.len() > MAX_SCOPES {
        return Err(KeyError::TooManyScopes { max: MAX_SCOPES });
    }
    match scopes.iter().find_map(|s| grant_problem(s)) {
        Some(problem) => Err(KeyError::InvalidScope(problem)),
        None => Ok(()),
    }
}

pub(super) fn expiry_after(
    now: OffsetDateTime,
    lifetime: Duration,
    what: &str,
) -> Result<OffsetDateTime, KeyError> {
    if lifetime.is_zero() {
        return Err(KeyError::InvalidDuration(format!(
            "the {what} must be positive"
        )));
    }
    if lifetime > MAX_LIFETIME {
        return Err(KeyError::InvalidDuration(format!(
            "the {what} may be at most 100 years"
        )));
    }
    time::Duration::try_from(lifetime)
        .ok()
        .and_then(|d| now.checked_add(d))
        .ok_or_else(|| KeyError::InvalidDuration(format!("the {what} is out of range")))
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
