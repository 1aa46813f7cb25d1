//! Settings the service and the command line must agree on, kept in `keygate_meta`.

use super::{SqlStore, store_error};
use crate::store::StoreError;

impl SqlStore {
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
        on_pool!(write self, |pool| sqlx::query(
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
    /// use keygate::scope::DeclaredScope;
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
        scopes: &[crate::scope::DeclaredScope],
    ) -> Result<(), StoreError> {
        let pairs: Vec<(&str, &str)> = scopes.iter().map(|s| (s.name, s.description)).collect();
        let value =
            serde_json::to_string(&pairs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_pool!(write self, |pool| sqlx::query(
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
}
