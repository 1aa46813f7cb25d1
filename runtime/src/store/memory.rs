//! [`MemoryStore`]: keys in process memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use time::OffsetDateTime;

use super::{ChangeOutcome, KeyChange, KeyStore, StoreError};
use crate::record::{KeyFilter, KeyRecord};
use crate::usage::{UsageHour, hour_index};

/// Keys held in process memory: for tests and small services. Lost on restart.
///
/// ```
/// use keygate::{KeyGate, MemoryStore, NewKey};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let gate = KeyGate::builder().prefix("demo").store(MemoryStore::new()).build();
/// let created = gate.create_key(NewKey::new("ci").scopes(["items:read"])).await.unwrap();
/// let identity = gate.verify(created.key.expose()).await.unwrap();
/// assert_eq!(identity.name(), "ci");
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: RwLock<HashMap<String, Arc<KeyRecord>>>,
    /// Usage hours by key id and hour (hours since the epoch), so one key's are in order.
    usage: RwLock<BTreeMap<(String, i64), UsageHour>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl KeyStore for MemoryStore {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        let records = self.records.read().unwrap_or_else(PoisonError::into_inner);
        Ok(records.get(key_id).cloned())
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        if records.contains_key(&record.key_id) {
            return Err(StoreError::Duplicate(record.key_id));
        }
        records.insert(record.key_id.clone(), Arc::new(record));
        Ok(())
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let records = self.records.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<KeyRecord> = records
            .values()
            .filter(|r| filter.matches(r, now))
            .map(|r| KeyRecord::clone(r))
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.key_id).cmp(&(b.created_at, &b.key_id)));
        Ok(out)
    }

    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        // One write lock around the check and the write: nothing can change the record between.
        // A panic while holding the lock cannot leave a half-written record (records are swapped
        // whole), so a poisoned lock is safe to keep using.
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        let Some(record) = records.get(key_id) else {
            return Ok(ChangeOutcome::NotFound);
        };
        if let Some(refusal) = change.refusal(record) {
            return Ok(refusal);
        }
        // Checked after the refusals, as the SQL stores do: their insert comes after the
        // conditional update.
        if let Some(created) = change.created_key_id()
            && records.contains_key(created)
        {
            return Err(StoreError::Duplicate(created.to_owned()));
        }
        let Some(record) = records.get_mut(key_id) else {
            return Ok(ChangeOutcome::NotFound);
        };
        if let Some(created) = change.apply(Arc::make_mut(record)) {
            records.insert(created.key_id.clone(), Arc::new(created));
        }
        Ok(ChangeOutcome::Applied)
    }

    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
        for (key_id, at) in uses {
            if let Some(record) = records.get_mut(key_id) {
                let record = Arc::make_mut(record);
                if record.last_used_at.is_none_or(|prev| prev < *at) {
                    record.last_used_at = Some(*at);
                }
            }
        }
        Ok(())
    }

    async fn record_usage(&self, counts: &[(String, UsageHour)]) -> Result<(), StoreError> {
        let mut usage = self.usage.write().unwrap_or_else(PoisonError::into_inner);
        for (key_id, row) in counts {
            let hour = hour_index(row.hour);
            usage
                .entry((key_id.clone(), hour))
                .or_insert_with(|| UsageHour::at_index(hour))
                .add(row);
        }
        Ok(())
    }

    async fn usage(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<UsageHour>, StoreError> {
        let usage = self.usage.read().unwrap_or_else(PoisonError::into_inner);
        let from = (key_id.to_owned(), hour_index(since));
        let to = (key_id.to_owned(), i64::MAX);
        Ok(usage.range(from..=to).map(|(_, row)| *row).collect())
    }

    async fn prune_usage(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let before = hour_index(before);
        let mut usage = self.usage.write().unwrap_or_else(PoisonError::into_inner);
        let was = usage.len();
        usage.retain(|(_, hour), _| *hour >= before);
        Ok((was - usage.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RevocationReason;
    use crate::{KeyGate, NewKey};

    #[tokio::test]
    async fn a_revoked_key_keeps_its_first_time_and_reason() {
        let store = Arc::new(MemoryStore::new());
        let gate = KeyGate::builder().store(store.clone()).build();
        let id = gate
            .create_key(NewKey::new("k"))
            .await
            .unwrap()
            .record
            .key_id;
        let first = OffsetDateTime::now_utc();
        let leaked = RevocationReason::leaked(Some("https://a".into()), None);
        for (at, reason) in [
            (first, Some(leaked.clone())),
            (
                first + time::Duration::HOUR,
                Some(RevocationReason::new("other")),
            ),
            (first + time::Duration::DAY, None),
        ] {
            let change = KeyChange::Revoke { at, reason };
            let expected = if at == first {
                ChangeOutcome::Applied
            } else {
                ChangeOutcome::Revoked
            };
            assert_eq!(store.update(&id, change).await.unwrap(), expected);
        }
        let record = store.fetch(&id).await.unwrap().unwrap();
        assert_eq!(record.revoked_at, Some(first));
        assert_eq!(record.revocation, Some(leaked));
    }
}
