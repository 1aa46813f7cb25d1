//! Usage history in `keygate_usage`: each batch row is one upsert that adds its counts to the
//! row other instances may already have written for the same key and hour; a batch is one
//! transaction, so a failed flush added nothing and can be retried as it was.

use time::OffsetDateTime;

use super::row::{from_millis, millis};
use super::{SqlStore, store_error};
use crate::store::StoreError;
use crate::usage::UsageHour;

/// A count as the database stores it (BIGINT).
fn stored(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A stored count; a negative one was not written by keygate.
fn count(stored: i64) -> Result<u64, StoreError> {
    u64::try_from(stored).map_err(|_| StoreError::Corrupt(format!("usage count {stored}")))
}

type UsageRow = (i64, i64, i64, i64, i64);

impl SqlStore {
    pub(super) async fn add_usage(&self, counts: &[(String, UsageHour)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        on_pool!(write self, |pool| {
            let mut tx = pool.begin().await.map_err(store_error)?;
            for (key_id, row) in counts {
                sqlx::query(
                    "INSERT INTO keygate_usage \
                     (key_id, hour, admitted, insufficient_scope, rate_limited, wrong_secret) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (key_id, hour) DO UPDATE SET \
                     admitted = keygate_usage.admitted + excluded.admitted, \
                     insufficient_scope = \
                     keygate_usage.insufficient_scope + excluded.insufficient_scope, \
                     rate_limited = keygate_usage.rate_limited + excluded.rate_limited, \
                     wrong_secret = keygate_usage.wrong_secret + excluded.wrong_secret",
                )
                .bind(key_id.as_str())
                .bind(millis(UsageHour::starting(row.hour).hour))
                .bind(stored(row.admitted))
                .bind(stored(row.insufficient_scope))
                .bind(stored(row.rate_limited))
                .bind(stored(row.wrong_secret))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
            tx.commit().await.map_err(store_error)
        })
    }

    pub(super) async fn usage_since(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<UsageHour>, StoreError> {
        let rows: Vec<UsageRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT hour, admitted, insufficient_scope, rate_limited, wrong_secret \
             FROM keygate_usage WHERE key_id = $1 AND hour >= $2 ORDER BY hour"
        )
        .bind(key_id)
        .bind(millis(UsageHour::starting(since).hour))
        .fetch_all(pool)
        .await
        .map_err(store_error))?;
        rows.into_iter()
            .map(|(hour, admitted, scope, limited, wrong)| {
                Ok(UsageHour {
                    admitted: count(admitted)?,
                    insufficient_scope: count(scope)?,
                    rate_limited: count(limited)?,
                    wrong_secret: count(wrong)?,
                    ..UsageHour::starting(from_millis(hour)?)
                })
            })
            .collect()
    }

    pub(super) async fn remove_usage_before(
        &self,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        on_pool!(write self, |pool| sqlx::query("DELETE FROM keygate_usage WHERE hour < $1")
            .bind(millis(before))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(store_error))
    }
}
