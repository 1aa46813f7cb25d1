use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Usage, UsageHour, UsageKind};
use crate::store::KeyStore;
use crate::{KeyGate, MemoryStore, NewKey};

#[tokio::test]
async fn last_used_times_reach_the_store_without_an_explicit_flush() {
    let store = Arc::new(MemoryStore::new());
    let gate = KeyGate::builder()
        .store(store.clone())
        .usage_flush_interval(Duration::from_millis(20))
        .build();
    let created = gate.create_key(NewKey::new("used")).await.unwrap();
    gate.verify(created.key.expose()).await.unwrap();
    let id = &created.record.key_id;
    for _ in 0..250 {
        let record = store.fetch(id).await.unwrap().unwrap();
        if record.last_used_at.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the periodic flush never wrote the last-used time");
}

#[tokio::test]
async fn one_flusher_runs_however_many_times_keys_are_used() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let usage = Usage::new(
        Arc::new(MemoryStore::new()),
        Duration::from_secs(3600),
        Duration::from_secs(90 * 86_400),
        true,
    );
    for n in 0..20 {
        usage.record(
            &format!("key{}", n % 3),
            UsageKind::Admitted,
            OffsetDateTime::now_utc(),
        );
    }
    assert_eq!(
        metrics.num_alive_tasks() - before,
        1,
        "each recorder starts one periodic flush, once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_from_many_threads_at_once_all_arrive() {
    let store = Arc::new(MemoryStore::new());
    let usage = Arc::new(Usage::new(
        store.clone(),
        Duration::from_secs(3600),
        Duration::from_secs(90 * 86_400),
        true,
    ));
    let now = OffsetDateTime::now_utc();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let usage = usage.clone();
            std::thread::spawn(move || {
                for n in 0..5_000 {
                    // One hot key and a spread of others, flushed midway by another thread.
                    usage.record("hot", UsageKind::Admitted, now);
                    usage.record(&format!("k{}", (n + t) % 50), UsageKind::WrongSecret, now);
                }
            })
        })
        .collect();
    for _ in 0..5 {
        usage.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for thread in threads {
        thread.join().unwrap();
    }
    usage.flush().await.unwrap();
    let hot = store
        .usage("hot", now - time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(hot.iter().map(|h| h.admitted).sum::<u64>(), 20_000);
    let mut wrong = 0;
    for k in 0..50 {
        let rows = store.usage(&format!("k{k}"), now).await.unwrap();
        wrong += rows.iter().map(|h| h.wrong_secret).sum::<u64>();
    }
    assert_eq!(wrong, 20_000);
    assert_eq!(hot[0].hour, UsageHour::starting(now).hour);
}

#[tokio::test]
async fn a_gate_that_records_no_usage_writes_none() {
    let store = Arc::new(MemoryStore::new());
    let gate = KeyGate::builder()
        .store(store.clone())
        .record_usage(false)
        .build();
    let created = gate.create_key(NewKey::new("quiet")).await.unwrap();
    gate.verify(created.key.expose()).await.unwrap();
    gate.flush_usage().await.unwrap();
    let id = &created.record.key_id;
    assert!(
        store
            .fetch(id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
            .is_none()
    );
    let since = OffsetDateTime::now_utc() - time::Duration::days(1);
    assert!(gate.usage(id, since).await.unwrap().is_empty());
}
