//! When the PostgreSQL change listener loses its connection, changes made meanwhile were never
//! announced: the cache drops everything it holds, says so at WARN, and listens again.
//!
//! A binary of its own: it ends every keygate listener connection on the server, which would
//! disturb other tests' caches running beside it.

mod sql_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate::{CachedStore, KeyGate, NewKey, SqlStore};
use sql_support::{CapturedLogs, PgSchema};

const HOUR: Duration = Duration::from_secs(3600);
const LIMIT: Duration = Duration::from_secs(10);

async fn code(gate: &KeyGate, key: &str) -> &'static str {
    match gate.verify(key).await {
        Ok(_) => "ok",
        Err(rejection) => rejection.kind().code(),
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < LIMIT, "{what}: not within {LIMIT:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn a_lost_listener_drops_the_cache_and_listens_again() {
    let logs = CapturedLogs::start();
    let pg = PgSchema::create("a_lost_listener_drops_the_cache_and_listens_again").await;
    let writer = KeyGate::builder()
        .prefix("loss")
        .store(pg.store().await)
        .build();
    let cached: Arc<CachedStore<SqlStore>> = Arc::new(
        CachedStore::builder(pg.store().await)
            .ttl(HOUR)
            .negative_ttl(HOUR)
            .build(),
    );
    wait_for("listening", || cached.knows_every_key_id()).await;
    let reader = KeyGate::builder()
        .prefix("loss")
        .store(cached.clone())
        .build();
    let created = writer.create_key(NewKey::new("ci")).await.unwrap();
    let key = created.key.expose().to_owned();
    let mut conn = pg.connection().await;
    // Announced creation first, then admitted and cached.
    let started = Instant::now();
    while code(&reader, &key).await != "ok" {
        assert!(started.elapsed() < LIMIT);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A revocation nobody hears of (the trigger is off for it), as if made while the listener
    // was away: the reader's cache still admits the key, and would for an hour.
    for statement in [
        "ALTER TABLE keygate_keys DISABLE TRIGGER keygate_keys_announce",
        "UPDATE keygate_keys SET revoked_at = 1 WHERE revoked_at IS NULL",
        "ALTER TABLE keygate_keys ENABLE TRIGGER keygate_keys_announce",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    assert_eq!(code(&reader, &key).await, "ok", "unannounced, still cached");

    // The listener's connection ends.
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'keygate change listener'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(!ended.is_empty(), "a listener connection was there to end");

    // The cache dropped what it held: the revocation is seen without any announcement.
    let started = Instant::now();
    while code(&reader, &key).await != "revoked_api_key" {
        assert!(started.elapsed() < LIMIT, "the cache kept the revoked key");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_for("a WARN about the lost listener", || {
        logs.lines_with("lost the PostgreSQL key-change listener")
            .iter()
            .any(|line| line.contains("WARN"))
    })
    .await;

    // And it listens again: a change announced after the loss is heard.
    wait_for("listening again", || cached.knows_every_key_id()).await;
    let second = writer.create_key(NewKey::new("after")).await.unwrap();
    let started = Instant::now();
    while code(&reader, second.key.expose()).await != "ok" {
        assert!(started.elapsed() < LIMIT, "the creation was not heard");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.revoke_key(&second.record.key_id).await.unwrap();
    let started = Instant::now();
    while code(&reader, second.key.expose()).await != "revoked_api_key" {
        assert!(started.elapsed() < LIMIT, "no announcement after the loss");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
