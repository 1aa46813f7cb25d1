//! The key database locked at request time: 503 `key_store_unavailable` over real HTTP, quickly,
//! and service resumes by itself once the lock is gone. The SQLite file removed or replaced under
//! a running service: noticed, and every key refused as store-unavailable, never admitted.

mod sql_support;

use std::time::{Duration, Instant};

use keygate::store::StoreError;
use keygate::{CachedStore, CreatedKey, KeyError, KeyGate, NewKey, SqlStore};
use keygate_example::{AppState, DemoKeys, Items, app, mint_demo_keys};
use sql_support::{CapturedLogs, PgSchema, TempDb};
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
    let mut locker = sql_support::hold_write_lock(&db.url()).await;

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
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_table_locked_answers_503_then_recovers() {
    let pg = PgSchema::create("postgres_table_locked_answers_503_then_recovers").await;
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
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_unreachable_at_request_time_answers_503() {
    let pg = PgSchema::create("postgres_unreachable_at_request_time_answers_503").await;
    store_gone_answers_503(pg.store().await).await;
}

/// A gate with no cache (every verification reaches the store) over the SQLite file `db`, and a
/// key that verifies. Many verifications at once first, so the pool holds several connections
/// to the file, as a busy service's does.
async fn gate_on_file(db: &TempDb) -> (KeyGate, CreatedKey) {
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let gate = KeyGate::builder().prefix("demo").store(store).build();
    let created = gate.create_key(NewKey::new("reader")).await.unwrap();
    let mut warm = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (gate, key) = (gate.clone(), created.key.expose().to_owned());
        warm.spawn(async move { gate.verify(&key).await.is_ok() });
    }
    while let Some(admitted) = warm.join_next().await {
        assert!(
            admitted.unwrap(),
            "the key verifies before the file is touched"
        );
    }
    (gate, created)
}

/// Removes the database file and its `-wal` / `-shm` companions.
fn remove_files(db: &TempDb) {
    for file in db.files() {
        let _ = std::fs::remove_file(file);
    }
}

/// `key` is refused as store-unavailable within a second, and from then on every verification,
/// however many and however concurrent (so any pooled connection would be used), is refused the
/// same way: never admitted, never a 401 from some other file.
async fn refused_from_now_on(gate: &KeyGate, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match gate.verify(key).await {
            Err(rejection) if rejection.code() == "key_store_unavailable" => break,
            other => assert!(
                Instant::now() < deadline,
                "still {:?} a second after the file went",
                other.map(|_| "admitted").map_err(|r| r.code())
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for round in 0..4 {
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (gate, key) = (gate.clone(), key.to_owned());
            attempts.spawn(async move { gate.verify(&key).await.map(drop).map_err(|r| r.code()) });
        }
        while let Some(outcome) = attempts.join_next().await {
            assert_eq!(
                outcome.unwrap(),
                Err("key_store_unavailable"),
                "round {round}"
            );
        }
        // Past the store's re-check interval, so the next round sees a fresh look at the path.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// An admin write fails with a store error instead of landing in a file nobody will read again.
async fn writes_fail(gate: &KeyGate, existing: &str) {
    let created = gate.create_key(NewKey::new("after-removal")).await;
    assert!(
        matches!(created, Err(KeyError::Store(StoreError::Unavailable(_)))),
        "create_key: {created:?}"
    );
    let revoked = gate.revoke_key(existing).await;
    assert!(
        matches!(revoked, Err(KeyError::Store(StoreError::Unavailable(_)))),
        "revoke_key: {revoked:?}"
    );
}

/// keygate's ERROR events naming the file: exactly one, however many requests were refused.
fn assert_logged_once(logs: &CapturedLogs, db: &TempDb) {
    let path = db.path.display().to_string();
    let lines: Vec<String> = logs
        .lines_with(&path)
        .into_iter()
        .filter(|line| line.contains("ERROR keygate:"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
}

#[tokio::test]
async fn sqlite_file_removed_under_a_running_service_refuses_every_key() {
    let logs = CapturedLogs::start();
    let db = TempDb::new("removed");
    let (gate, created) = gate_on_file(&db).await;

    remove_files(&db);
    refused_from_now_on(&gate, created.key.expose()).await;
    writes_fail(&gate, &created.record.key_id).await;
    refused_from_now_on(&gate, created.key.expose()).await;

    for file in db.files() {
        assert!(!file.exists(), "{} was created again", file.display());
    }
    assert_logged_once(&logs, &db);
}

/// Behind a cache that would keep the key for an hour, the removal is noticed all the same: the
/// store's change feed cannot read the file's change log, and the cache drops what it holds.
#[tokio::test]
async fn sqlite_file_removed_under_a_cached_service_refuses_every_key() {
    let logs = CapturedLogs::start();
    let db = TempDb::new("removed-cached");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(
            CachedStore::builder(store)
                .ttl(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let created = gate.create_key(NewKey::new("reader")).await.unwrap();
    assert!(
        gate.verify(created.key.expose()).await.is_ok(),
        "cached now"
    );

    remove_files(&db);
    // Refused within a second although the cache would keep the key for an hour. In the first
    // moments, before the store's next look at the path, a pooled connection can still read the
    // unlinked file (and a cached record survive until the feed's next look, 100 ms); after
    // that, never admitted again.
    let deadline = Instant::now() + Duration::from_secs(1);
    while gate.verify(created.key.expose()).await.is_ok() {
        assert!(Instant::now() < deadline, "still admitted a second after");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    refused_from_now_on(&gate, created.key.expose()).await;
    for file in db.files() {
        assert!(!file.exists(), "{} was created again", file.display());
    }
    assert_logged_once(&logs, &db);
}

#[tokio::test]
async fn sqlite_file_replaced_under_a_running_service_stays_refused() {
    let logs = CapturedLogs::start();
    let db = TempDb::new("replaced");
    let (gate, created) = gate_on_file(&db).await;

    // Someone removes the file and a second service (or the command line) starts on the same
    // path: a fresh keygate database, with keys of its own.
    remove_files(&db);
    let other = SqlStore::connect(&db.url()).await.unwrap();
    let other_gate = KeyGate::builder()
        .prefix("demo")
        .store(other.clone())
        .build();
    let theirs = other_gate.create_key(NewKey::new("theirs")).await.unwrap();

    // The first service answers neither from its old file nor from the new one: no key is
    // admitted one moment and unknown the next.
    refused_from_now_on(&gate, created.key.expose()).await;
    refused_from_now_on(&gate, theirs.key.expose()).await;
    writes_fail(&gate, &theirs.record.key_id).await;

    // The new file is the second service's alone, untouched by the first.
    assert!(other_gate.verify(theirs.key.expose()).await.is_ok());
    assert!(other_gate.verify(created.key.expose()).await.is_err());
    assert_eq!(
        other_gate
            .list_keys(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
    other.close().await;
    assert_logged_once(&logs, &db);
}

#[tokio::test]
async fn sqlite_file_renamed_away_and_back_is_served_again() {
    let db = TempDb::new("renamed");
    let (gate, created) = gate_on_file(&db).await;
    let away = TempDb::new("renamed-away");
    let moves: Vec<_> = db.files().into_iter().zip(away.files()).collect();
    for (here, there) in &moves {
        if here.exists() {
            std::fs::rename(here, there).unwrap();
        }
    }
    refused_from_now_on(&gate, created.key.expose()).await;
    for (here, there) in &moves {
        if there.exists() {
            std::fs::rename(there, here).unwrap();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while gate.verify(created.key.expose()).await.is_err() {
        assert!(Instant::now() < deadline, "the same file came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
