//! [`KeyStore`] for [`SqlStore`]: every change is one conditional statement in one transaction.

use std::sync::Arc;

use time::OffsetDateTime;

use super::row::{COLUMNS, INSERT, KeyRow, bind_record, json, millis};
use super::{SqlStore, store_error};
use crate::record::{KeyFilter, KeyRecord};
use crate::store::{ChangeFeed, ChangeOutcome, KeyChange, KeyStore, StoreError};
use crate::usage::UsageHour;

/// A failed insert: a taken key id is [`StoreError::Duplicate`], anything else as usual.
fn insert_error(error: sqlx::Error, key_id: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(key_id.to_owned())
        }
        _ => store_error(error),
    }
}

/// Text no stored value can hold: keygate refuses control characters in everything it writes,
/// and PostgreSQL refuses NUL in any text parameter, so a lookup by such text would be answered
/// as a store failure (503) instead of "no such key".
fn unstorable(text: &str) -> bool {
    text.contains('\0')
}

impl KeyStore for SqlStore {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        if unstorable(key_id) {
            return Ok(None);
        }
        let sql = format!("SELECT {COLUMNS} FROM keygate_keys WHERE key_id = $1");
        let row: Option<KeyRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(key_id)
            .fetch_optional(pool)
            .await
            .map_err(store_error))?;
        row.map(|row| row.into_record().map(Arc::new)).transpose()
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        on_pool!(write self, |pool| bind_record!(sqlx::query(INSERT), record)
            .execute(pool)
            .await
            .map(drop)
            .map_err(|e| insert_error(e, &record.key_id)))?;
        Ok(())
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        if filter.owner.as_deref().is_some_and(unstorable) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM keygate_keys \
             WHERE CAST($1 AS TEXT) IS NULL OR owner = $1 ORDER BY created_at, key_id"
        );
        let rows: Vec<KeyRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(filter.owner.as_deref())
            .fetch_all(pool)
            .await
            .map_err(store_error))?;
        // The state is judged here, by the same rule as everywhere else in keygate.
        let now = OffsetDateTime::now_utc();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let record = row.into_record()?;
            if filter.matches(&record, now) {
                out.push(record);
            }
        }
        Ok(out)
    }

    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        if unstorable(key_id) {
            return Ok(ChangeOutcome::NotFound);
        }
        let written = on_pool!(write self, |pool| {
            // One transaction: the conditional statement, and for a rotation the new key's
            // insert, land together or not at all (dropping the transaction rolls it back).
            let mut tx = pool.begin().await.map_err(store_error)?;
            let query = match &change {
                // Only an unrevoked key: a revoked one keeps its first time and reason, and the
                // second of two racing revocations is told it changed nothing.
                KeyChange::Revoke { at, reason } => sqlx::query(
                    "UPDATE keygate_keys SET revoked_at = $2, revocation = $3 \
                     WHERE key_id = $1 AND revoked_at IS NULL",
                )
                .bind(key_id)
                .bind(millis(*at))
                .bind(reason.as_ref().map(json)),
                KeyChange::SetExpiry(expires_at) => sqlx::query(
                    "UPDATE keygate_keys SET expires_at = $2 \
                     WHERE key_id = $1 AND revoked_at IS NULL AND rotated_to IS NULL",
                )
                .bind(key_id)
                .bind(expires_at.map(millis)),
                KeyChange::SetScopes(scopes) => sqlx::query(
                    "UPDATE keygate_keys SET scopes = $2 WHERE key_id = $1 AND revoked_at IS NULL",
                )
                .bind(key_id)
                .bind(json(scopes)),
                KeyChange::SetRateLimit(limit) => sqlx::query(
                    "UPDATE keygate_keys SET rate_limit = $2 \
                     WHERE key_id = $1 AND revoked_at IS NULL",
                )
                .bind(key_id)
                .bind(limit.map(|limit| limit.to_string())),
                KeyChange::Rehash { from, to } => sqlx::query(
                    "UPDATE keygate_keys SET hash_version = $2, hash = $3 \
                     WHERE key_id = $1 AND hash_version = $4 AND lower(hash) = $5",
                )
                .bind(key_id)
                .bind(to.version.as_i64())
                .bind(to.digest_hex())
                .bind(from.version.as_i64())
                .bind(from.digest_hex()),
                KeyChange::Rotate {
                    replacement,
                    expected_scopes,
                    old_expires_at,
                    at,
                } => sqlx::query(
                    "UPDATE keygate_keys SET rotated_to = $2, \
                     expires_at = CASE WHEN expires_at IS NULL OR expires_at > $3 THEN $3 \
                     ELSE expires_at END \
                     WHERE key_id = $1 AND revoked_at IS NULL AND rotated_to IS NULL \
                     AND (expires_at IS NULL OR expires_at > $4) AND scopes = $5",
                )
                .bind(key_id)
                .bind(replacement.key_id.as_str())
                .bind(millis(*old_expires_at))
                .bind(millis(*at))
                .bind(json(expected_scopes)),
            };
            let rows = query
                .execute(&mut *tx)
                .await
                .map_err(store_error)?
                .rows_affected();
            if rows == 0 {
                // Ended here rather than when the transaction is dropped: a dropped one is rolled
                // back only when its connection is next used, and until then it holds its locks.
                tx.rollback().await.map_err(store_error)?;
                false
            } else {
                if let KeyChange::Rotate { replacement, .. } = &change {
                    bind_record!(sqlx::query(INSERT), replacement)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| insert_error(e, &replacement.key_id))?;
                }
                tx.commit().await.map_err(store_error)?;
                true
            }
        });
        if written {
            return Ok(ChangeOutcome::Applied);
        }
        // Nothing was written; read the key to say why. Revocation and rotation are final, so the
        // reason still holds; only an expiry can have been moved since, and then the rotation
        // was still judged at its own moment.
        Ok(match self.fetch(key_id).await? {
            None => ChangeOutcome::NotFound,
            Some(record) => change.refusal(&record).unwrap_or(match change {
                KeyChange::Rehash { .. } => ChangeOutcome::Superseded,
                _ => ChangeOutcome::Expired,
            }),
        })
    }

    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        on_pool!(write self, |pool| {
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

    async fn record_usage(&self, counts: &[(String, UsageHour)]) -> Result<(), StoreError> {
        self.add_usage(counts).await
    }

    async fn usage(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<UsageHour>, StoreError> {
        if unstorable(key_id) {
            return Ok(Vec::new());
        }
        self.usage_since(key_id, since).await
    }

    async fn prune_usage(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.remove_usage_before(before).await
    }

    /// PostgreSQL: `LISTEN` on the notifications a trigger sends in each change's transaction.
    /// SQLite on a file: a look at the change log a trigger keeps, every
    /// [`change_poll_interval`](super::SqlStoreBuilder::change_poll_interval).
    fn changes(&self) -> Option<ChangeFeed> {
        self.change_feed()
    }

    async fn key_ids(&self) -> Result<Vec<String>, StoreError> {
        let ids: Vec<(String,)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT key_id FROM keygate_keys"
        )
        .fetch_all(pool)
        .await
        .map_err(store_error))?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }
}
