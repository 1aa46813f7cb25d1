//! How long a revocation made by one instance takes to be refused by another, whose cache would
//! otherwise keep the key for an hour: p50, p99 and max over 200 revocations, on SQLite (change
//! log polled every 100 ms) and PostgreSQL (NOTIFY), while other tasks keep the reader busy with
//! verifications.
//!
//! `cargo bench -p keygate-tests --bench propagation`. PostgreSQL is measured when
//! `KEYGATE_TEST_POSTGRES_URL` names a server (a schema of its own is made and dropped).
//!
//! The clock starts when the revocation returns, just after its commit, and stops at the first
//! refusal of a reader polling every 200 µs. Each revocation waits a random 0–150 ms first, so
//! commits land at every point of the SQLite poller's cycle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keygate::{CachedStore, KeyGate, NewKey, SqlStore};
use sqlx::Connection;

const CHANGES: usize = 200;
const LOAD_TASKS: usize = 4;
const HOUR: Duration = Duration::from_secs(3600);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let file = std::env::temp_dir().join(format!("keygate-propagation-{}.db", std::process::id()));
    let url = format!("sqlite://{}", file.display());
    // The first store creates and migrates the file.
    let first = SqlStore::connect(&url).await.expect("sqlite");
    let second = SqlStore::connect(&url).await.expect("sqlite");
    measure("sqlite", first, second).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }

    match std::env::var("KEYGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!("kg_propagation_{}", std::process::id());
            let connect = || SqlStore::builder(&url).schema(&schema).connect();
            let first = connect().await.expect("postgres");
            let second = connect().await.expect("postgres");
            measure("postgres", first, second).await;
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("postgres");
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .expect("drop the schema");
        }
        _ => println!(
            "postgres: skipped; set KEYGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test"
        ),
    }
}

async fn measure(backend: &str, writer_store: SqlStore, reader_store: SqlStore) {
    let writer = KeyGate::builder()
        .prefix("bench")
        .store(writer_store)
        .build();
    let reader = KeyGate::builder()
        .prefix("bench")
        .store(
            CachedStore::builder(reader_store)
                .ttl(HOUR)
                .negative_ttl(HOUR)
                .build(),
        )
        .build();
    let mut keys = Vec::new();
    for i in 0..CHANGES + LOAD_TASKS {
        let created = writer
            .create_key(NewKey::new(format!("bench {i}")))
            .await
            .expect("create");
        keys.push((created.key.expose().to_owned(), created.record.key_id));
    }
    for (key, _) in &keys {
        while reader.verify(key).await.is_err() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    // The load: verifications of keys that stay valid, as fast as the tasks can go.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for (key, _) in keys.split_off(CHANGES) {
        let (reader, stop, served) = (reader.clone(), stop.clone(), served.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                assert!(reader.verify(&key).await.is_ok());
                served.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }));
    }

    let started = Instant::now();
    let mut took = Vec::with_capacity(CHANGES);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 | 1);
    for (key, id) in &keys {
        // A pause of 0 to 150 ms first, so commits fall at every point of a poller's cycle
        // rather than just after the look that saw the previous one.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_micros(seed % 150_000)).await;
        writer.revoke_key(id).await.expect("revoke");
        let committed = Instant::now();
        while reader.verify(key).await.is_ok() {
            assert!(
                committed.elapsed() < Duration::from_secs(60),
                "never refused"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        took.push(committed.elapsed());
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    println!(
        "{backend:>8}: {CHANGES} revocations, from commit to refusal: p50 {:?}, p99 {:?}, max {:?} \
         ({:.0} verifications/s of other keys meanwhile)",
        at(0.50),
        at(0.99),
        took[took.len() - 1],
        served.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
    );
}
