//! Shared helpers for the SQL store tests: temporary SQLite files, a private PostgreSQL schema per
//! run, and a store wrapper that counts lookups and can be made to fail.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use keygate::record::KeyFilter;
use keygate::store::{ChangeFeed, ChangeOutcome, KeyChange, KeyStore, StoreError};
use keygate::usage::UsageHour;
use keygate::{KeyRecord, SqlStore};
use sqlx::Connection;
use time::OffsetDateTime;

/// A SQLite file in the temp folder, removed (with its WAL files) on drop.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "keygate-test-{tag}-{}-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        TempDb { path }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// The database file and its `-wal` / `-shm` companions.
    pub fn files(&self) -> Vec<PathBuf> {
        ["", "-wal", "-shm", "-journal"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", self.path.display())))
            .collect()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for file in self.files() {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// A private schema on the PostgreSQL server named by `KEYGATE_TEST_POSTGRES_URL`, dropped on
/// drop, so test runs never collide.
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

const PG_VAR: &str = "KEYGATE_TEST_POSTGRES_URL";

/// The URL in `variable`. A test that needs a server is marked ignored when the variable was not
/// set at build time (see `build.rs`), so it only gets here without one when run by hand with
/// `--ignored` or with `KEYGATE_TEST_REQUIRE_SERVICES=1`: either way it fails, saying why.
pub fn server_url(test: &str, variable: &str, example: &str) -> String {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("{test} needs a server: set {variable}={example}"),
    }
}

impl PgSchema {
    /// A new schema on the test server. Panics when `KEYGATE_TEST_POSTGRES_URL` is unset.
    pub async fn create(test: &str) -> PgSchema {
        let url = server_url(test, PG_VAR, "postgres://postgres@127.0.0.1:5432/test");
        let schema = format!(
            "kg_test_{}_{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000_000
        );
        let mut conn = match sqlx::PgConnection::connect(&url).await {
            Ok(conn) => conn,
            Err(error) => panic!("{test}: cannot reach PostgreSQL at {PG_VAR}: {error}"),
        };
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .expect("create the test schema");
        let _ = conn.close().await;
        PgSchema { url, schema }
    }

    pub async fn store(&self) -> SqlStore {
        SqlStore::builder(&self.url)
            .schema(&self.schema)
            .connect()
            .await
            .expect("connect to the test schema")
    }

    /// A plain connection whose `search_path` is the test schema.
    pub async fn connection(&self) -> sqlx::PgConnection {
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect");
        sqlx::query(&format!("SET search_path TO {}", self.schema))
            .execute(&mut conn)
            .await
            .expect("set search_path");
        conn
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let schema = self.schema.clone();
        // Drop may run inside a runtime, so the cleanup gets a thread and a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A store wrapper that counts `fetch` calls and fails on demand. Cloning shares the store.
///
/// A lookup reads the record, counts the read in `reads`, then waits for `stall` before
/// answering: lock `stall` to hold lookups between reading and answering.
pub struct Probe<S> {
    pub inner: Arc<S>,
    pub fetches: Arc<AtomicUsize>,
    pub failing: Arc<AtomicBool>,
    pub reads: Arc<AtomicUsize>,
    pub stall: Arc<tokio::sync::Mutex<()>>,
}

impl<S> Clone for Probe<S> {
    fn clone(&self) -> Self {
        Probe {
            inner: self.inner.clone(),
            fetches: self.fetches.clone(),
            failing: self.failing.clone(),
            reads: self.reads.clone(),
            stall: self.stall.clone(),
        }
    }
}

impl<S: KeyStore> Probe<S> {
    pub fn new(inner: S) -> Self {
        Probe {
            inner: Arc::new(inner),
            fetches: Arc::default(),
            failing: Arc::default(),
            reads: Arc::default(),
            stall: Arc::default(),
        }
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("the test made the store fail"))
        } else {
            Ok(())
        }
    }
}

impl<S: KeyStore> KeyStore for Probe<S> {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        let found = self.inner.fetch(key_id).await;
        self.reads.fetch_add(1, Ordering::SeqCst);
        drop(self.stall.lock().await);
        found
    }
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.check()?;
        self.inner.insert(record).await
    }
    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        self.check()?;
        self.inner.list(filter).await
    }
    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        self.check()?;
        self.inner.update(key_id, change).await
    }
    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.record_last_used(uses).await
    }
    async fn record_usage(&self, counts: &[(String, UsageHour)]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.record_usage(counts).await
    }
    async fn usage(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<UsageHour>, StoreError> {
        self.check()?;
        self.inner.usage(key_id, since).await
    }
    async fn prune_usage(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.prune_usage(before).await
    }
    fn changes(&self) -> Option<ChangeFeed> {
        self.inner.changes()
    }
    async fn key_ids(&self) -> Result<Vec<String>, StoreError> {
        self.check()?;
        self.inner.key_ids().await
    }
}

/// A well-formed key (right prefix, right checksum) whose id no store knows.
pub async fn unknown_key(prefix: &str) -> String {
    let elsewhere = keygate::KeyGate::builder().prefix(prefix).build();
    elsewhere.mint_test_key(["items:read"]).await
}

/// The secret part of a key (everything after `<prefix>_<key id>_`), checksum included.
pub fn secret_of(key: &str, prefix: &str, key_id: &str) -> String {
    key.strip_prefix(&format!("{prefix}_{key_id}_"))
        .expect("key text starts with prefix and id")
        .to_owned()
}

/// Every event logged by the test binary, formatted, from the first [`CapturedLogs::start`] on.
/// One subscriber for the whole binary (a per-thread one can miss events while other tests
/// register and drop theirs); tests pick their own lines out by something unique to them.
pub struct CapturedLogs;

struct CaptureWriter;

fn captured() -> &'static std::sync::Mutex<Vec<u8>> {
    static TEXT: std::sync::OnceLock<std::sync::Mutex<Vec<u8>>> = std::sync::OnceLock::new();
    TEXT.get_or_init(Default::default)
}

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    pub fn start() -> Self {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(|| CaptureWriter)
                .init();
        });
        CapturedLogs
    }

    /// The lines logged so far that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&captured().lock().unwrap())
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// A connection of another program holding the SQLite write lock (a stuck transaction) until it
/// is rolled back or dropped.
pub async fn hold_write_lock(url: &str) -> sqlx::SqliteConnection {
    let mut locker = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    sqlx::query("UPDATE keygate_meta SET value = value")
        .execute(&mut locker)
        .await
        .unwrap();
    locker
}
