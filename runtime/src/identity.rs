//! The verified identity handed to handlers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::record::KeyRecord;
use crate::scope::granted_covers;

/// The verified identity of the key that made a request: key id, name, owner, granted scopes and
/// metadata. Never the secret, never its hash.
///
/// Take it as a handler argument, in any position. On a handler with `#[require_api_key]`, or
/// behind [`KeyGate::route_layer`](crate::KeyGate::route_layer), it is the identity already
/// verified for this request (no second verification). Anywhere else it verifies the request
/// itself and admits any valid key. `Option<ApiKey>` makes the key optional: `None` when no key
/// was presented, a 401 when a presented key is bad.
///
/// Cloning is cheap (one reference count).
///
/// ```
/// use axum::Json;
/// use keygate::{ApiKey, require_api_key};
///
/// #[require_api_key(scopes = "items:read")]
/// async fn whoami(key: ApiKey) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "key_id": key.key_id(), "name": key.name() }))
/// }
///
/// async fn greeting(key: Option<ApiKey>) -> String {
///     match key {
///         Some(key) => format!("hello, {}", key.name()),
///         None => "hello, stranger".to_owned(),
///     }
/// }
/// ```
#[derive(Clone)]
pub struct ApiKey(pub(crate) Arc<KeyRecord>, pub(crate) GateId);

/// Which [`KeyGate`](crate::KeyGate) verified an [`ApiKey`]: a gate trusts an identity already in
/// a request only if it verified it itself.
pub(crate) type GateId = u64;

impl ApiKey {
    /// The public key id.
    pub fn key_id(&self) -> &str {
        &self.0.key_id
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Who holds the key.
    pub fn owner(&self) -> &str {
        &self.0.owner
    }

    /// The granted scopes, as stored (wildcards included).
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// Whether the key's grants cover `scope` (`items:*` covers `items:read`).
    pub fn has_scope(&self, scope: &str) -> bool {
        granted_covers(&self.0.scopes, scope)
    }

    /// The key's metadata.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.0.metadata
    }

    /// When the key was created.
    pub fn created_at(&self) -> OffsetDateTime {
        self.0.created_at
    }

    /// When the key expires, if ever.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.0.expires_at
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("key_id", &self.0.key_id)
            .field("name", &self.0.name)
            .field("owner", &self.0.owner)
            .field("scopes", &self.0.scopes)
            .finish_non_exhaustive()
    }
}
