//! The key database locked at request time: 503 `key_store_unavailable` over real HTTP, quickly,
//! and service resumes by itself once the lock is gone.

mod sql_support;

use std::time::{Duration, Instant};

use keygate::{KeyGate, SqlStore};
use keygate_example::{AppState, DemoKeys, Items, app, mint_demo_keys};
use sql_support::{PgSchema, TempDb};
use sqlx::Connection;

/// The example served on `store` with no cache, so every request reaches the database; its demo
/// keys; and a first request proving it works before the test breaks the database.
async fn serve_on(store: SqlStore) -> (String, DemoKeys) {
    let gate = KeyGate::builder().prefix("demo").store(store).build();
    let keys = mint_demo_keys(&gate).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState {
        gate,
        items: Items::with(&["apple"]),
    };
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let base = format!("http://{addr}");
    assert_eq!(get_items(&base, &keys.read).await.0, 200);
    (base, keys)
}

/// A 503 `key_store_unavailable`, answered within two seconds.
fn assert_fast_503((status, code, took): (u16, Option<String>, Duration)) {
    assert_eq!(
        (status, code.as_deref()),
        (503, Some("key_store_unavailable"))
    );
    assert!(took < Duration::from_secs(2), "failed fast: {took:?}");
}

/// Status, `code` (for problem documents) and how long the request took.
async fn outcome(response: reqwest::Response, started: Instant) -> (u16, Option<String>, Duration) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["code"].as_str().map(str::to_owned);
    (status, code, started.elapsed())
}

async fn get_items(base: &str, key: &str) -> (u16, Option<String>, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(format!("{base}/items"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    outcome(response, started).await
}

/// Polls until the service admits `key` again, for at most five seconds.
async fn recovers(base: &str, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, code, _) = get_items(base, key).await;
        if status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} {code:?} after the lock was released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_key(base: &str, admin: &str) -> (u16, Option<String>, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{base}/admin/keys"))
        .header("X-API-Key", admin)
        .json(&serde_json::json!({ "name": "while-locked", "scopes": ["items:read"] }))
        .send()
        .await
        .unwrap();
    outcome(response, started).await
}

#[tokio::test]
async fn sqlite_write_locked_by_another_process_answers_503_then_recovers() {
    let db = TempDb::new("locked");
    let (base, keys) = serve_on(SqlStore::connect(&db.url()).await.unwrap()).await;

    // Another program holds the write lock (a stuck transaction). SQLite in WAL mode, as keygate
    // runs it, holds a shared lock per open connection, so no one can lock readers out; writes
    // are what a lock stops.
    let mut locker = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    sqlx::query("UPDATE keygate_meta SET value = value")
        .execute(&mut locker)
        .await
        .unwrap();

    assert_fast_503(create_key(&base, &keys.admin).await);
    // Verification only reads, and WAL readers never wait for a writer.
    assert_eq!(get_items(&base, &keys.read).await.0, 200);

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    locker.close().await.unwrap();
    assert_eq!(
        create_key(&base, &keys.admin).await.0,
        201,
        "resumed by itself"
    );
}

#[tokio::test]
async fn sqlite_store_gone_at_request_time_answers_503() {
    store_gone_answers_503(SqlStore::connect("sqlite::memory:").await.unwrap()).await;
}

/// Serves the example on `store`, then closes the store's pool (standing in for a database that
/// went away): the next request must get a fast 503, never a 200 or a hang.
async fn store_gone_answers_503(store: SqlStore) {
    let (base, keys) = serve_on(store.clone()).await;
    store.close().await;
    assert_fast_503(get_items(&base, &keys.read).await);
}

#[tokio::test]
async fn postgres_table_locked_answers_503_then_recovers() {
    let Some(pg) = PgSchema::create("postgres_table_locked_answers_503_then_recovers").await else {
        return;
    };
    let store = pg.store().await;
    let (base, keys) = serve_on(store.clone()).await;

    let mut locker = pg.connection().await;
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE keygate_keys IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();

    assert_fast_503(get_items(&base, &keys.read).await);

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    locker.close().await.unwrap();
    recovers(&base, &keys.read).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_unreachable_at_request_time_answers_503() {
    let Some(pg) = PgSchema::create("postgres_unreachable_at_request_time_answers_503").await
    else {
        return;
    };
    store_gone_answers_503(pg.store().await).await;
}
