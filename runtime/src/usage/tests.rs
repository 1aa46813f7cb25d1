use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Usage, UsageHour, UsageKind};
use crate::store::KeyStore;
use crate::{KeyGate, MemoryStore, NewKey};

/// A recorder over `store` whose periodic write is an hour away: the tests write explicitly.
fn recorder(store: &Arc<MemoryStore>) -> Usage {
    Usage::new(
        store.clone(),
        Duration::from_secs(3600),
        Duration::from_secs(90 * 86_400),
        true,
    )
}

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
    let usage = recorder(&Arc::new(MemoryStore::new()));
    for n in 0..20 {
        usage.record(
            &format!("key{}", n % 3),
            UsageKind::Admitted,
            std::time::SystemTime::now(),
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
    let usage = Arc::new(recorder(&store));
    let now = OffsetDateTime::now_utc();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let usage = usage.clone();
            std::thread::spawn(move || {
                for n in 0..5_000 {
                    // One hot key and a spread of others, flushed midway by another thread.
                    usage.record("hot", UsageKind::Admitted, now.into());
                    usage.record(
                        &format!("k{}", (n + t) % 50),
                        UsageKind::WrongSecret,
                        now.into(),
                    );
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

#[tokio::test]
async fn counts_made_on_a_thread_that_has_ended_are_still_written() {
    let store = Arc::new(MemoryStore::new());
    let usage = Arc::new(recorder(&store));
    let now = OffsetDateTime::now_utc();
    // Each thread counts into a buffer of its own; these threads are gone before the write.
    for _ in 0..3 {
        let usage = usage.clone();
        std::thread::spawn(move || {
            usage.record("gone", UsageKind::Admitted, now.into());
            usage.record("gone", UsageKind::RateLimited, now.into());
        })
        .join()
        .unwrap();
    }
    usage.record("gone", UsageKind::Admitted, now.into());
    usage.flush().await.unwrap();
    let rows = store
        .usage("gone", now - time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        1,
        "one row for the hour, however many threads counted"
    );
    assert_eq!((rows[0].admitted, rows[0].rate_limited), (4, 3));
    // A second write finds nothing left: the buffers were emptied, not copied.
    usage.flush().await.unwrap();
    let again = store
        .usage("gone", now - time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(again[0].admitted, 4);
}

#[tokio::test]
async fn two_recorders_on_one_thread_keep_their_counts_apart() {
    let (first, second) = (Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new()));
    let (a, b) = (recorder(&first), recorder(&second));
    let now = OffsetDateTime::now_utc();
    a.record("k", UsageKind::Admitted, now.into());
    b.record("k", UsageKind::WrongSecret, now.into());
    b.record("k", UsageKind::WrongSecret, now.into());
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    let since = now - time::Duration::hours(1);
    let (in_first, in_second) = (
        first.usage("k", since).await.unwrap(),
        second.usage("k", since).await.unwrap(),
    );
    assert_eq!((in_first[0].admitted, in_first[0].wrong_secret), (1, 0));
    assert_eq!((in_second[0].admitted, in_second[0].wrong_secret), (0, 2));
}

#[tokio::test]
async fn a_presentation_counts_in_the_hour_its_clock_reading_falls_in() {
    let store = Arc::new(MemoryStore::new());
    let usage = recorder(&store);
    let hour = UsageHour::starting(OffsetDateTime::now_utc()).hour;
    let last_moment_before = hour - time::Duration::nanoseconds(1);
    usage.record("edge", UsageKind::Admitted, last_moment_before.into());
    usage.record("edge", UsageKind::Admitted, hour.into());
    usage.record(
        "edge",
        UsageKind::Admitted,
        (hour + time::Duration::minutes(59)).into(),
    );
    usage.flush().await.unwrap();
    let rows = store
        .usage("edge", hour - time::Duration::hours(2))
        .await
        .unwrap();
    let counts: Vec<_> = rows.iter().map(|row| (row.hour, row.admitted)).collect();
    assert_eq!(counts, [(hour - time::Duration::hours(1), 1), (hour, 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_that_end_while_counts_are_written_lose_nothing() {
    let store = Arc::new(MemoryStore::new());
    let usage = Arc::new(recorder(&store));
    let now = OffsetDateTime::now_utc();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (usage, done) = (usage.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                usage.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    // Short-lived threads, eight at a time, each counting twice and ending while the writer
    // empties buffers and forgets those of ended threads.
    let counting = {
        let usage = usage.clone();
        tokio::task::spawn_blocking(move || {
            for _ in 0..250 {
                let batch: Vec<_> = (0..8)
                    .map(|_| {
                        let usage = usage.clone();
                        std::thread::spawn(move || {
                            usage.record("brief", UsageKind::Admitted, now.into());
                            usage.record("brief", UsageKind::Admitted, now.into());
                        })
                    })
                    .collect();
                for thread in batch {
                    thread.join().unwrap();
                }
            }
        })
    };
    counting.await.unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
    usage.flush().await.unwrap();
    let rows = store
        .usage("brief", now - time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|row| row.admitted).sum::<u64>(), 4_000);
}

#[test]
fn a_clock_reading_falls_in_the_hour_dates_number_it_in() {
    use super::buffers::{NEVER, hour_and_nanos};
    use std::time::{Duration as Span, UNIX_EPOCH};

    let hour = Span::from_secs(3600);
    let nanos = |span: Span| i64::try_from(span.as_nanos()).unwrap();
    for (at, expected) in [
        (UNIX_EPOCH, (0, 0)),
        (
            UNIX_EPOCH + hour - Span::from_nanos(1),
            (0, nanos(hour) - 1),
        ),
        (UNIX_EPOCH + hour, (1, nanos(hour))),
        (UNIX_EPOCH - Span::from_nanos(1), (-1, -1)),
        (UNIX_EPOCH - hour, (-1, -nanos(hour))),
        (
            UNIX_EPOCH - hour - Span::from_nanos(1),
            (-2, -nanos(hour) - 1),
        ),
    ] {
        assert_eq!(hour_and_nanos(at), expected, "{at:?}");
        let date = OffsetDateTime::from(at);
        assert_eq!(expected.0, super::hour_index(date), "{date}");
    }
    // Four hundred years on: the hour is still right, the nanoseconds do not fit and no
    // last-used time is made up.
    let far = UNIX_EPOCH + Span::from_secs(400 * 365 * 86_400);
    let (at_hour, at_nanos) = hour_and_nanos(far);
    assert_eq!(at_hour, super::hour_index(OffsetDateTime::from(far)));
    assert_eq!(at_nanos, NEVER);
}

#[test]
fn a_thread_per_job_without_a_runtime_does_not_pile_up_buffers() {
    // No runtime: no periodic write, so nothing empties the recorder until someone flushes.
    let store = Arc::new(MemoryStore::new());
    let usage = Arc::new(recorder(&store));
    let now = OffsetDateTime::now_utc();
    for _ in 0..200 {
        let usage = usage.clone();
        std::thread::spawn(move || usage.record("job", UsageKind::Admitted, now.into()))
            .join()
            .unwrap();
    }
    assert!(
        usage.buffers_held() <= 2,
        "{} buffers held for 200 ended threads",
        usage.buffers_held()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(usage.flush()).unwrap();
    let rows = runtime
        .block_on(store.usage("job", now - time::Duration::hours(1)))
        .unwrap();
    assert_eq!(rows.iter().map(|row| row.admitted).sum::<u64>(), 200);
}
