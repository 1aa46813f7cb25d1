//! Following the store's change feed: what each announcement does to the cache.

use super::*;

/// Acts on one announcement of the store's feed.
pub(super) fn hear<S: KeyStore>(held: &Arc<Held>, inner: &Weak<S>, announcement: Announcement) {
    match announcement {
        Announcement::Changed(key_id) => {
            // Added before the entries go: a lookup that follows must not be refused as unknown.
            held.ids.add(&key_id);
            held.invalidate(&key_id);
        }
        Announcement::Lost => {
            // Before the removal: a lookup that checks after it keeps nothing, and one that
            // checked before sees the epoch moved and removes what it kept.
            held.following.store(false, Ordering::Release);
            held.ids.forget_completeness();
            held.invalidate_all();
        }
        Announcement::Listening => {
            let generation = held.ids.forget_completeness();
            // What was read before is dropped first; only then may answers be kept. A lookup
            // still on its way that sees `following` set sees the epoch moved too, and removes
            // what it kept.
            held.invalidate_all();
            held.following.store(true, Ordering::Release);
            if let Some(inner) = inner.upgrade().filter(|_| held.ids.enabled) {
                tokio::spawn(learn_ids(inner, Arc::downgrade(held), generation));
            }
        }
    }
}

/// Lists every key id the store holds into the known set, and marks the set complete if the
/// feed has listened without a break since this listing began. Ids created meanwhile are
/// announced, and added by [`hear`].
async fn learn_ids<S: KeyStore>(inner: Arc<S>, held: Weak<Held>, generation: u64) {
    let ids = inner.key_ids().await;
    // Neither the store nor the contents are kept alive by a listing the cache no longer needs.
    drop(inner);
    let Some(held) = held.upgrade() else {
        return;
    };
    let ids = match ids {
        Ok(ids) => ids,
        Err(error) => {
            // The set stays incomplete, so unknown ids are asked of the store as usual.
            tracing::warn!(
                target: "keygate",
                %error,
                "could not list key ids; unknown ids are looked up in the store until the next \
                 time the change feed starts listening"
            );
            return;
        }
    };
    let known = &held.ids;
    let mut set = known.set.write().unwrap_or_else(PoisonError::into_inner);
    set.reserve(ids.len());
    set.extend(ids.iter().map(|id| known.fingerprint(id)));
    // Under the set's lock, which a `Lost` takes too: a `Lost` heard between reading the
    // generation and marking the set complete would otherwise be overwritten by `true`.
    if known.generation.load(Ordering::Acquire) == generation {
        known.complete.store(true, Ordering::Release);
    }
}
