//! When the PostgreSQL change listener loses its connection, changes made meanwhile were never
//! announced: the cache drops everything it holds, says so at WARN, and listens again. Whether
//! the connection ends with an error, or falls silent without one.
//!
//! A binary of its own: it ends every keygate listener connection on the server, which would
//! disturb other tests' caches running beside it; its own tests take turns for the same reason.

mod sql_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keygate::{CachedStore, KeyGate, NewKey, SqlStore};
use sql_support::{CapturedLogs, PgSchema};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// One test at a time: each makes every listener on the server lose its connection.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// A key created by `writer` is admitted by `reader`, and refused soon after `writer` revokes it,
/// although `reader`'s cache would keep the record for an hour: the revocation was heard.
async fn hears_a_new_key_and_its_revocation(writer: &KeyGate, reader: &KeyGate) {
    let key = writer.create_key(NewKey::new("after")).await.unwrap();
    let started = Instant::now();
    while code(reader, key.key.expose()).await != "ok" {
        assert!(started.elapsed() < LIMIT, "the new key was never admitted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writer.revoke_key(&key.record.key_id).await.unwrap();
    let started = Instant::now();
    while code(reader, key.key.expose()).await != "revoked_api_key" {
        assert!(started.elapsed() < LIMIT, "no announcement after the loss");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn a_lost_listener_drops_the_cache_and_listens_again() {
    let _turn = TURN.lock().await;
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
    hears_a_new_key_and_its_revocation(&writer, &reader).await;
}

/// A TCP proxy to the PostgreSQL server that can freeze every connection open at that moment:
/// bytes stop flowing both ways and nothing is closed, as when a NAT or a firewall forgets a
/// connection. Connections made after are served as usual.
struct Proxy {
    port: u16,
    accepted: Arc<AtomicU64>,
    frozen_below: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU64::new(0));
        let frozen_below = Arc::new(AtomicU64::new(0));
        let (count, frozen) = (accepted.clone(), frozen_below.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let ((client_in, client_out), (server_in, server_out)) =
                    (client.into_split(), server.into_split());
                tokio::spawn(pipe(client_in, server_out, id, frozen.clone()));
                tokio::spawn(pipe(server_in, client_out, id, frozen.clone()));
            }
        });
        Proxy {
            port,
            accepted,
            frozen_below,
        }
    }

    fn freeze_open_connections(&self) {
        let open = self.accepted.load(Ordering::SeqCst);
        self.frozen_below.store(open, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, swallowing everything once connection `id` is frozen.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, id: u64, frozen: Arc<AtomicU64>) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if id < frozen.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// `url` with its host and port replaced by `127.0.0.1:port`, and the host and port it named.
fn through(url: &str, port: u16) -> (String, String) {
    let after_scheme = url.find("://").expect("a URL") + 3;
    let end = url[after_scheme..]
        .find(['/', '?'])
        .map_or(url.len(), |at| after_scheme + at);
    let start = url[after_scheme..end]
        .rfind('@')
        .map_or(after_scheme, |at| after_scheme + at + 1);
    let mut upstream = url[start..end].to_owned();
    if !upstream.contains(':') {
        upstream.push_str(":5432");
    }
    let proxied = format!("{}127.0.0.1:{port}{}", &url[..start], &url[end..]);
    (proxied, upstream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn a_listener_whose_connection_falls_silent_is_noticed_by_the_heartbeat() {
    let _turn = TURN.lock().await;
    let logs = CapturedLogs::start();
    let pg = PgSchema::create("a_listener_whose_connection_falls_silent").await;
    let writer = KeyGate::builder()
        .prefix("loss")
        .store(pg.store().await)
        .build();
    // Made before the reader listens, so no announcement of its creation reaches the reader
    // after the reader cached it: the only way for the reader to drop it is to notice it lost
    // its listener.
    let created = writer.create_key(NewKey::new("ci")).await.unwrap();
    let key = created.key.expose().to_owned();
    let (_, upstream) = through(&pg.url, 0);
    let proxy = Proxy::start(upstream).await;
    let (proxied, _) = through(&pg.url, proxy.port);
    let heartbeat = Duration::from_millis(200);
    let store = SqlStore::builder(proxied)
        .schema(&pg.schema)
        .listener_heartbeat(heartbeat)
        .acquire_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    let cached = Arc::new(CachedStore::builder(store).ttl(HOUR).build());
    wait_for("listening", || cached.knows_every_key_id()).await;
    let reader = KeyGate::builder()
        .prefix("loss")
        .store(cached.clone())
        .build();
    assert_eq!(code(&reader, &key).await, "ok", "admitted, and cached");

    // The reader's connections fall silent, its listener's among them; the key is revoked.
    proxy.freeze_open_connections();
    writer.revoke_key(&created.record.key_id).await.unwrap();

    // Three and a half heartbeats of silence later the listener gives its connection up and the cache
    // drops the key: refused from then on (unavailable while the pool's silent connections are
    // tried and given up, then revoked), although the cache would have kept it for an hour.
    let started = Instant::now();
    while code(&reader, &key).await == "ok" {
        assert!(
            started.elapsed() < LIMIT,
            "a revoked key admitted {LIMIT:?} later: the silent listener went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let noticed = started.elapsed();
    while code(&reader, &key).await != "revoked_api_key" {
        assert!(started.elapsed() < LIMIT, "never refused as revoked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(code(&reader, &key).await, "ok");
    eprintln!("the silent listener was given up {noticed:?} after the revocation");
    wait_for("a WARN about the silent listener", || {
        logs.lines_with("heard nothing, not even a heartbeat")
            .iter()
            .any(|line| line.contains("WARN"))
    })
    .await;
    // And it listens again, on a connection of its own (the silent one is never handed back),
    // so the cache keeps what it reads again...
    wait_for("following changes again", || cached.follows_changes()).await;
    // ...and a revocation after the loss is heard although the cache would keep the record for
    // an hour.
    hears_a_new_key_and_its_revocation(&writer, &reader).await;
}
