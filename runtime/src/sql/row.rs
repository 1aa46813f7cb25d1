//! Rows of `keygate_keys`, read by column name and turned into records.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::hash::{HashVersion, KeyHash};
use crate::record::{KeyRecord, RevocationReason};
use crate::store::StoreError;

/// The columns [`KeyRow`] reads, for `SELECT` lists.
pub(super) const COLUMNS: &str = "key_id, hash_version, hash, name, owner, scopes, metadata, \
                                  created_at, expires_at, revoked_at, last_used_at, \
                                  rotated_from, rotated_to, rate_limit, revocation";

/// One row of `keygate_keys` as the database holds it, each field read by its column's name.
#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    key_id: String,
    hash_version: i64,
    hash: String,
    name: String,
    owner: String,
    scopes: String,
    metadata: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    rotated_from: Option<String>,
    rotated_to: Option<String>,
    revocation: Option<String>,
    rate_limit: Option<String>,
}

impl KeyRow {
    /// The record this row holds; a row keygate cannot read is [`StoreError::Corrupt`], never a
    /// guess.
    pub(super) fn into_record(self) -> Result<KeyRecord, StoreError> {
        let key_id = self.key_id;
        let corrupt = |what: &str| StoreError::Corrupt(format!("key `{key_id}` has {what}"));
        let version = HashVersion::from_i64(self.hash_version)
            .ok_or_else(|| corrupt(&format!("unknown hash version {}", self.hash_version)))?;
        let hash =
            KeyHash::from_hex(version, &self.hash).ok_or_else(|| corrupt("a malformed hash"))?;
        let scopes: Vec<String> =
            serde_json::from_str(&self.scopes).map_err(|_| corrupt("malformed scopes"))?;
        let metadata: BTreeMap<String, String> =
            serde_json::from_str(&self.metadata).map_err(|_| corrupt("malformed metadata"))?;
        let revocation: Option<RevocationReason> = self
            .revocation
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|_| corrupt("a malformed revocation reason"))?;
        let rate_limit = self
            .rate_limit
            .map(|text| text.parse())
            .transpose()
            .map_err(|_| corrupt("a malformed rate limit"))?;
        Ok(KeyRecord {
            hash,
            rate_limit,
            name: self.name,
            owner: self.owner,
            scopes,
            metadata,
            created_at: from_millis(self.created_at)?,
            expires_at: self.expires_at.map(from_millis).transpose()?,
            revoked_at: self.revoked_at.map(from_millis).transpose()?,
            last_used_at: self.last_used_at.map(from_millis).transpose()?,
            rotated_from: self.rotated_from,
            rotated_to: self.rotated_to,
            revocation,
            key_id,
        })
    }
}

pub(super) fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(super) fn from_millis(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("timestamp {ms} is out of range")))
}

pub(super) fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Strings, lists of strings and string maps always serialise.
    serde_json::to_string(value).unwrap_or_default()
}

pub(super) const INSERT: &str = "INSERT INTO keygate_keys (key_id, hash_version, hash, name, \
                                 owner, scopes, metadata, created_at, expires_at, revoked_at, \
                                 last_used_at, rotated_from, rotated_to, rate_limit, revocation) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                                 $14, $15)";

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
            .bind($r.rate_limit.map(|limit| limit.to_string()))
            .bind($r.revocation.as_ref().map(json))
    };
}
pub(super) use bind_record;
