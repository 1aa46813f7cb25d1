//! The schema, embedded in the binary, and bringing a database up to date with it.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::{ConnectError, SqlStore};
use crate::store::BoxFuture;

/// The migrations, embedded in the binary: a deployed service needs no migration files.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "keygate keys",
    include_str!("../../migrations/0001_keygate_keys.sql"),
)];

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
    pub(super) async fn migrate(&self) -> Result<(), ConnectError> {
        let migrator = Migrator::new(Embedded)
            .await
            .map_err(|e| ConnectError::Migrate(e.into()))?;
        on_pool!(self, |pool| migrator
            .run(pool)
            .await
            .map_err(|e| ConnectError::Migrate(e.into())))
    }
}
