//! [`KeyGate`]: configuration, verification and the key lifecycle.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use time::OffsetDateTime;

use crate::credentials::{Sources, presented_key};
use crate::declared::{DeclaredScope, grant_is_declared};
use crate::hash::SecretHasher;
use crate::identity::ApiKey;
use crate::key_format::{self, is_valid_prefix};
use crate::record::{CreatedKey, KeyFilter, KeyRecord, KeyState, NewKey, PlaintextKey};
use crate::reject::{Rejection, RejectionKind, RenderFn, Rendering};
use crate::scope::{Requirement, is_valid_grant};
use crate::store::{DynStore, KeyStore, StoreError};
use crate::usage::Usage;

/// The longest lifetime or grace period keygate accepts: a hundred years. Anything longer is a
/// unit mistake, not a policy.
pub const MAX_LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

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
    prefix: Box<str>,
    sources: Sources,
    hasher: SecretHasher,
    pub(crate) store: Box<dyn DynStore>,
    pub(crate) rendering: Arc<Rendering>,
    pub(crate) usage: Usage,
    declared: Option<&'static [DeclaredScope]>,
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

/// A lifecycle operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A scope name is not valid.
    #[error(
        "invalid scope `{0}`: scopes use letters, digits and `:._-`; a wildcard grant is `*` or ends in `:*`"
    )]
    InvalidScope(String),
    /// A scope (or a wildcard grant covering no scope) outside the service's declared scopes.
    /// Only when the `KeyGate` was given a declaration; see
    /// [`KeyGateBuilder::declared_scopes`].
    #[error("{}", undeclared_message(.scope, .declared))]
    UndeclaredScope {
        /// The refused scope or wildcard grant.
        scope: String,
        /// The declared scopes.
        declared: Vec<&'static str>,
    },
    /// The key's name is empty.
    #[error("a key needs a non-empty name")]
    EmptyName,
    /// A lifetime, expiry or grace period is zero, negative or absurdly long.
    #[error("{0}")]
    InvalidDuration(String),
    /// No key has this id.
    #[error("no key with id `{0}`")]
    NotFound(String),
    /// The key is revoked, and revocation is final.
    #[error("key `{0}` is revoked")]
    Revoked(String),
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random(#[source] getrandom::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds a [`KeyGate`]. Start with [`KeyGate::builder`].
pub struct KeyGateBuilder {
    prefix: String,
    header: Option<String>,
    bearer: bool,
    query: Option<String>,
    cookie: Option<String>,
    pepper: Option<Vec<u8>>,
    realm: String,
    hook: Option<Box<RenderFn>>,
    store: Option<Box<dyn DynStore>>,
    flush_interval: Duration,
    declared: Option<&'static [DeclaredScope]>,
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
pub struct ConfigError(String);

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
    pub fn pepper(mut self, pepper: impl AsRef<[u8]>) -> Self {
        self.pepper = Some(pepper.as_ref().to_vec());
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
        self.store = Some(Box::new(store));
        self
    }

    /// How often last-used times are written to the store. Default 5 seconds.
    pub fn usage_flush_interval(mut self, every: Duration) -> Self {
        self.flush_interval = every;
        self
    }

    /// The service's declared scopes, usually [`declared_scopes!()`](crate::declared_scopes).
    /// Once set, [`KeyGate::create_key`], [`KeyGate::set_key_scopes`] and
    /// [`KeyGate::rotate_key`] refuse with [`KeyError::UndeclaredScope`] a scope that is not
    /// declared, and a wildcard grant (`items:*`, `*`) that covers no declared scope. Keys
    /// already stored are still verified as they are. An empty list declares no scope at all:
    /// only keys without scopes can be made.
    ///
    /// ```
    /// use keygate::{DeclaredScope, KeyError, KeyGate, NewKey};
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

    /// Builds the `KeyGate`, or says what is wrong with the configuration.
    pub fn try_build(self) -> Result<KeyGate, ConfigError> {
        if !is_valid_prefix(&self.prefix) {
            return Err(ConfigError(format!(
                "prefix `{}` must be letters, digits and `_`, not starting or ending with `_`",
                self.prefix
            )));
        }
        let header = match &self.header {
            Some(name) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ConfigError(format!("`{name}` is not a valid header name")))?,
            ),
            None => None,
        };
        for (what, name) in [("query parameter", &self.query), ("cookie", &self.cookie)] {
            if let Some(name) = name
                && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(ConfigError(format!("`{name}` is not a valid {what} name")));
            }
        }
        if header.is_none() && !self.bearer && self.query.is_none() && self.cookie.is_none() {
            return Err(ConfigError(
                "every credential source is disabled; no key could ever be presented".into(),
            ));
        }
        if self.realm.contains('"') || self.realm.contains('\\') {
            return Err(ConfigError("the realm may not contain quotes".into()));
        }
        let realm = &self.realm;
        let mut challenges = Vec::new();
        if let Some(name) = &header {
            challenges.push(format!(r#"ApiKey realm="{realm}", header="{name}""#));
        }
        if self.bearer {
            challenges.push(format!(r#"Bearer realm="{realm}""#));
        }
        if let Some(name) = &self.query {
            challenges.push(format!(r#"ApiKey realm="{realm}", query="{name}""#));
        }
        if let Some(name) = &self.cookie {
            challenges.push(format!(r#"ApiKey realm="{realm}", cookie="{name}""#));
        }
        let challenges = challenges
            .into_iter()
            .map(|c| HeaderValue::try_from(c).map_err(|_| ConfigError("unprintable realm".into())))
            .collect::<Result<_, _>>()?;
        Ok(KeyGate {
            inner: Arc::new(Inner {
                prefix: self.prefix.into(),
                sources: Sources {
                    header,
                    bearer: self.bearer,
                    query: self.query,
                    cookie: self.cookie,
                },
                hasher: SecretHasher::new(self.pepper.as_deref()),
                store: self
                    .store
                    .unwrap_or_else(|| Box::new(crate::MemoryStore::new())),
                rendering: Arc::new(Rendering {
                    challenges,
                    hook: self.hook,
                }),
                usage: Usage::new(self.flush_interval),
                declared: self.declared,
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

/// A failed check, with the key id when the key was well-formed (the id is public; it goes into
/// the decision's log event).
struct Failure<'a> {
    kind: RejectionKind,
    key_id: Option<&'a str>,
}

impl<'a> Failure<'a> {
    fn new(kind: RejectionKind, key_id: Option<&'a str>) -> Self {
        Failure { kind, key_id }
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
            realm: "api".to_owned(),
            hook: None,
            store: None,
            flush_interval: Duration::from_secs(5),
            declared: None,
        }
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

    /// The declared scopes given to [`KeyGateBuilder::declared_scopes`], if any.
    pub fn declared_scopes(&self) -> Option<&'static [DeclaredScope]> {
        self.inner.declared
    }

    /// Refuses grants that are malformed, or outside the declaration when there is one.
    fn validate_grants(&self, scopes: &[String]) -> Result<(), KeyError> {
        validate_grants(scopes)?;
        let Some(declared) = self.inner.declared else {
            return Ok(());
        };
        match scopes.iter().find(|s| !grant_is_declared(s, declared)) {
            Some(bad) => Err(KeyError::UndeclaredScope {
                scope: bad.clone(),
                declared: declared.iter().map(|s| s.name).collect(),
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn reject(&self, kind: RejectionKind) -> Rejection {
        Rejection::new(kind, self.inner.rendering.clone())
    }

    /// Verifies a key given as text (from a command line, a message queue, a test): format,
    /// checksum, lookup, secret, state. Scopes are not checked; see [`ApiKey::has_scope`].
    pub async fn verify(&self, key: &str) -> Result<ApiKey, Rejection> {
        self.verify_for(key, Requirement::NONE).await
    }

    /// Verifies a key given as text and checks it against `requirement`: everything a protected
    /// route does, without HTTP.
    ///
    /// ```
    /// use keygate::{KeyGate, Requirement};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().build();
    /// let key = gate.create_key(keygate::NewKey::new("reader").scopes(["items:read"])).await.unwrap();
    /// let key = key.key.expose();
    /// assert!(gate.verify_for(key, Requirement::all(&["items:read"])).await.is_ok());
    /// let denied = gate.verify_for(key, Requirement::all(&["admin"])).await.unwrap_err();
    /// assert_eq!(denied.code(), "insufficient_scope");
    /// # }
    /// ```
    pub async fn verify_for(
        &self,
        key: &str,
        requirement: Requirement<'_>,
    ) -> Result<ApiKey, Rejection> {
        self.check(key.trim(), requirement)
            .await
            .map_err(|failure| self.reject(failure.kind))
    }

    /// The whole check of one presented key, without logging.
    async fn check<'k>(
        &self,
        presented: &'k str,
        requirement: Requirement<'_>,
    ) -> Result<ApiKey, Failure<'k>> {
        if presented.is_empty() {
            return Err(Failure::new(RejectionKind::Missing, None));
        }
        let parsed = key_format::parse(&self.inner.prefix, presented)
            .map_err(|_| Failure::new(RejectionKind::Invalid, None))?;
        let id = Some(parsed.key_id);
        let record = match self.inner.store.fetch(parsed.key_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(Failure::new(RejectionKind::Invalid, id)),
            Err(error) => {
                tracing::error!(target: "keygate", key_id = parsed.key_id, %error, "key store failed");
                return Err(Failure::new(RejectionKind::StoreUnavailable, id));
            }
        };
        match self.inner.hasher.matches(&record.hash, parsed.secret) {
            Some(true) => {}
            Some(false) => return Err(Failure::new(RejectionKind::Invalid, id)),
            None => {
                tracing::error!(
                    target: "keygate",
                    key_id = parsed.key_id,
                    "the key's hash is peppered but this KeyGate has no pepper"
                );
                return Err(Failure::new(RejectionKind::StoreUnavailable, id));
            }
        }
        let now = OffsetDateTime::now_utc();
        match record.state_at(now) {
            KeyState::Active => {}
            KeyState::Expired => return Err(Failure::new(RejectionKind::Expired, id)),
            KeyState::Revoked => return Err(Failure::new(RejectionKind::Revoked, id)),
        }
        let key = ApiKey(record);
        self.authorize(&key, requirement)
            .map_err(|kind| Failure::new(kind, id))?;
        self.inner.usage.record(self, parsed.key_id, now);
        Ok(key)
    }

    /// Checks an already verified identity against a requirement.
    fn authorize(&self, key: &ApiKey, requirement: Requirement<'_>) -> Result<(), RejectionKind> {
        if requirement.is_met_by(&key.0.scopes) {
            Ok(())
        } else {
            Err(RejectionKind::InsufficientScope {
                required: requirement.scopes.iter().map(|s| (*s).to_owned()).collect(),
                mode: requirement.mode,
            })
        }
    }

    /// Authenticates and authorises a request: reuses the identity already verified for it (by
    /// the route layer, or another extractor) or verifies the presented key, then checks
    /// `requirement`. Logs one event for the decision.
    pub(crate) async fn admit(
        &self,
        parts: &mut Parts,
        requirement: Requirement<'_>,
    ) -> Result<ApiKey, Rejection> {
        if let Some(key) = parts.extensions.get::<ApiKey>() {
            let outcome = self.authorize(key, requirement);
            log_decision(parts, Some(key.key_id()), &outcome);
            return match outcome {
                Ok(()) => Ok(key.clone()),
                Err(kind) => Err(self.reject(kind)),
            };
        }
        let result = match presented_key(&self.inner.sources, parts) {
            Ok(None) => Err(Failure::new(RejectionKind::Missing, None)),
            Ok(Some(presented)) => self.check(presented, requirement).await,
            Err(kind) => Err(Failure::new(kind, None)),
        };
        match result {
            Ok(key) => {
                log_decision(parts, Some(key.key_id()), &Ok(()));
                parts.extensions.insert(key.clone());
                Ok(key)
            }
            Err(failure) => {
                log_decision(parts, failure.key_id, &Err(failure.kind.clone()));
                Err(self.reject(failure.kind))
            }
        }
    }

    /// Like [`admit`](Self::admit) with no scope requirement, but `Ok(None)` when the request
    /// presents no key at all.
    pub(crate) async fn admit_optional(
        &self,
        parts: &mut Parts,
    ) -> Result<Option<ApiKey>, Rejection> {
        let absent = parts.extensions.get::<ApiKey>().is_none()
            && matches!(presented_key(&self.inner.sources, parts), Ok(None));
        if absent {
            return Ok(None);
        }
        self.admit(parts, Requirement::NONE).await.map(Some)
    }

    /// Creates a key. The returned [`CreatedKey::key`] is the only time the key text exists
    /// outside its holder.
    ///
    /// ```
    /// use keygate::{KeyGate, NewKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().prefix("acme_live").build();
    /// let created = gate
    ///     .create_key(NewKey::new("ci-deploy").owner("team-infra").scopes(["items:read"]))
    ///     .await
    ///     .unwrap();
    /// assert!(created.key.expose().starts_with("acme_live_"));
    /// assert_eq!(created.record.scopes, ["items:read"]);
    /// # }
    /// ```
    pub async fn create_key(&self, new: NewKey) -> Result<CreatedKey, KeyError> {
        if new.name.trim().is_empty() {
            return Err(KeyError::EmptyName);
        }
        self.validate_grants(&new.scopes)?;
        let now = OffsetDateTime::now_utc();
        let expires_at = match new.expires_in {
            Some(lifetime) => Some(expiry_after(now, lifetime, "lifetime")?),
            None => None,
        };
        let (key, mut record) = self.mint(now)?;
        record.name = new.name;
        record.owner = new.owner;
        record.scopes = new.scopes;
        record.metadata = new.metadata;
        record.expires_at = expires_at;
        self.inner.store.insert(record.clone()).await?;
        Ok(CreatedKey { key, record })
    }

    /// A fresh key and a record holding only its id, hash and creation time.
    fn mint(&self, now: OffsetDateTime) -> Result<(PlaintextKey, KeyRecord), KeyError> {
        let generated = key_format::generate(&self.inner.prefix).map_err(KeyError::Random)?;
        let secret = key_format::parse(&self.inner.prefix, &generated.key)
            .map(|parsed| parsed.secret)
            .unwrap_or_default();
        let record = KeyRecord {
            key_id: generated.key_id,
            hash: self.inner.hasher.hash_new(secret),
            name: String::new(),
            owner: String::new(),
            scopes: Vec::new(),
            metadata: Default::default(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            rotated_from: None,
            rotated_to: None,
        };
        Ok((PlaintextKey::new(generated.key), record))
    }

    /// Keys matching `filter`, oldest first. Records carry hashes, never secrets.
    pub async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, KeyError> {
        Ok(self.inner.store.list(filter).await?)
    }

    /// The record of one key.
    pub async fn get_key(&self, key_id: &str) -> Result<KeyRecord, KeyError> {
        match self.inner.store.fetch(key_id).await? {
            Some(record) => Ok(KeyRecord::clone(&record)),
            None => Err(KeyError::NotFound(key_id.to_owned())),
        }
    }

    /// Revokes a key, at once and for good. Revoking a revoked key changes nothing.
    pub async fn revoke_key(&self, key_id: &str) -> Result<KeyRecord, KeyError> {
        if !self
            .inner
            .store
            .revoke(key_id, OffsetDateTime::now_utc())
            .await?
        {
            return Err(KeyError::NotFound(key_id.to_owned()));
        }
        self.get_key(key_id).await
    }

    /// Replaces a key: a new key with the same name, owner, scopes and metadata (and the same
    /// lifetime, if the old one had an expiry), while the old key keeps working for `grace` and
    /// then expires. The records link old → new.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keygate::{KeyGate, NewKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().build();
    /// let old = gate.create_key(NewKey::new("partner")).await.unwrap();
    /// let new = gate
    ///     .rotate_key(&old.record.key_id, Duration::from_secs(3600))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(new.record.rotated_from.as_deref(), Some(old.record.key_id.as_str()));
    /// assert!(gate.verify(old.key.expose()).await.is_ok(), "still inside the grace period");
    /// # }
    /// ```
    pub async fn rotate_key(&self, key_id: &str, grace: Duration) -> Result<CreatedKey, KeyError> {
        let old = self.get_key(key_id).await?;
        if old.revoked_at.is_some() {
            return Err(KeyError::Revoked(key_id.to_owned()));
        }
        // The declaration may have changed since the old key was made.
        self.validate_grants(&old.scopes)?;
        let now = OffsetDateTime::now_utc();
        let old_expires_at = if grace.is_zero() {
            now
        } else {
            expiry_after(now, grace, "grace period")?
        };
        let (key, mut record) = self.mint(now)?;
        record.name = old.name.clone();
        record.owner = old.owner.clone();
        record.scopes = old.scopes.clone();
        record.metadata = old.metadata.clone();
        record.expires_at = match old.expires_at {
            Some(expires_at) => {
                let lifetime = (expires_at - old.created_at).max(time::Duration::ZERO);
                now.checked_add(lifetime)
            }
            None => None,
        };
        record.rotated_from = Some(old.key_id.clone());
        if !self
            .inner
            .store
            .rotate(key_id, record.clone(), old_expires_at)
            .await?
        {
            return Err(KeyError::NotFound(key_id.to_owned()));
        }
        Ok(CreatedKey { key, record })
    }

    /// Sets the expiry to `now + lifetime`, or clears it with `None`.
    pub async fn set_key_expiry(
        &self,
        key_id: &str,
        lifetime: Option<Duration>,
    ) -> Result<KeyRecord, KeyError> {
        let expires_at = match lifetime {
            Some(lifetime) => Some(expiry_after(
                OffsetDateTime::now_utc(),
                lifetime,
                "lifetime",
            )?),
            None => None,
        };
        self.change(key_id, |store| store.set_expiry(key_id, expires_at))
            .await
    }

    /// Replaces a key's granted scopes.
    pub async fn set_key_scopes<I, S>(&self, key_id: &str, scopes: I) -> Result<KeyRecord, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.validate_grants(&scopes)?;
        self.change(key_id, |store| store.set_scopes(key_id, &scopes))
            .await
    }

    /// Applies a change to a live key: refuses revoked keys, reports unknown ones.
    async fn change<'a, F>(&'a self, key_id: &str, apply: F) -> Result<KeyRecord, KeyError>
    where
        F: FnOnce(&'a dyn DynStore) -> crate::store::BoxFuture<'a, Result<bool, StoreError>>,
    {
        let record = self.get_key(key_id).await?;
        if record.revoked_at.is_some() {
            return Err(KeyError::Revoked(key_id.to_owned()));
        }
        if !apply(&*self.inner.store).await? {
            return Err(KeyError::NotFound(key_id.to_owned()));
        }
        self.get_key(key_id).await
    }

    /// Writes pending last-used times to the store now. Call it on graceful shutdown; otherwise
    /// keygate writes them every few seconds.
    pub async fn flush_usage(&self) -> Result<(), StoreError> {
        self.inner.usage.flush(&*self.inner.store).await
    }

    pub(crate) fn downgrade(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }
}

fn validate_grants(scopes: &[String]) -> Result<(), KeyError> {
    match scopes.iter().find(|s| !is_valid_grant(s)) {
        Some(bad) => Err(KeyError::InvalidScope(bad.clone())),
        None => Ok(()),
    }
}

fn undeclared_message(scope: &str, declared: &[&str]) -> String {
    let what = if scope.ends_with('*') {
        format!("wildcard grant `{scope}` covers no declared scope")
    } else {
        format!("scope `{scope}` is not declared")
    };
    if declared.is_empty() {
        format!("{what}; this service declares no scope")
    } else {
        format!(
            "{what}; the declared scopes are `{}`",
            declared.join("`, `")
        )
    }
}

fn expiry_after(
    now: OffsetDateTime,
    lifetime: Duration,
    what: &str,
) -> Result<OffsetDateTime, KeyError> {
    if lifetime.is_zero() {
        return Err(KeyError::InvalidDuration(format!(
            "the {what} must be positive"
        )));
    }
    if lifetime > MAX_LIFETIME {
        return Err(KeyError::InvalidDuration(format!(
            "the {what} may be at most 100 years"
        )));
    }
    time::Duration::try_from(lifetime)
        .ok()
        .and_then(|d| now.checked_add(d))
        .ok_or_else(|| KeyError::InvalidDuration(format!("the {what} is out of range")))
}

/// One tracing event per decision: key id (public), outcome code, route. Admissions are logged at
/// DEBUG so a busy service at the usual INFO level pays nothing for them.
fn log_decision(parts: &Parts, key_id: Option<&str>, outcome: &Result<(), RejectionKind>) {
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    match outcome {
        Ok(()) => tracing::debug!(target: "keygate", key_id, route, outcome = "admitted"),
        Err(RejectionKind::StoreUnavailable) => tracing::warn!(
            target: "keygate", key_id, route, outcome = "key_store_unavailable"
        ),
        Err(kind) => tracing::info!(target: "keygate", key_id, route, outcome = kind.code()),
    }
}
