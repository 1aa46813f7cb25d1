//! [`SqlStore`]: key records in SQLite or PostgreSQL, through sqlx.
//!
//! Both backends share one schema (`migrations/`), one set of statements and one behaviour. Times
//! are stored as BIGINT unix milliseconds, so both databases compare and sort them the same way
//! and no date-time driver feature is needed; scopes and metadata are JSON text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use time::OffsetDateTime;

use crate::hash::{HashVersion, KeyHash};
use crate::record::{KeyFilter, KeyRecord};
use crate::store::{BoxError, BoxFuture, KeyStore, StoreError};

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

/// The migrations, embedded in the binary: a deployed service needs no migration files.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "keygate keys",
    include_str!("../migrations/0001_keygate_keys.sql"),
)];

const COLUMNS: &str = "key_id, hash_version, hash, name, owner, scopes, metadata, created_at, \
                       expires_at, revoked_at, last_used_at, rotated_from, rotated_to";

/// One row of `keygate_keys`, in [`COLUMNS`] order.
type Row = (
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// Key records in a SQL database: SQLite (feature `sqlite`; one file, created and migrated on
/// first use) or PostgreSQL (feature `postgres`; several service instances share it).
///
/// Cloning is cheap and shares the connection pool. Every change is one statement or one
/// transaction, so concurrent changes from several processes cannot undo each other. Put a
/// [`CachedStore`](crate::CachedStore) in front of it so most requests never reach the database.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use keygate::{KeyGate, NewKey, SqlStore};
///
/// let store = SqlStore::connect("sqlite::memory:").await.unwrap();
/// let gate = KeyGate::builder().prefix("acme_live").store(store).build();
/// let created = gate.create_key(NewKey::new("ci").scopes(["items:read"])).await.unwrap();
/// assert!(gate.verify(created.key.expose()).await.is_ok());
/// # }
/// # #[cfg(not(feature = "sqlite"))] fn main() {}
/// ```
#[derive(Clone)]
pub struct SqlStore {
    pool: Pool,
}

#[derive(Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password, so it is not shown.
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$pool` bound to whichever pool the store has. The body is type-checked once
/// per backend, so one statement text serves both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($pool) => $body,
        }
    };
}

/// [`SqlStore`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not one this build of keygate can use.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database exists but is not a keygate database. Nothing was written to it.
    #[error("{0}")]
    NotKeygate(String),
    /// The database could not be reached or opened.
    #[error("cannot open the key database: {0}")]
    Unreachable(#[source] BoxError),
    /// The schema could not be brought up to date.
    #[error("cannot migrate the key database: {0}")]
    Migrate(#[source] BoxError),
}

/// Connection settings for [`SqlStore`]. Start with [`SqlStore::builder`].
///
/// The defaults make requests fail fast when the database is locked or down (answered with
/// `503 key_store_unavailable`) and recover by themselves once it is back.
#[derive(Clone)]
pub struct SqlStoreBuilder {
    url: String,
    max_connections: u32,
    acquire_timeout: Duration,
    lock_timeout: Duration,
    schema: Option<String>,
}

impl fmt::Debug for SqlStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStoreBuilder")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl SqlStoreBuilder {
    /// The most connections the pool opens. Default 8.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a request waits for a free connection (or a new one) before it is answered with
    /// 503. Default 3 seconds.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long a statement waits for a lock held by someone else: SQLite's `busy_timeout`,
    /// PostgreSQL's `lock_timeout` (its `statement_timeout` is four times this). Default 250 ms.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// PostgreSQL only: keeps keygate's tables (and its migration history) in this schema,
    /// created if missing. Recommended when the database is shared with an application that
    /// runs sqlx migrations of its own. Letters, digits and `_`, starting with a letter or `_`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Connects, checks that the database is keygate's (or empty), and migrates it.
    pub async fn connect(self) -> Result<SqlStore, ConnectError> {
        match self.url.split(':').next().unwrap_or_default() {
            "sqlite" => {
                #[cfg(feature = "sqlite")]
                return self.connect_sqlite().await;
                #[cfg(not(feature = "sqlite"))]
                return Err(ConnectError::InvalidUrl(
                    "this build of keygate lacks the `sqlite` feature".into(),
                ));
            }
            "postgres" | "postgresql" => {
                #[cfg(feature = "postgres")]
                return self.connect_postgres().await;
                #[cfg(not(feature = "postgres"))]
                return Err(ConnectError::InvalidUrl(
                    "this build of keygate lacks the `postgres` feature".into(),
                ));
            }
            _ => Err(ConnectError::InvalidUrl(
                "expected a URL starting with sqlite:// or postgres://".into(),
            )),
        }
    }

    #[cfg(feature = "sqlite")]
    async fn connect_sqlite(self) -> Result<SqlStore, ConnectError> {
        use std::str::FromStr;

        let options = SqliteConnectOptions::from_str(&self.url)
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        let in_memory = self.url.contains(":memory:") || self.url.contains("mode=memory");
        let path = options.get_filename().to_owned();
        if !in_memory && path.exists() {
            check_sqlite_file(&path, &options).await?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(self.lock_timeout);
        let mut pool = SqlitePoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout);
        if in_memory {
            // An in-memory database lives only as long as a connection to it.
            pool = pool
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|e| ConnectError::Unreachable(e.into()))?;
        let store = SqlStore {
            pool: Pool::Sqlite(pool),
        };
        store.migrate().await?;
        Ok(store)
    }

    #[cfg(feature = "postgres")]
    async fn connect_postgres(self) -> Result<SqlStore, ConnectError> {
        use sqlx::Connection;
        use std::str::FromStr;

        let mut options = PgConnectOptions::from_str(&self.url)
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        let lock_ms = self.lock_timeout.as_millis().max(1).to_string();
        let statement_ms = (self.lock_timeout.as_millis().max(1) * 4).to_string();
        options = options.options([
            ("lock_timeout", lock_ms.as_str()),
            ("statement_timeout", statement_ms.as_str()),
        ]);
        if let Some(schema) = &self.schema {
            let valid = schema
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(ConnectError::InvalidUrl(format!(
                    "`{schema}` is not a schema name keygate accepts (letters, digits and `_`)"
                )));
            }
            options = options.options([("search_path", schema.as_str())]);
        }
        // One direct connection first: a pool that cannot connect only says it timed out,
        // while this says why (refused, unknown host, authentication).
        let probe =
            tokio::time::timeout(self.acquire_timeout, PgConnection::connect_with(&options))
                .await
                .map_err(|_| {
                    ConnectError::Unreachable("timed out connecting to PostgreSQL".into())
                })?
                .map_err(|e| ConnectError::Unreachable(e.into()))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| ConnectError::Unreachable(e.into()))?;
        if let Some(schema) = &self.schema {
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&pool)
                .await
                .map_err(|e| ConnectError::Unreachable(e.into()))?;
        }
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::TEXT FROM information_schema.tables \
             WHERE table_schema = current_schema()",
        )
        .fetch_all(&pool)
        .await
        .map_err(|e| ConnectError::Unreachable(e.into()))?;
        let tables: Vec<String> = tables.into_iter().map(|(t,)| t).collect();
        if has(&tables, "_sqlx_migrations") && !has(&tables, "keygate_keys") {
            return Err(ConnectError::NotKeygate(
                "this schema holds another application's sqlx migrations; give keygate its own \
                 schema (SqlStore::builder(url).schema(\"keygate\"))"
                    .into(),
            ));
        }
        let store = SqlStore {
            pool: Pool::Postgres(pool),
        };
        store.migrate().await?;
        Ok(store)
    }
}

fn has(tables: &[String], name: &str) -> bool {
    tables.iter().any(|t| t == name)
}

/// Refuses, without writing a byte, an existing file that is not a keygate SQLite database.
#[cfg(feature = "sqlite")]
async fn check_sqlite_file(
    path: &std::path::Path,
    options: &SqliteConnectOptions,
) -> Result<(), ConnectError> {
    use sqlx::Connection;
    use std::io::Read;

    let shown = path.display();
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut file| {
            let mut n = 0;
            while n < header.len() {
                match file.read(&mut header[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        })
        .map_err(|e| ConnectError::Unreachable(e.into()))?;
    if read == 0 {
        // An empty file is an empty SQLite database.
        return Ok(());
    }
    if read < header.len() || &header != b"SQLite format 3\0" {
        return Err(ConnectError::NotKeygate(format!(
            "`{shown}` is not a SQLite database; refusing to touch it"
        )));
    }
    // Read-only, and without the journal-mode change the pool makes, so the file stays as it is.
    let mut conn = SqliteConnection::connect_with(&options.clone().read_only(true))
        .await
        .map_err(|e| ConnectError::Unreachable(e.into()))?;
    let tables: Result<Vec<(String,)>, _> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await;
    let _ = conn.close().await;
    let tables: Vec<String> = tables
        .map_err(|e| ConnectError::Unreachable(e.into()))?
        .into_iter()
        .map(|(t,)| t)
        .collect();
    if tables.is_empty() || (has(&tables, "keygate_keys") && has(&tables, "_sqlx_migrations")) {
        return Ok(());
    }
    Err(ConnectError::NotKeygate(format!(
        "`{shown}` is a SQLite database but not a keygate one (it has tables such as `{}` and no \
         keygate migration history); refusing to touch it",
        tables.first().map_or("", String::as_str)
    )))
}

/// The embedded migrations as a sqlx migration source.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

impl SqlStore {
    /// Connects to `url` with the default settings, checks that the database is keygate's (or
    /// empty), and migrates it. `sqlite://path/keys.db` creates the file if it is missing;
    /// `sqlite::memory:` is a private in-memory database; `postgres://user@host/db` uses the
    /// server's database.
    ///
    /// An existing file that is not a keygate database (not SQLite at all, or another
    /// application's SQLite database) is refused with [`ConnectError::NotKeygate`] and left
    /// byte-for-byte untouched.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = keygate::SqlStore::connect("sqlite::memory:").await.unwrap();
    /// assert_eq!(store.backend(), "sqlite");
    /// # }
    /// # #[cfg(not(feature = "sqlite"))] fn main() {}
    /// ```
    pub async fn connect(url: &str) -> Result<SqlStore, ConnectError> {
        SqlStore::builder(url).connect().await
    }

    /// Connection settings beyond the defaults.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    ///
    /// let store = keygate::SqlStore::builder("sqlite::memory:")
    ///     .lock_timeout(Duration::from_millis(100))
    ///     .connect()
    ///     .await
    ///     .unwrap();
    /// # let _ = store;
    /// # }
    /// # #[cfg(not(feature = "sqlite"))] fn main() {}
    /// ```
    pub fn builder(url: impl Into<String>) -> SqlStoreBuilder {
        SqlStoreBuilder {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
            lock_timeout: Duration::from_millis(250),
            schema: None,
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => "postgres",
        }
    }

    async fn migrate(&self) -> Result<(), ConnectError> {
        let migrator = Migrator::new(Embedded)
            .await
            .map_err(|e| ConnectError::Migrate(e.into()))?;
        on_pool!(self, |pool| migrator
            .run(pool)
            .await
            .map_err(|e| ConnectError::Migrate(e.into())))
    }

    /// The key prefix recorded in this database, if any. The `keygate` command line reads it so
    /// the keys it mints match the service's.
    pub async fn key_prefix(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT value FROM keygate_meta WHERE name = 'key_prefix'"
        )
        .fetch_optional(pool)
        .await
        .map_err(store_error))?;
        Ok(row.map(|(value,)| value))
    }

    /// Records `prefix` as this database's key prefix unless one is recorded already, and returns
    /// the recorded one. A service calls it at start-up and refuses to run if the answer differs
    /// from its own prefix.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = keygate::SqlStore::connect("sqlite::memory:").await.unwrap();
    /// assert_eq!(store.claim_key_prefix("acme_live").await.unwrap(), "acme_live");
    /// assert_eq!(store.claim_key_prefix("other").await.unwrap(), "acme_live");
    /// # }
    /// # #[cfg(not(feature = "sqlite"))] fn main() {}
    /// ```
    pub async fn claim_key_prefix(&self, prefix: &str) -> Result<String, StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO keygate_meta (name, value) VALUES ('key_prefix', $1) \
             ON CONFLICT (name) DO NOTHING"
        )
        .bind(prefix)
        .execute(pool)
        .await
        .map(drop)
        .map_err(store_error))?;
        self.key_prefix()
            .await?
            .ok_or_else(|| StoreError::Corrupt("the key prefix vanished".into()))
    }

    /// Records the service's declared scopes (replacing any recorded before), so the `keygate`
    /// command line refuses the same undeclared scopes the service does. A service with a
    /// declaration calls it at start-up.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use keygate::DeclaredScope;
    ///
    /// static SCOPES: &[DeclaredScope] = &[DeclaredScope::new("items:read", "Read items")];
    /// let store = keygate::SqlStore::connect("sqlite::memory:").await.unwrap();
    /// assert_eq!(store.declared_scopes().await.unwrap(), None);
    /// store.record_declared_scopes(SCOPES).await.unwrap();
    /// let recorded = store.declared_scopes().await.unwrap().unwrap();
    /// assert_eq!(recorded, [("items:read".to_owned(), "Read items".to_owned())]);
    /// # }
    /// # #[cfg(not(feature = "sqlite"))] fn main() {}
    /// ```
    pub async fn record_declared_scopes(
        &self,
        scopes: &[crate::DeclaredScope],
    ) -> Result<(), StoreError> {
        let pairs: Vec<(&str, &str)> = scopes.iter().map(|s| (s.name, s.description)).collect();
        let value =
            serde_json::to_string(&pairs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO keygate_meta (name, value) VALUES ('declared_scopes', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        )
        .bind(&value)
        .execute(pool)
        .await
        .map(drop)
        .map_err(store_error))
    }

    /// The declared scopes a service recorded with
    /// [`record_declared_scopes`](Self::record_declared_scopes), as (name, description) pairs;
    /// `None` if none were recorded.
    pub async fn declared_scopes(&self) -> Result<Option<Vec<(String, String)>>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT value FROM keygate_meta WHERE name = 'declared_scopes'"
        )
        .fetch_optional(pool)
        .await
        .map_err(store_error))?;
        row.map(|(value,)| {
            serde_json::from_str(&value).map_err(|_| {
                StoreError::Corrupt("the recorded declared scopes are not readable".into())
            })
        })
        .transpose()
    }

    /// Closes every connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("timestamp {ms} is out of range")))
}

fn opt_from_millis(ms: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    ms.map(from_millis).transpose()
}

fn record_from_row(row: Row) -> Result<KeyRecord, StoreError> {
    let (
        key_id,
        version,
        hash,
        name,
        owner,
        scopes,
        metadata,
        created,
        expires,
        revoked,
        used,
        from,
        to,
    ) = row;
    let version = HashVersion::from_i64(version).ok_or_else(|| {
        StoreError::Corrupt(format!("key `{key_id}` has unknown hash version {version}"))
    })?;
    let hash = KeyHash::from_hex(version, &hash)
        .ok_or_else(|| StoreError::Corrupt(format!("key `{key_id}` has a malformed hash")))?;
    let scopes: Vec<String> = serde_json::from_str(&scopes)
        .map_err(|_| StoreError::Corrupt(format!("key `{key_id}` has malformed scopes")))?;
    let metadata: BTreeMap<String, String> = serde_json::from_str(&metadata)
        .map_err(|_| StoreError::Corrupt(format!("key `{key_id}` has malformed metadata")))?;
    Ok(KeyRecord {
        hash,
        name,
        owner,
        scopes,
        metadata,
        created_at: from_millis(created)?,
        expires_at: opt_from_millis(expires)?,
        revoked_at: opt_from_millis(revoked)?,
        last_used_at: opt_from_millis(used)?,
        rotated_from: from,
        rotated_to: to,
        key_id,
    })
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Strings, lists of strings and string maps always serialise.
    serde_json::to_string(value).unwrap_or_default()
}

/// Locked, unreachable, timed out, or anything else the database said: the store cannot answer.
/// Only undecodable data is reported as corrupt.
fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(error.to_string())
        }
        other => StoreError::unavailable(other),
    }
}

fn insert_error(error: sqlx::Error, key_id: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(key_id.to_owned())
        }
        _ => store_error(error),
    }
}

const INSERT: &str = "INSERT INTO keygate_keys (key_id, hash_version, hash, name, owner, scopes, \
                      metadata, created_at, expires_at, revoked_at, last_used_at, rotated_from, \
                      rotated_to) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Binds a record's columns to [`INSERT`].
macro_rules! bind_record {
    ($query:expr, $r:expr) => {
        $query
            .bind($r.key_id.as_str())
            .bind($r.hash.version.as_i64())
            .bind($r.hash.digest_hex())
            .bind($r.name.as_str())
            .bind($r.owner.as_str())
            .bind(json(&$r.scopes))
            .bind(json(&$r.metadata))
            .bind(millis($r.created_at))
            .bind($r.expires_at.map(millis))
            .bind($r.revoked_at.map(millis))
            .bind($r.last_used_at.map(millis))
            .bind($r.rotated_from.as_deref())
            .bind($r.rotated_to.as_deref())
    };
}

impl KeyStore for SqlStore {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM keygate_keys WHERE key_id = $1");
        let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(key_id)
            .fetch_optional(pool)
            .await
            .map_err(store_error))?;
        row.map(|row| record_from_row(row).map(Arc::new))
            .transpose()
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        on_pool!(self, |pool| bind_record!(sqlx::query(INSERT), record)
            .execute(pool)
            .await
            .map(drop)
            .map_err(|e| insert_error(e, &record.key_id)))?;
        Ok(())
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM keygate_keys \
             WHERE CAST($1 AS TEXT) IS NULL OR owner = $1 ORDER BY created_at, key_id"
        );
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(filter.owner.as_deref())
            .fetch_all(pool)
            .await
            .map_err(store_error))?;
        // The state is judged here, by the same rule as everywhere else in keygate.
        let now = OffsetDateTime::now_utc();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let record = record_from_row(row)?;
            if filter.matches(&record, now) {
                out.push(record);
            }
        }
        Ok(out)
    }

    async fn revoke(&self, key_id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query(
            "UPDATE keygate_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE key_id = $1"
        )
        .bind(key_id)
        .bind(millis(at))
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(store_error))?;
        Ok(done > 0)
    }

    async fn set_expiry(
        &self,
        key_id: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query(
            "UPDATE keygate_keys SET expires_at = $2 WHERE key_id = $1"
        )
        .bind(key_id)
        .bind(expires_at.map(millis))
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(store_error))?;
        Ok(done > 0)
    }

    async fn set_scopes(&self, key_id: &str, scopes: &[String]) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query(
            "UPDATE keygate_keys SET scopes = $2 WHERE key_id = $1"
        )
        .bind(key_id)
        .bind(json(scopes))
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(store_error))?;
        Ok(done > 0)
    }

    async fn rotate(
        &self,
        old_key_id: &str,
        replacement: KeyRecord,
        old_expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let until = millis(old_expires_at);
        on_pool!(self, |pool| {
            // One transaction: the old key is linked and shortened and the new one inserted, or
            // nothing is written (dropping the transaction rolls it back).
            let mut tx = pool.begin().await.map_err(store_error)?;
            let linked = sqlx::query(
                "UPDATE keygate_keys SET rotated_to = $2, \
                 expires_at = CASE WHEN expires_at IS NULL OR expires_at > $3 THEN $3 \
                 ELSE expires_at END WHERE key_id = $1",
            )
            .bind(old_key_id)
            .bind(replacement.key_id.as_str())
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            if linked.rows_affected() == 0 {
                return Ok(false);
            }
            bind_record!(sqlx::query(INSERT), replacement)
                .execute(&mut *tx)
                .await
                .map_err(|e| insert_error(e, &replacement.key_id))?;
            tx.commit().await.map_err(store_error)?;
            Ok(true)
        })
    }

    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            for (key_id, at) in uses {
                sqlx::query(
                    "UPDATE keygate_keys SET last_used_at = $2 \
                     WHERE key_id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
                )
                .bind(key_id.as_str())
                .bind(millis(*at))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)
        })
    }
}
