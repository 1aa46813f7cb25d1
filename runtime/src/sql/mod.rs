//! [`SqlStore`]: key records in SQLite or PostgreSQL, through sqlx.
//!
//! Both backends share one schema (`migrations/`), one set of statements and one behaviour. Times
//! are stored as BIGINT unix milliseconds, so both databases compare and sort them the same way
//! and no date-time driver feature is needed; scopes and metadata are JSON text.
//!
//! The module follows sqlx's own seams: [`connect`](SqlStoreBuilder) opens and checks the
//! database, `migrate` brings its schema up to date, `row` maps rows to records by column name,
//! `store` implements [`KeyStore`](crate::store::KeyStore), `meta` holds the settings the
//! service and the command line share, and `watch` notices a SQLite file removed or replaced
//! under a running store.

use std::fmt;
use std::time::Duration;

#[cfg(feature = "postgres")]
use sqlx::postgres::PgPool;
#[cfg(feature = "sqlite")]
use sqlx::sqlite::SqlitePool;

use crate::store::StoreError;

/// Runs `$body` with `$pool` bound to whichever pool the store has. The body is type-checked once
/// per backend, so one statement text serves both.
///
/// First the store must still be usable (its SQLite file still the one it opened), else the
/// enclosing function returns [`StoreError::Unavailable`]. `write` looks at the file before and
/// after the body, and says unavailable if it went meanwhile: a write that landed in a removed
/// file is lost, and is not reported as done.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.live()? {
            #[cfg(feature = "sqlite")]
            crate::sql::Pool::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            crate::sql::Pool::Postgres($pool) => $body,
        }
    };
    (write $store:expr, |$pool:ident| $body:expr) => {{
        let done = match $store.live_now()? {
            #[cfg(feature = "sqlite")]
            crate::sql::Pool::Sqlite($pool) => $body,
            #[cfg(feature = "postgres")]
            crate::sql::Pool::Postgres($pool) => $body,
        };
        $store.live_now()?;
        done
    }};
}

mod connect;
mod feed;
mod meta;
mod migrate;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite_file;
mod store;
mod usage;
#[cfg(feature = "sqlite")]
mod watch;

pub use connect::{ConnectError, SqlStoreBuilder};

/// Key records in a SQL database: SQLite (feature `sqlite`; one file, created and migrated on
/// first use) or PostgreSQL (feature `postgres`; several service instances share it).
///
/// Cloning is cheap and shares the connection pool. Every change is one statement or one
/// transaction, so concurrent changes from several processes cannot undo each other. Put a
/// [`CachedStore`](crate::CachedStore) in front of it so most requests never reach the database.
///
/// A SQLite file that is removed or replaced under a running store is noticed, not papered over:
/// the store records the file's identity (device and inode on Unix) when it connects, and looks
/// at the path whenever it opens a connection, before every write, and at most every 250 ms
/// before a read. Once the file at the path is not the one it opened, every call fails with
/// [`StoreError::Unavailable`] (requests get `503 key_store_unavailable`; a
/// [`CachedStore`](crate::CachedStore) in front drops what it holds at its next look at the
/// change log, within 100 ms) and one ERROR event (target `keygate`) names the path. The store
/// never creates the file again: only connecting does. If the same file comes back (renamed
/// away and back), the store serves again. A *different* file at the path (a backup moved or
/// copied into place after the removal, or created by another process) stays refused until the
/// service restarts and connects to it: the store's connections may hold either file, and
/// answering from both would admit a key one moment and not know it the next. A backup restored
/// *into* the file with SQLite's backup API (`sqlite3 keys.db ".restore backup.db"`; never copy
/// a file over a database in use, whose write-ahead log would no longer match it) keeps the
/// file's identity, so it is served; its change log is rewound, which the change feed notices
/// (the cursor's own row is gone or names another key), so a cache in front drops what it holds.
/// In-memory databases have no file and none of this applies; neither does it to PostgreSQL.
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
    /// The SQLite file this store opened; `None` in memory and on PostgreSQL.
    #[cfg(feature = "sqlite")]
    file: Option<std::sync::Arc<watch::FileWatch>>,
    /// PostgreSQL: the schema holding the tables, which announcements name.
    #[cfg(feature = "postgres")]
    schema: Option<std::sync::Arc<str>>,
    /// SQLite: how often the change log is looked at.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    poll_interval: Duration,
    /// PostgreSQL: how often the change listener's heartbeat is sent.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    heartbeat: Duration,
    /// SQLite: a private in-memory database, which nothing else can change.
    #[cfg(feature = "sqlite")]
    in_memory: bool,
}

#[derive(Clone)]
pub(crate) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

// The URL is left out: it may carry a password.
impl fmt::Debug for SqlStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStoreBuilder")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field("schema", &self.schema)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password, so it is not shown.
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to `url` with the default settings, checks that the database is keygate's (or
    /// empty), and migrates it. `sqlite://path/keys.db` creates the file if it is missing (only
    /// here: a running store never creates it again, see [`SqlStore`]);
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
            poll_interval: Duration::from_millis(100),
            heartbeat: Duration::from_secs(5),
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

    /// Closes every connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => pool.close().await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// The pool, if the store's file (if any) was at its path when last looked at.
    fn live(&self) -> Result<&Pool, StoreError> {
        #[cfg(feature = "sqlite")]
        if let Some(file) = &self.file {
            file.check()?;
        }
        Ok(&self.pool)
    }

    /// The pool, if the store's file (if any) is at its path now.
    fn live_now(&self) -> Result<&Pool, StoreError> {
        #[cfg(feature = "sqlite")]
        if let Some(file) = &self.file {
            file.check_now()?;
        }
        Ok(&self.pool)
    }
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
