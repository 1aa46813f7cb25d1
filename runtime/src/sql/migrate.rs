//! The schema, embedded in the binary, and bringing a database up to date with it.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

#[cfg(feature = "postgres")]
use sqlx::postgres::PgPool;
#[cfg(feature = "sqlite")]
use sqlx::{Connection, sqlite::SqliteConnection};

use super::ConnectError;
use crate::store::BoxFuture;

/// Which database a migration's text is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// One step of the schema: the same text for both databases, or one text each where their
/// dialects differ (triggers).
#[cfg_attr(
    not(all(feature = "sqlite", feature = "postgres")),
    allow(
        dead_code,
        reason = "one backend's text goes unread in a build without the other"
    )
)]
enum Sql {
    Both(&'static str),
    Each {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

impl Sql {
    fn for_backend(&self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Sql::Both(sql), _) => sql,
            #[cfg(feature = "sqlite")]
            (Sql::Each { sqlite, .. }, Backend::Sqlite) => sqlite,
            #[cfg(feature = "postgres")]
            (Sql::Each { postgres, .. }, Backend::Postgres) => postgres,
        }
    }
}

/// The migrations, embedded in the binary: a deployed service needs no migration files.
const MIGRATIONS: &[(i64, &str, Sql)] = &[
    (
        1,
        "keygate keys",
        Sql::Both(include_str!("../../migrations/0001_keygate_keys.sql")),
    ),
    (
        2,
        "keygate change announcements",
        Sql::Each {
            sqlite: include_str!("../../migrations/0002_keygate_changes.sqlite.sql"),
            postgres: include_str!("../../migrations/0002_keygate_changes.postgres.sql"),
        },
    ),
    (
        3,
        "keygate rate limit",
        Sql::Both(include_str!("../../migrations/0003_keygate_rate_limit.sql")),
    ),
    (
        4,
        "keygate revocation reason",
        Sql::Both(include_str!(
            "../../migrations/0004_keygate_revocation_reason.sql"
        )),
    ),
    (
        5,
        "keygate usage",
        Sql::Both(include_str!("../../migrations/0005_keygate_usage.sql")),
    ),
];

/// The embedded migrations for one database, as a sqlx migration source.
#[derive(Debug)]
struct Embedded(Backend);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql.for_backend(self.0)),
                        false,
                    )
                })
                .collect())
        })
    }
}

async fn migrator(backend: Backend) -> Result<Migrator, ConnectError> {
    Migrator::new(Embedded(backend))
        .await
        .map_err(|e| ConnectError::Migrate(e.into()))
}

/// Brings a PostgreSQL database up to date. sqlx's migrator holds an advisory lock while it
/// runs, so instances starting together apply each migration once.
#[cfg(feature = "postgres")]
pub(super) fn migrate_postgres(pool: &PgPool) -> BoxFuture<'_, Result<(), ConnectError>> {
    // Boxed, so the caller's future is `Send` (rustc cannot prove it through sqlx's `Acquire`).
    Box::pin(async move {
        migrator(Backend::Postgres)
            .await?
            .run(pool)
            .await
            .map_err(|e| ConnectError::Migrate(e.into()))
    })
}

/// Brings a SQLite database up to date on `conn`, under SQLite's write lock.
///
/// On SQLite, sqlx's migrator takes no lock: two processes starting on a fresh file both find
/// migration 1 unapplied, both run it, and the loser fails with `table … already exists`.
/// `BEGIN IMMEDIATE` takes the write lock before the migrator looks, so looking and applying are
/// one transaction: a second starter waits for the lock (the connection's `busy_timeout`) and then
/// finds the work done. Retrying after a failure would converge too, but it has to guess which
/// failures are the race, and meanwhile another starter's look at the file (`check_sqlite_file`)
/// can catch a half-made schema (sqlx's history table without keygate's) and refuse the file as
/// foreign. Under the lock, nobody ever sees a half-migrated database.
///
/// A database that is already up to date (every start but the first) is only read, without the
/// lock, so a restart does not wait for a writer: the command line mid-change, or a transaction
/// stuck in another program, which WAL readers never wait for.
#[cfg(feature = "sqlite")]
pub(super) fn migrate_sqlite(
    conn: &mut SqliteConnection,
) -> BoxFuture<'_, Result<(), ConnectError>> {
    // Boxed, so the caller's future is `Send` (rustc cannot prove it through sqlx's `Acquire`).
    Box::pin(async move {
        let migrator = migrator(Backend::Sqlite).await?;
        if sqlite_up_to_date(conn, &migrator).await {
            return Ok(());
        }
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| ConnectError::Migrate(e.into()))?;
        // sqlx runs each migration in a savepoint of this transaction. `run_direct` is `run` on a
        // connection, without the `Acquire` bound that keeps this future from being `Send`.
        migrator
            .run_direct(&mut *tx)
            .await
            .map_err(|e| ConnectError::Migrate(e.into()))?;
        tx.commit()
            .await
            .map_err(|e| ConnectError::Migrate(e.into()))
    })
}

/// Whether the database's migration history is exactly the embedded migrations, all applied
/// successfully. Anything else (no history yet, a missing or failed or unknown migration, an
/// unreadable table) takes the locked path, where sqlx applies what is missing or says what is
/// wrong.
#[cfg(feature = "sqlite")]
async fn sqlite_up_to_date(conn: &mut SqliteConnection, migrator: &Migrator) -> bool {
    let applied: Vec<(i64, Vec<u8>, bool)> =
        match sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations")
            .fetch_all(&mut *conn)
            .await
        {
            Ok(applied) => applied,
            Err(_) => return false,
        };
    let wanted: Vec<&Migration> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    applied.len() == wanted.len()
        && wanted.iter().all(|m| {
            applied.iter().any(|(version, checksum, success)| {
                *version == m.version && *success && checksum[..] == m.checksum[..]
            })
        })
}
