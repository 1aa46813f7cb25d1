//! [`KeyGate`]: one service's API-key authentication. Configured by [`KeyGateBuilder`]
//! (`builder`), it admits requests (`verify`) and manages the keys it admits (`lifecycle`).

use std::fmt;
use std::sync::Arc;

use axum::http::HeaderName;
use time::OffsetDateTime;

use crate::credentials::Sources;
use crate::declared::DeclaredScope;
use crate::hash::SecretHasher;
use crate::limit::{RateLimit, RateLimiter};
use crate::reject::{Rejection, RejectionKind, Rendering};
use crate::store::{DynStore, StoreError};
use crate::usage::{Usage, UsageHour};

mod builder;
mod error;
mod exposed;
mod lifecycle;
mod policy;
mod upgrade;
mod verify;

pub use builder::{ConfigError, KeyGateBuilder};
pub use error::KeyError;
pub use lifecycle::MAX_LIFETIME;

/// API-key authentication for one service: the key format, where keys are read from, the store,
/// and how rejections look. Cheap to clone (one reference count); put it in the router state and
/// let `#[require_api_key]` reach it through [`FromRef`](axum::extract::FromRef).
///
/// ```
/// use axum::{Router, routing::get};
/// use keygate::{KeyGate, MemoryStore, require_api_key};
///
/// #[require_api_key(scopes = "items:read")]
/// async fn list_items() -> &'static str {
///     "[]"
/// }
///
/// let gate = KeyGate::builder()
///     .prefix("acme_live")
///     .store(MemoryStore::new())
///     .build();
/// let app: Router = Router::new().route("/items", get(list_items)).with_state(gate);
/// ```
#[derive(Clone)]
pub struct KeyGate {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Tells this gate's verifications from another gate's in one request.
    pub(crate) id: crate::identity::GateId,
    pub(crate) prefix: Box<str>,
    pub(crate) sources: Sources,
    pub(crate) hasher: SecretHasher,
    /// Refuse keys whose stored hash is not peppered.
    pub(crate) strict_pepper: bool,
    /// Key ids whose hash upgrade is in flight, or failed a short while ago.
    pub(crate) upgrading: std::sync::Mutex<std::collections::HashSet<String>>,
    pub(crate) store: Arc<dyn DynStore>,
    pub(crate) rendering: Arc<Rendering>,
    pub(crate) usage: Usage,
    pub(crate) declared: Option<&'static [DeclaredScope]>,
    /// Keys only over HTTPS, when set.
    pub(crate) https: Option<crate::https::RequireHttps>,
    /// Where keys' rate-limit state lives.
    pub(crate) limiter: RateLimiter,
    /// The limit of keys without their own.
    pub(crate) default_rate_limit: Option<RateLimit>,
    /// The longest a key may live, from its creation.
    pub(crate) max_lifetime: Option<std::time::Duration>,
}

impl fmt::Debug for KeyGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyGate")
            .field("prefix", &self.inner.prefix)
            .field("sources", &self.inner.sources)
            .field("hasher", &self.inner.hasher)
            .finish_non_exhaustive()
    }
}

impl KeyGate {
    /// Whether keys sent over plain HTTP are refused
    /// ([`KeyGateBuilder::require_https`](crate::KeyGateBuilder::require_https)).
    pub fn requires_https(&self) -> bool {
        self.inner.https.is_some()
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The header keys are read from, if that source is enabled.
    pub fn header_name(&self) -> Option<&HeaderName> {
        self.inner.sources.header.as_ref()
    }

    /// Whether `Authorization: Bearer` is read.
    pub fn bearer_enabled(&self) -> bool {
        self.inner.sources.bearer
    }

    /// The query parameter keys are read from, if that source is enabled.
    pub fn query_param(&self) -> Option<&str> {
        self.inner.sources.query.as_deref()
    }

    /// The cookie keys are read from, if that source is enabled.
    pub fn cookie_name(&self) -> Option<&str> {
        self.inner.sources.cookie.as_deref()
    }

    /// The limit of keys without their own, given to
    /// [`KeyGateBuilder::default_rate_limit`].
    pub fn default_rate_limit(&self) -> Option<RateLimit> {
        self.inner.default_rate_limit
    }

    /// The longest a key may live, given to [`KeyGateBuilder::max_key_lifetime`].
    pub fn max_key_lifetime(&self) -> Option<std::time::Duration> {
        self.inner.max_lifetime
    }

    /// The declared scopes given to [`KeyGateBuilder::declared_scopes`], if any.
    pub fn declared_scopes(&self) -> Option<&'static [DeclaredScope]> {
        self.inner.declared
    }

    pub(crate) fn reject(&self, kind: RejectionKind) -> Rejection {
        Rejection::new(kind, self.inner.rendering.clone())
    }

    /// Writes pending last-used times and usage counts to the store now. Call it on graceful
    /// shutdown; otherwise keygate writes them every few seconds. If it fails, nothing is lost:
    /// the counts are kept for the next attempt.
    pub async fn flush_usage(&self) -> Result<(), StoreError> {
        self.inner.usage.flush().await
    }

    /// The usage history of a key from the hour holding `since` on, oldest first: per UTC hour,
    /// requests admitted and refused by kind (see [`UsageHour`]). Hours without use have no row.
    ///
    /// This gate's pending counts are written first (as by [`flush_usage`](Self::flush_usage)),
    /// so a request it just answered is included; other instances' counts arrive with their next
    /// flush. Fails with [`KeyError::NotFound`] for an unknown key id.
    ///
    /// ```
    /// use keygate::{KeyGate, NewKey};
    /// use keygate::scope::Requirement;
    /// use time::{Duration, OffsetDateTime};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().build();
    /// let created = gate.create_key(NewKey::new("ci").scopes(["items:read"])).await.unwrap();
    /// let key = created.key.expose();
    /// gate.verify_for(key, Requirement::all(&["items:read"])).await.unwrap();
    /// gate.verify_for(key, Requirement::all(&["admin"])).await.unwrap_err();
    ///
    /// let day_ago = OffsetDateTime::now_utc() - Duration::days(1);
    /// let hours = gate.usage(&created.record.key_id, day_ago).await.unwrap();
    /// assert_eq!((hours[0].admitted, hours[0].insufficient_scope), (1, 1));
    /// assert!(gate.usage("nosuchkey000", day_ago).await.is_err());
    /// # }
    /// ```
    pub async fn usage(
        &self,
        key_id: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<UsageHour>, KeyError> {
        // Without pruning: a reader may not know the service's retention.
        self.inner.usage.flush_pending().await?;
        if self.inner.store.fetch(key_id).await?.is_none() {
            return Err(KeyError::NotFound(key_id.to_owned()));
        }
        Ok(self.inner.store.usage(key_id, since).await?)
    }
}
