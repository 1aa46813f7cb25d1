//! What the cache keeps, depending on whether its store's feed is listening.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::store::Announcement;
use crate::store::scripted::Scripted;
use crate::{CachedStore, KeyGate, NewKey};

/// Verifies `key` through `gate` twice; how many lookups reached the store.
async fn lookups_for_two(gate: &KeyGate, store: &Scripted, key: &str) -> usize {
    let before = store.fetches.load(Ordering::SeqCst);
    for _ in 0..2 {
        assert!(gate.verify(key).await.is_ok());
    }
    store.fetches.load(Ordering::SeqCst) - before
}

#[tokio::test]
async fn nothing_is_cached_while_the_feed_is_not_listening() {
    let (store, say) = Scripted::with_feed();
    let store = Arc::new(store);
    let gate = KeyGate::builder()
        .store(
            CachedStore::builder(store.clone())
                .ttl(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let key = gate.create_key(NewKey::new("k")).await.unwrap();
    let key = key.key.expose();
    let settle = || tokio::time::sleep(Duration::from_millis(50));

    // Before the feed first listens, a change made elsewhere would go unheard: not kept.
    assert_eq!(lookups_for_two(&gate, &store, key).await, 2);
    say.send(Announcement::Listening).unwrap();
    settle().await;
    assert_eq!(
        lookups_for_two(&gate, &store, key).await,
        1,
        "kept once heard"
    );
    say.send(Announcement::Lost).unwrap();
    settle().await;
    assert_eq!(
        lookups_for_two(&gate, &store, key).await,
        2,
        "not kept while lost"
    );
    say.send(Announcement::Listening).unwrap();
    settle().await;
    assert_eq!(lookups_for_two(&gate, &store, key).await, 1, "kept again");
}

#[tokio::test]
async fn a_store_without_a_feed_is_cached_from_the_start() {
    let store = Arc::new(Scripted::default());
    let gate = KeyGate::builder()
        .store(CachedStore::new(store.clone()))
        .build();
    let key = gate.create_key(NewKey::new("k")).await.unwrap();
    assert_eq!(lookups_for_two(&gate, &store, key.key.expose()).await, 1);
}
