//! Lifecycle changes whose store fails around them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::store::scripted::Scripted;
use crate::{KeyGate, NewKey};

#[tokio::test]
async fn a_written_rotation_hands_out_the_new_key_even_if_a_read_fails_after_it() {
    let store = Arc::new(Scripted::failing_after_rotation());
    let gate = KeyGate::builder().store(store.clone()).build();
    let old = gate.create_key(NewKey::new("partner")).await.unwrap();
    let rotated = gate
        .rotate_key(&old.record.key_id, Duration::from_secs(60))
        .await
        .expect("the rotation was written: its new key must reach the caller");
    assert_eq!(
        rotated.record.rotated_from.as_deref(),
        Some(old.record.key_id.as_str())
    );
    // The store answers again: the key handed out is the one stored.
    store.failing.store(false, Ordering::SeqCst);
    assert!(gate.verify(rotated.key.expose()).await.is_ok());
    assert!(
        gate.verify(old.key.expose()).await.is_ok(),
        "the old key lives out its grace"
    );
}
