//! Opening a database: URL, pool settings, the check that it is keygate's, and migration.

use std::fmt;
#[cfg(feature = "sqlite")]
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions, SqliteSynchronous};

#[cfg(feature = "postgres")]
use super::migrate::migrate_postgres;
#[cfg(feature = "sqlite")]
use super::migrate::migrate_sqlite;
#[cfg(feature = "sqlite")]
use super::sqlite_file::{check_sqlite_file, use_wal};
#[cfg(feature = "sqlite")]
use super::watch::FileWatch;
use super::{Pool, SqlStore};
use crate::store::BoxError;

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
    /// The PostgreSQL schema name given to [`SqlStoreBuilder::schema`] is not one keygate accepts.
    /// Nothing was created.
    #[error(
        "`{0}` is not a schema name keygate accepts: lowercase letters, digits and `_`, starting \
         with a letter or `_`, at most 63 bytes"
    )]
    InvalidSchema(String),
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
    pub(super) url: String,
    pub(super) max_connections: u32,
    pub(super) acquire_timeout: Duration,
    pub(super) lock_timeout: Duration,
    pub(super) schema: Option<String>,
    pub(super) poll_interval: Duration,
    pub(super) heartbeat: Duration,
}

impl SqlStoreBuilder {
    /// The most connections the pool opens. Default 8.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long a request waits for a free connection (or a new one) before it is answered with
    /// 503. Default 3 seconds. Connecting to a new SQLite file waits as long (or the lock
    /// timeout, if longer) for another process that is setting up the same file.
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
    /// runs sqlx migrations of its own.
    ///
    /// Lowercase letters, digits and `_`, starting with a letter or `_`: a name PostgreSQL
    /// reads the same quoted or not, so `search_path` and `CREATE SCHEMA` always mean the same
    /// schema. Anything else is refused with [`ConnectError::InvalidSchema`] before connecting.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// SQLite only: how often a running store looks for changes made by other connections and
    /// processes (the command line, another service on the same file), so caches in front of it
    /// forget changed keys. Default 100 ms; each look is one `PRAGMA data_version`, and reads the
    /// change log only when the file changed. PostgreSQL announces changes as they commit.
    pub fn change_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// PostgreSQL only: how often the store sends a heartbeat on keygate's notification channel
    /// (an empty notification, one query). A change listener that hears nothing at all, not
    /// even a heartbeat, for three and a half of these intervals counts its connection as lost,
    /// drops every cached key and listens again: a connection that a NAT, a firewall or a
    /// failover drops without a word sends no error, and would otherwise leave changes unheard
    /// until the cache's time-to-live. Default 5 s; at least 100 ms.
    pub fn listener_heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval.max(Duration::from_millis(100));
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
        let target = format!("SQLite file `{}`", path.display());
        if !in_memory {
            // SQLite's own answer would be "unable to open database file", naming nothing.
            let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
            if let Some(dir) = dir.filter(|dir| !dir.is_dir()) {
                let missing = format!("the directory `{}` does not exist", dir.display());
                return Err(ConnectError::Unreachable(missing.into()).at(&target));
            }
        }
        self.open_sqlite(options, in_memory, path)
            .await
            .map_err(|error| error.at(&target))
    }

    #[cfg(feature = "sqlite")]
    async fn open_sqlite(
        self,
        options: SqliteConnectOptions,
        in_memory: bool,
        path: std::path::PathBuf,
    ) -> Result<SqlStore, ConnectError> {
        use sqlx::Connection;

        if !in_memory && path.exists() {
            check_sqlite_file(&path, &options).await?;
        }
        let options = options
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(self.lock_timeout);
        // One connection sets the database up: it alone may create the file, it switches the file
        // to WAL (a setting the file keeps, so the pool's connections need not repeat it), and it
        // migrates under the write lock. Other processes starting at the same moment wait for
        // it, up to the longer of the acquire and lock timeouts.
        let setup_wait = self.acquire_timeout.max(self.lock_timeout);
        let mut setup = SqliteConnection::connect_with(
            &options
                .clone()
                .create_if_missing(true)
                .busy_timeout(setup_wait),
        )
        .await
        .map_err(|e| ConnectError::Unreachable(e.into()))?;
        let store = async {
            if !in_memory {
                use_wal(&mut setup, setup_wait).await?;
            }
            migrate_sqlite(&mut setup).await?;
            // The file as it is now: the store serves this file and no other.
            let file = if in_memory {
                None
            } else {
                let watch =
                    FileWatch::new(&path).map_err(|e| ConnectError::Unreachable(e.into()))?;
                Some(Arc::new(watch))
            };
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
            if let Some(file) = &file {
                // A new connection opens whatever is at the path: refuse it unless that is still
                // the store's file. (sqlx retries a refused connection until the acquire timeout;
                // by then the watch has recorded the change, so later calls fail at once.)
                let file = file.clone();
                pool = pool.after_connect(move |_, _| {
                    let checked = file.check_now();
                    Box::pin(async move {
                        checked.map_err(|e| sqlx::Error::Io(std::io::Error::other(e.to_string())))
                    })
                });
            }
            // Only the setup connection may create the file: a pool connection opened after the
            // file was removed must fail, not start an empty database at the path.
            let pool = pool
                .connect_with(options.create_if_missing(in_memory))
                .await
                .map_err(|e| ConnectError::Unreachable(e.into()))?;
            Ok(SqlStore {
                pool: Pool::Sqlite(pool),
                file,
                #[cfg(feature = "postgres")]
                schema: None,
                poll_interval: self.poll_interval,
                heartbeat: self.heartbeat,
                in_memory,
            })
        }
        .await;
        let _ = setup.close().await;
        store
    }

    #[cfg(feature = "postgres")]
    async fn connect_postgres(self) -> Result<SqlStore, ConnectError> {
        use std::str::FromStr;

        let options = PgConnectOptions::from_str(&self.url)
            .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
        // Host and port only: the URL may hold a password.
        let target = format!(
            "PostgreSQL at {}:{}",
            options.get_host(),
            options.get_port()
        );
        self.open_postgres(options)
            .await
            .map_err(|error| error.at(&target))
    }

    #[cfg(feature = "postgres")]
    async fn open_postgres(self, mut options: PgConnectOptions) -> Result<SqlStore, ConnectError> {
        use sqlx::Connection;

        let lock_ms = self.lock_timeout.as_millis().max(1).to_string();
        let statement_ms = (self.lock_timeout.as_millis().max(1) * 4).to_string();
        options = options.options([
            ("lock_timeout", lock_ms.as_str()),
            ("statement_timeout", statement_ms.as_str()),
        ]);
        if let Some(schema) = &self.schema {
            if !is_plain_schema_name(schema) {
                return Err(ConnectError::InvalidSchema(schema.clone()));
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
        migrate_postgres(&pool).await?;
        // The schema the tables are in: announcements name it, so a store hears only of its own
        // keys when several schemas share the database.
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()::TEXT")
            .fetch_one(&pool)
            .await
            .map_err(|e| ConnectError::Unreachable(e.into()))?;
        Ok(SqlStore {
            pool: Pool::Postgres(pool),
            #[cfg(feature = "sqlite")]
            file: None,
            #[cfg(feature = "sqlite")]
            in_memory: false,
            schema: Some(schema.into()),
            poll_interval: self.poll_interval,
            heartbeat: self.heartbeat,
        })
    }
}

impl ConnectError {
    /// This error, saying which database it is about when it is one of reaching or migrating it.
    fn at(self, target: &str) -> Self {
        let at = |source: BoxError| -> BoxError {
            Box::new(At {
                target: target.to_owned(),
                source,
            })
        };
        match self {
            ConnectError::Unreachable(source) => ConnectError::Unreachable(at(source)),
            ConnectError::Migrate(source) => ConnectError::Migrate(at(source)),
            other => other,
        }
    }
}

/// An error about one database, named as a person finds it: a SQLite file's path, or a
/// PostgreSQL server's host and port.
#[derive(Debug)]
struct At {
    target: String,
    source: BoxError,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.target, self.source)
    }
}

impl std::error::Error for At {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A schema name that needs no quoting: PostgreSQL folds unquoted names to lowercase, so a name
/// with capitals would be one schema in `CREATE SCHEMA "X"` and another in `search_path`.
#[cfg(feature = "postgres")]
fn is_plain_schema_name(schema: &str) -> bool {
    schema.len() <= 63
        && schema
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub(super) fn has(tables: &[String], name: &str) -> bool {
    tables.iter().any(|t| t == name)
}
