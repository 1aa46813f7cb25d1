//! Changes reach every instance: a service whose cache keeps records for an hour still refuses a
//! key revoked through another store on the same database (another instance, the command line)
//! at once, on SQLite (the change log, polled) and PostgreSQL (NOTIFY). Only committed changes
//! are announced, and unknown key ids never reach the database once the cache knows every id.

mod sql_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate::scope::Requirement;
use keygate::store::KeyStore;
use keygate::{CachedStore, KeyGate, NewKey, SqlStore};
use sql_support::{PgSchema, Probe, TempDb, unknown_key};
use sqlx::Connection;
use time::OffsetDateTime;

const PREFIX: &str = "chg";
/// Far longer than any test runs: whatever takes effect did so through an announcement.
const HOUR: Duration = Duration::from_secs(3600);
/// Generous for a loaded machine; announcements take milliseconds.
const LIMIT: Duration = Duration::from_secs(5);

/// Two instances of one service on one database: `writer` makes changes through a store of its
/// own, `reader` serves requests through a cache that keeps everything for an hour.
struct Instances {
    writer: KeyGate,
    reader: KeyGate,
    cached: Arc<CachedStore<Probe<SqlStore>>>,
    probe: Probe<SqlStore>,
}

impl Instances {
    async fn new(connect: impl AsyncFn() -> SqlStore) -> Instances {
        let writer = KeyGate::builder()
            .prefix(PREFIX)
            .store(connect().await)
            .build();
        let probe = Probe::new(connect().await);
        let cached = Arc::new(
            CachedStore::builder(probe.clone())
                .ttl(HOUR)
                .negative_ttl(HOUR)
                .build(),
        );
        let started = Instant::now();
        while !cached.knows_every_key_id() {
            assert!(
                started.elapsed() < LIMIT,
                "the reader's cache never listened"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let reader = KeyGate::builder()
            .prefix(PREFIX)
            .store(cached.clone())
            .build();
        Instances {
            writer,
            reader,
            cached,
            probe,
        }
    }

    async fn sqlite(db: &TempDb) -> Instances {
        let url = db.url();
        Instances::new(async || SqlStore::connect(&url).await.unwrap()).await
    }

    async fn postgres(pg: &PgSchema) -> Instances {
        Instances::new(async || pg.store().await).await
    }
}

async fn code(gate: &KeyGate, key: &str, requirement: Requirement<'_>) -> &'static str {
    match gate.verify_for(key, requirement).await {
        Ok(_) => "ok",
        Err(rejection) => rejection.kind().code(),
    }
}

/// Asks until `gate` answers `want`, for at most [`LIMIT`]; how long it took.
async fn until(gate: &KeyGate, key: &str, requirement: Requirement<'_>, want: &str) -> Duration {
    let started = Instant::now();
    loop {
        let got = code(gate, key, requirement).await;
        if got == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < LIMIT,
            "still `{got}` after {LIMIT:?}, wanted `{want}`"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Revoke, re-scope, create, rotate and delete with plain SQL, each made by the writer and seen
/// by the reader although its cache would keep the old answer for an hour.
async fn every_change_reaches_the_other_instance(both: Instances, delete: impl AsyncFnOnce(&str)) {
    let none = Requirement::NONE;
    let read = Requirement::all(&["items:read"]);
    let created = both
        .writer
        .create_key(NewKey::new("ci").scopes(["items:read"]))
        .await
        .unwrap();
    let key = created.key.expose().to_owned();
    let id = created.record.key_id.clone();
    // Created elsewhere: known to the reader once announced.
    until(&both.reader, &key, read, "ok").await;

    // Scopes taken away elsewhere: the cached record would still hold them.
    both.writer
        .set_key_scopes(&id, ["items:write"])
        .await
        .unwrap();
    until(&both.reader, &key, read, "insufficient_scope").await;

    // Rotated elsewhere: the successor is admitted, and the old key keeps its grace.
    let next = both
        .writer
        .rotate_key(&id, Duration::from_secs(600))
        .await
        .unwrap();
    until(&both.reader, next.key.expose(), none, "ok").await;
    assert_eq!(
        code(&both.reader, &key, none).await,
        "ok",
        "within its grace"
    );

    // Revoked elsewhere.
    both.writer.revoke_key(&id).await.unwrap();
    let took = until(&both.reader, &key, none, "revoked_api_key").await;
    eprintln!("revocation seen {took:?} after it returned");

    // Deleted with plain SQL by an operator: the trigger announces it too.
    let next_id = next.record.key_id.clone();
    assert_eq!(code(&both.reader, next.key.expose(), none).await, "ok");
    delete(&next_id).await;
    until(&both.reader, next.key.expose(), none, "invalid_api_key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_change_reaches_the_other_instance() {
    let db = TempDb::new("changes");
    let both = Instances::sqlite(&db).await;
    let url = db.url();
    every_change_reaches_the_other_instance(both, async |id| {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM keygate_keys WHERE key_id = $1")
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_every_change_reaches_the_other_instance() {
    let pg = PgSchema::create("postgres_every_change_reaches_the_other_instance").await;
    let both = Instances::postgres(&pg).await;
    every_change_reaches_the_other_instance(both, async |id| {
        let mut conn = pg.connection().await;
        sqlx::query("DELETE FROM keygate_keys WHERE key_id = $1")
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
    })
    .await;
}

/// Made-up well-formed ids: with the known-id set, at most 20 a second reach the store (the
/// allowance for keys created elsewhere a moment ago), and none with no allowance; without the
/// set, each costs a query. The counts are printed for the record.
async fn unknown_ids_never_reach_the_store(both: Instances, connect: impl AsyncFn() -> SqlStore) {
    // A key created elsewhere is found on its first use, before its announcement could arrive
    // (outside a flood, the allowance is there for it).
    let created = both.writer.create_key(NewKey::new("real")).await.unwrap();
    assert_eq!(
        code(&both.reader, created.key.expose(), Requirement::NONE).await,
        "ok"
    );

    let mut flood = Vec::new();
    for _ in 0..2000 {
        flood.push(unknown_key(PREFIX).await);
    }
    // A fresh second, so the allowance is whole.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = both.probe.fetches();
    let started = Instant::now();
    for key in &flood {
        assert_eq!(
            code(&both.reader, key, Requirement::NONE).await,
            "invalid_api_key"
        );
    }
    let seconds = started.elapsed().as_secs() + 1;
    let with_set = both.probe.fetches() - before;
    assert!(both.cached.knows_every_key_id());
    assert!(
        with_set as u64 <= 20 * seconds,
        "{with_set} queries in under {seconds} s: more than 20 a second"
    );

    // With no allowance, none at all.
    let strict_probe = Probe::new(connect().await);
    let strict = Arc::new(
        CachedStore::builder(strict_probe.clone())
            .unknown_id_lookups_per_second(0)
            .build(),
    );
    let started = Instant::now();
    while !strict.knows_every_key_id() {
        assert!(started.elapsed() < LIMIT, "never listened");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let strict_gate = KeyGate::builder().prefix(PREFIX).store(strict).build();
    let before = strict_probe.fetches();
    for key in &flood {
        assert_eq!(
            code(&strict_gate, key, Requirement::NONE).await,
            "invalid_api_key"
        );
    }
    assert_eq!(
        strict_probe.fetches() - before,
        0,
        "no unknown id reached the store"
    );

    // The same flood at a cache without the set: one query per id.
    let probe = Probe::new(connect().await);
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(CachedStore::builder(probe.clone()).known_ids(false).build())
        .build();
    for key in &flood {
        assert_eq!(code(&gate, key, Requirement::NONE).await, "invalid_api_key");
    }
    let without_set = probe.fetches();
    assert_eq!(without_set, flood.len());
    eprintln!(
        "{} unknown ids: {with_set} store queries with the known-id set (20/s allowance), 0 \
         with no allowance, {without_set} without the set",
        flood.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_unknown_ids_never_reach_the_store() {
    let db = TempDb::new("flood");
    let both = Instances::sqlite(&db).await;
    let url = db.url();
    unknown_ids_never_reach_the_store(both, async || SqlStore::connect(&url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_unknown_ids_never_reach_the_store() {
    let pg = PgSchema::create("postgres_unknown_ids_never_reach_the_store").await;
    let both = Instances::postgres(&pg).await;
    unknown_ids_never_reach_the_store(both, async || pg.store().await).await;
}

/// The key ids announced on the schema's channel, in order, as a listener sees them.
async fn announced_after(pg: &PgSchema, change: impl AsyncFnOnce(), expect: usize) -> Vec<String> {
    let mut listener = sqlx::postgres::PgListener::connect(&pg.url).await.unwrap();
    listener.listen("keygate_changes").await.unwrap();
    change().await;
    let mut ids = Vec::new();
    while ids.len() < expect {
        let notification = tokio::time::timeout(LIMIT, listener.recv())
            .await
            .expect("an announcement")
            .unwrap();
        if let Some(id) = notification
            .payload()
            .strip_prefix(&format!("{} ", pg.schema))
        {
            ids.push(id.to_owned());
        }
    }
    ids
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_only_committed_changes_are_announced() {
    let pg = PgSchema::create("postgres_only_committed_changes_are_announced").await;
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(pg.store().await)
        .build();
    let quiet = gate.create_key(NewKey::new("quiet")).await.unwrap().record;
    let marker = gate.create_key(NewKey::new("marker")).await.unwrap().record;
    let store = pg.store().await;
    let ids = announced_after(
        &pg,
        async || {
            // Rolled back: nothing to announce.
            let mut conn = pg.connection().await;
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("UPDATE keygate_keys SET revoked_at = 1 WHERE key_id = $1")
                .bind(&quiet.key_id)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.rollback().await.unwrap();
            // Only when it was last used: nobody's cache needs that.
            store
                .record_last_used(&[(quiet.key_id.clone(), OffsetDateTime::now_utc())])
                .await
                .unwrap();
            // Committed: announced.
            gate.revoke_key(&marker.key_id).await.unwrap();
        },
        1,
    )
    .await;
    assert_eq!(ids, std::slice::from_ref(&marker.key_id));
}

#[tokio::test]
async fn sqlite_only_committed_changes_are_logged() {
    let db = TempDb::new("logged");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(store.clone())
        .build();
    let quiet = gate.create_key(NewKey::new("quiet")).await.unwrap().record;
    let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
    let log = async |conn: &mut sqlx::SqliteConnection| -> Vec<String> {
        sqlx::query_scalar("SELECT key_id FROM keygate_changes ORDER BY seq")
            .fetch_all(conn)
            .await
            .unwrap()
    };
    assert_eq!(
        log(&mut conn).await,
        std::slice::from_ref(&quiet.key_id),
        "the creation"
    );
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("UPDATE keygate_keys SET revoked_at = 1 WHERE key_id = $1")
        .bind(&quiet.key_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    store
        .record_last_used(&[(quiet.key_id.clone(), OffsetDateTime::now_utc())])
        .await
        .unwrap();
    assert_eq!(
        log(&mut conn).await,
        std::slice::from_ref(&quiet.key_id),
        "nothing more"
    );
    gate.revoke_key(&quiet.key_id).await.unwrap();
    assert_eq!(
        log(&mut conn).await,
        [quiet.key_id.clone(), quiet.key_id.clone()],
        "the revocation"
    );
}
