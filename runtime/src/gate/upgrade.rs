//! Upgrading a plain-SHA-256 stored hash to the peppered one, on a key's successful use.

use std::sync::PoisonError;

use super::KeyGate;
use crate::hash::KeyHash;
use crate::store::{ChangeOutcome, KeyChange};

/// How long a key whose hash upgrade failed waits before the next try.
const UPGRADE_RETRY: std::time::Duration = std::time::Duration::from_secs(60);

impl KeyGate {
    /// Stores the peppered hash of a key found with a plain one, in the background: the request
    /// does not wait, and the write is conditional on the old hash, so racing upgrades (or a
    /// rotation) are never overwritten.
    ///
    /// One upgrade per key at a time; after a failed one, the key waits a while before the next
    /// try, so a store that refuses writes is not asked again on every request.
    pub(super) fn upgrade_hash(&self, key_id: &str, from: &KeyHash, secret: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            let mut upgrading = self
                .inner
                .upgrading
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !upgrading.insert(key_id.to_owned()) {
                return;
            }
        }
        let Some(to) = self.inner.hasher.upgrade(from, secret) else {
            // Only reached when `would_upgrade` was false: nothing to do, nothing to hold.
            self.inner
                .upgrading
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key_id);
            return;
        };
        let inner = self.inner.clone();
        let key_id = key_id.to_owned();
        let change = KeyChange::Rehash {
            from: from.clone(),
            to,
        };
        runtime.spawn(async move {
            match inner.store.update(&key_id, change).await {
                Ok(ChangeOutcome::Applied) => tracing::info!(
                    target: "keygate",
                    key_id,
                    "upgraded the key's stored hash to the peppered scheme"
                ),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(
                        target: "keygate",
                        key_id,
                        %error,
                        "could not upgrade the key's stored hash; will retry in a minute"
                    );
                    tokio::time::sleep(UPGRADE_RETRY).await;
                }
            }
            inner
                .upgrading
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key_id);
        });
    }
}
