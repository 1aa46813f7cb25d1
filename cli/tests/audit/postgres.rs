//! A private schema on the test PostgreSQL server, for the command line to run on.

use sqlx::Connection;
use time::OffsetDateTime;

const PG_VAR: &str = "KEYGATE_TEST_POSTGRES_URL";

/// A private schema on the test PostgreSQL server, dropped at the end.
pub(crate) struct PgSchema {
    base: String,
    schema: String,
}

impl PgSchema {
    /// A new schema. Panics when `KEYGATE_TEST_POSTGRES_URL` is unset: the tests that call it
    /// are marked ignored then (see `build.rs`), so reaching here without it is a mistake.
    pub(crate) async fn create(test: &str) -> PgSchema {
        let base = match std::env::var(PG_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => panic!(
                "{test} needs a server: set {PG_VAR}=postgres://postgres@127.0.0.1:5432/test"
            ),
        };
        let schema = format!(
            "kg_cli_{}_{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000_000
        );
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        PgSchema { base, schema }
    }

    /// The URL the command line is given: the server, with the schema as its search path.
    pub(crate) fn url(&self) -> String {
        let joiner = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{joiner}options[search_path]={}", self.base, self.schema)
    }

    pub(crate) async fn drop_schema(self) {
        let mut conn = sqlx::PgConnection::connect(&self.base).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}
