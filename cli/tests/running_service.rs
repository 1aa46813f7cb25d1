//! Changes made with the command line reach a service running on the same SQLite file at once,
//! through the change log the service polls, not when its cache entries expire.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate::{CachedStore, KeyGate, SqlStore};
use support::{Db, create, keygate, stderr};

/// Far longer than any test runs: whatever takes effect did so through the change log.
const HOUR: Duration = Duration::from_secs(3600);

/// A service's gate on `db`: the cache keeps records (and unknown ids) for an hour. Returned
/// once the cache knows every key id, so unknown ids are refused without a query.
async fn service(db: &Db) -> (KeyGate, Arc<CachedStore<SqlStore>>) {
    let store = SqlStore::connect(&db.url()).await.expect("connect");
    let cached = Arc::new(
        CachedStore::builder(store)
            .ttl(HOUR)
            .negative_ttl(HOUR)
            .build(),
    );
    let started = Instant::now();
    while !cached.knows_every_key_id() {
        assert!(started.elapsed() < Duration::from_secs(5), "never listened");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(cached.clone())
        .build();
    (gate, cached)
}

async fn code(gate: &KeyGate, key: &str) -> &'static str {
    match gate.verify(key).await {
        Ok(_) => "ok",
        Err(rejection) => rejection.kind().code(),
    }
}

/// Asks until the gate answers `want`, for at most `limit`; the time it took.
async fn until(gate: &KeyGate, key: &str, want: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let got = code(gate, key).await;
        if got == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "still `{got}` after {limit:?}, wanted `{want}`"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_with_the_command_line_is_refused_by_a_running_service() {
    let db = Db::initialised("running-revoke");
    let (key, id) = create(&db, &["keys", "create", "--prefix", "demo", "--name", "ci"]);
    let (gate, _) = service(&db).await;
    assert_eq!(code(&gate, &key).await, "ok", "admitted, and now cached");

    let revoke = keygate(&db, &["keys", "revoke", &id], None);
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    // The bound is generous for a loaded machine; the poll runs every 100 ms.
    let took = until(&gate, &key, "revoked_api_key", Duration::from_secs(5)).await;
    eprintln!("refused {took:?} after the command line returned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_with_the_command_line_is_admitted_by_a_running_service() {
    let db = Db::initialised("running-create");
    let (_, _) = create(
        &db,
        &["keys", "create", "--prefix", "demo", "--name", "first"],
    );
    let (gate, cached) = service(&db).await;
    assert!(cached.knows_every_key_id());
    // Another key, unknown until the command line makes it: the service must not go on
    // refusing it for the negative cache's hour, nor for its set of known ids.
    let (key, _) = create(
        &db,
        &["keys", "create", "--prefix", "demo", "--name", "second"],
    );
    until(&gate, &key, "ok", Duration::from_secs(5)).await;
}
