//! [`KeyGateBuilder`]: everything a [`KeyGate`] is configured with, checked once at start-up.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::response::Response;

use super::{Inner, KeyGate};
use crate::credentials::Sources;
use crate::declared::DeclaredScope;
use crate::hash::SecretHasher;
use crate::https::RequireHttps;
use crate::key_format::is_valid_prefix;
use crate::limit::{RateLimit, RateLimiter};
use crate::reject::{Rejection, RenderFn, Rendering};
use crate::store::{DynStore, KeyStore, MemoryStore};
use crate::usage::Usage;

/// Builds a [`KeyGate`]. Start with [`KeyGate::builder`].
pub struct KeyGateBuilder {
    prefix: String,
    header: Option<String>,
    bearer: bool,
    query: Option<String>,
    cookie: Option<String>,
    pepper: Option<Vec<u8>>,
    strict_pepper: bool,
    realm: String,
    hook: Option<Box<RenderFn>>,
    store: Option<Arc<dyn DynStore>>,
    flush_interval: Duration,
    usage_retention: Duration,
    record_usage: bool,
    declared: Option<&'static [DeclaredScope]>,
    https: Option<RequireHttps>,
    limiter: RateLimiter,
    default_rate_limit: Option<RateLimit>,
    max_lifetime: Option<Duration>,
}

impl fmt::Debug for KeyGateBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyGateBuilder")
            .field("prefix", &self.prefix)
            .field("header", &self.header)
            .field("bearer", &self.bearer)
            .field("pepper", &self.pepper.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// The configuration given to [`KeyGateBuilder`] cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid keygate configuration: {0}")]
pub struct ConfigError(pub(crate) String);

/// Numbers gates as they are built, so each can recognise its own verifications.
static NEXT_GATE_ID: AtomicU64 = AtomicU64::new(0);

impl KeyGateBuilder {
    /// The key prefix naming the service and environment, such as `acme_live`: letters, digits
    /// and `_`, not at either end. Default `kg`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The header that carries the key. Default `X-API-Key`; matched case-insensitively.
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.header = Some(name.into());
        self
    }

    /// Stops reading keys from a dedicated header (`Authorization: Bearer` only, say).
    pub fn no_header(mut self) -> Self {
        self.header = None;
        self
    }

    /// Whether `Authorization: Bearer <key>` is read. Default on.
    pub fn bearer(mut self, enabled: bool) -> Self {
        self.bearer = enabled;
        self
    }

    /// Also reads the key from this query parameter. Off by default, and discouraged: URLs end up
    /// in access logs, browser history and `Referer` headers.
    pub fn query_param(mut self, name: impl Into<String>) -> Self {
        self.query = Some(name.into());
        self
    }

    /// Also reads the key from this cookie. Off by default, and discouraged: a browser sends
    /// cookies with every request, cross-site ones included.
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// A server-held secret mixed into every stored hash (HMAC-SHA-256). Keys created without a
    /// pepper keep working after one is added.
    ///
    /// Use at least 32 random bytes from a secret store; an empty pepper is refused at start-up.
    pub fn pepper(mut self, pepper: impl AsRef<[u8]>) -> Self {
        self.pepper = Some(pepper.as_ref().to_vec());
        self
    }

    /// Refuses keys whose stored hash is not peppered (answered `401 invalid_api_key`, with a
    /// WARN event naming the key id). Needs a [`pepper`](Self::pepper). Default off.
    ///
    /// Without it, a gate with a pepper still admits keys stored with plain SHA-256 (made before
    /// the pepper was added, or by a command line run without it) and upgrades each one to the
    /// peppered hash on its first successful use. Turn it on once every key has been used or
    /// re-issued: from then on, someone who can write to the key database but does not know the
    /// pepper cannot add a key that works.
    ///
    /// ```
    /// use keygate::KeyGate;
    ///
    /// let gate = KeyGate::builder().pepper(b"from a secret store").strict_pepper(true).build();
    /// # let _ = gate;
    /// ```
    pub fn strict_pepper(mut self, strict: bool) -> Self {
        self.strict_pepper = strict;
        self
    }

    /// The realm named in `WWW-Authenticate` challenges. Default `api`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Renders rejections the application's way. keygate still sets the status and the
    /// `WWW-Authenticate` challenges, so the hook changes how a rejection looks, never whether a
    /// request is admitted.
    ///
    /// ```
    /// use axum::{Json, response::IntoResponse};
    /// use keygate::KeyGate;
    ///
    /// // FastAPI-style bodies: {"detail": "..."}
    /// let gate = KeyGate::builder()
    ///     .render_rejection(|rejection| {
    ///         Json(serde_json::json!({ "detail": rejection.kind().detail() })).into_response()
    ///     })
    ///     .build();
    /// # let _ = gate;
    /// ```
    pub fn render_rejection<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Rejection) -> Response + Send + Sync + 'static,
    {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Where keys are stored. Default: a new [`MemoryStore`](crate::MemoryStore).
    pub fn store(mut self, store: impl KeyStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How often last-used times and usage counts are written to the store. Default 5 seconds.
    pub fn usage_flush_interval(mut self, every: Duration) -> Self {
        self.flush_interval = every;
        self
    }

    /// How long usage history ([`KeyGate::usage`]) is kept: the usage writer removes older hours
    /// from the store, at most once an hour. Default 90 days; at least one hour.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keygate::KeyGate;
    ///
    /// let gate = KeyGate::builder().usage_retention(Duration::from_secs(30 * 86_400)).build();
    /// # let _ = gate;
    /// ```
    pub fn usage_retention(mut self, keep: Duration) -> Self {
        self.usage_retention = keep;
        self
    }

    /// Whether last-used times and usage history are recorded. Default on. Off, the gate writes
    /// nothing to the store when it admits or refuses a request.
    pub fn record_usage(mut self, record: bool) -> Self {
        self.record_usage = record;
        self
    }

    /// The service's declared scopes, usually [`declared_scopes!()`](crate::declared_scopes).
    /// Once set, [`KeyGate::create_key`], [`KeyGate::set_key_scopes`] and
    /// [`KeyGate::rotate_key`] refuse with [`KeyError::UndeclaredScope`](crate::KeyError::UndeclaredScope) a scope that is not
    /// declared, and a wildcard grant (`items:*`, `*`) that covers no declared scope. Keys
    /// already stored are still verified as they are. An empty list declares no scope at all:
    /// only keys without scopes can be made.
    ///
    /// ```
    /// use keygate::{KeyError, KeyGate, NewKey};
    /// use keygate::scope::DeclaredScope;
    ///
    /// static SCOPES: &[DeclaredScope] = &[DeclaredScope::new("items:read", "Read items")];
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // In a crate with `[package.metadata.keygate.scopes]`:
    /// // `.declared_scopes(keygate::declared_scopes!())`
    /// let gate = KeyGate::builder().declared_scopes(SCOPES).build();
    /// assert!(gate.create_key(NewKey::new("ci").scopes(["items:*"])).await.is_ok());
    /// let refused = gate.create_key(NewKey::new("ci").scopes(["itmes:read"])).await;
    /// assert!(matches!(refused, Err(KeyError::UndeclaredScope { .. })));
    /// # }
    /// ```
    pub fn declared_scopes(mut self, scopes: &'static [DeclaredScope]) -> Self {
        self.declared = Some(scopes);
        self
    }

    /// Refuses keys sent over plain HTTP: a request that presents a key, over a connection that
    /// was not TLS and not forwarded as HTTPS by a trusted proxy, gets `403 https_required`
    /// before its key is looked up. Off by default. See [`crate::https`] for what counts as HTTPS.
    ///
    /// ```
    /// use keygate::KeyGate;
    /// use keygate::https::RequireHttps;
    ///
    /// let gate = KeyGate::builder()
    ///     .require_https(RequireHttps::new().trust_proxy("10.0.0.0/8"))
    ///     .build();
    /// # let _ = gate;
    /// ```
    pub fn require_https(mut self, policy: RequireHttps) -> Self {
        self.https = Some(policy);
        self
    }

    /// The rate limit of keys that have none of their own
    /// ([`KeyRecord::rate_limit`](crate::KeyRecord::rate_limit)). Default: none, and a key
    /// without a limit of its own is not limited at all.
    ///
    /// ```
    /// use keygate::KeyGate;
    ///
    /// let gate = KeyGate::builder().default_rate_limit("100/min".parse().unwrap()).build();
    /// assert_eq!(gate.default_rate_limit().unwrap().to_string(), "100/min");
    /// ```
    pub fn default_rate_limit(mut self, limit: RateLimit) -> Self {
        self.default_rate_limit = Some(limit);
        self
    }

    /// Where keys' rate-limit state lives: [`RateLimiter::in_process`] (the default) for one
    /// instance, or Redis (feature `redis`) for several that share each key's budget.
    pub fn rate_limiter(mut self, limiter: impl Into<RateLimiter>) -> Self {
        self.limiter = limiter.into();
        self
    }

    /// The longest a key may live, from its creation: a key created without an expiry gets one
    /// at creation plus `max`, a longer requested lifetime is refused with
    /// [`KeyError::LifetimeTooLong`](crate::KeyError::LifetimeTooLong), and so is clearing a
    /// key's expiry or moving it past the limit. A rotation's successor lives at most `max`, and
    /// the grace period never keeps the old key past its own limit. Default: no limit. Keys
    /// stored before the limit was set keep the expiry they have.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keygate::{KeyError, KeyGate, NewKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let ninety_days = Duration::from_secs(90 * 86_400);
    /// let gate = KeyGate::builder().max_key_lifetime(ninety_days).build();
    /// let created = gate.create_key(NewKey::new("ci")).await.unwrap();
    /// let expires_at = created.record.expires_at.expect("an expiry was set");
    /// assert_eq!(expires_at - created.record.created_at, ninety_days);
    ///
    /// let year = NewKey::new("ci").expires_in(Duration::from_secs(365 * 86_400));
    /// let refused = gate.create_key(year).await.unwrap_err();
    /// assert!(matches!(refused, KeyError::LifetimeTooLong { .. }));
    /// # }
    /// ```
    pub fn max_key_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = Some(max);
        self
    }

    /// Builds the `KeyGate`, or says what is wrong with the configuration.
    pub fn try_build(self) -> Result<KeyGate, ConfigError> {
        if !is_valid_prefix(&self.prefix) {
            return Err(ConfigError(format!(
                "prefix `{}` must be letters, digits and `_`, not starting or ending with `_`",
                self.prefix
            )));
        }
        if self.pepper.as_ref().is_some_and(Vec::is_empty) {
            // An HMAC under an empty key is computable by anyone: it would pass for a pepper
            // (and satisfy strict_pepper) while protecting nothing. Usually an environment
            // variable that is set but empty.
            return Err(ConfigError(
                "the pepper is empty; leave it unset, or use at least 32 random bytes".into(),
            ));
        }
        let hasher = SecretHasher::new(self.pepper.as_deref());
        if self.strict_pepper && !hasher.is_peppered() {
            return Err(ConfigError(
                "strict_pepper needs a pepper: without one no stored hash could be accepted".into(),
            ));
        }
        if self.usage_retention < Duration::from_secs(3600) {
            return Err(ConfigError(
                "usage_retention must be at least one hour: usage is kept per hour".into(),
            ));
        }
        if let Some(https) = &self.https {
            https.validate()?;
        }
        if let Some(max) = self.max_lifetime {
            super::policy::check_max_lifetime(max)?;
        }
        let sources =
            Sources::configure(self.header.as_deref(), self.bearer, self.query, self.cookie)?;
        let challenges = sources.challenges(&self.realm)?;
        let store: Arc<dyn DynStore> = match self.store {
            Some(store) => store,
            None => Arc::new(MemoryStore::new()),
        };
        Ok(KeyGate {
            inner: Arc::new(Inner {
                id: NEXT_GATE_ID.fetch_add(1, Ordering::Relaxed),
                prefix: self.prefix.into(),
                sources,
                hasher,
                strict_pepper: self.strict_pepper,
                upgrading: Default::default(),
                usage: Usage::new(
                    store.clone(),
                    self.flush_interval,
                    self.usage_retention,
                    self.record_usage,
                ),
                store,
                rendering: Arc::new(Rendering {
                    challenges,
                    hook: self.hook,
                }),
                declared: self.declared,
                https: self.https,
                limiter: self.limiter,
                default_rate_limit: self.default_rate_limit,
                max_lifetime: self.max_lifetime,
            }),
        })
    }

    /// Builds the `KeyGate`.
    ///
    /// # Panics
    ///
    /// If the configuration is invalid (see [`try_build`](Self::try_build)), like axum's router
    /// panics on an invalid route: a mistake in the program, found at start-up.
    pub fn build(self) -> KeyGate {
        match self.try_build() {
            Ok(gate) => gate,
            Err(error) => panic!("{error}"),
        }
    }
}

impl KeyGate {
    /// Starts building a `KeyGate`.
    pub fn builder() -> KeyGateBuilder {
        KeyGateBuilder {
            prefix: "kg".to_owned(),
            header: Some("X-API-Key".to_owned()),
            bearer: true,
            query: None,
            cookie: None,
            pepper: None,
            strict_pepper: false,
            realm: "api".to_owned(),
            hook: None,
            store: None,
            flush_interval: Duration::from_secs(5),
            usage_retention: Duration::from_secs(90 * 86_400),
            record_usage: true,
            declared: None,
            https: None,
            limiter: RateLimiter::in_process(),
            default_rate_limit: None,
            max_lifetime: None,
        }
    }
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
