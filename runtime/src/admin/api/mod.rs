//! The admin API as a router a service nests where it likes: create, list, rotate and revoke
//! keys, set their rate limits, read their usage history, and audit them.
//!
//! ```
//! use axum::{Router, extract::FromRef};
//! use keygate::KeyGate;
//! use keygate::admin::AdminApi;
//! use utoipa_axum::router::OpenApiRouter;
//!
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     gate: KeyGate,
//! }
//!
//! let gate = KeyGate::builder().prefix("acme_live").build();
//! // Keys holding `keys:admin` may call the routes; the default scope is `admin`.
//! let admin = AdminApi::new(&gate).scope("keys:admin");
//! let (router, doc) = OpenApiRouter::<AppState>::new()
//!     .nest("/admin", admin.openapi_router())
//!     .split_for_parts();
//! let app: Router = router.with_state(AppState { gate });
//!
//! let doc = serde_json::to_value(&doc).unwrap();
//! let create = &doc["paths"]["/admin/keys"]["post"];
//! assert_eq!(create["security"][0]["api_key"][0], "keys:admin");
//! # let _ = app;
//! ```
//!
//! | route (under the mount) | what it does |
//! | --- | --- |
//! | `POST /keys` | creates a key: JSON `name`; optional `owner` (default: the calling key's owner), `scopes` (default none), `metadata`, `expires_in` (`"90d"`), `rate_limit` (`"100/min"`). `201` with the key, shown this once, and its record |
//! | `GET /keys` | lists keys, oldest first: `?owner=&all=true&unused_for=90d&older_than=180d`; active keys only unless `all` |
//! | `GET /keys/audit` | the keys to rotate, revoke or give an expiry: `?unused_for=90d&older_than=180d` ([`hygiene`](crate::hygiene)) |
//! | `POST /keys/{id}/rotate` | mints the key's successor, with the same scopes; optional `{"grace": "24h"}` keeps the old key working that long. `201` with the new key |
//! | `DELETE /keys/{id}` | revokes the key, at once and for good; `200` with its record |
//! | `PUT /keys/{id}/rate_limit` | `{"rate_limit": "100/min"}` sets the key's rate limit, `null` removes it |
//! | `GET /keys/{id}/usage` | the key's usage per UTC hour: `?since=7d` ([`usage`](crate::usage)) |
//!
//! Every route requires the admin scope ([`AdminApi::scope`], default [`DEFAULT_SCOPE`]),
//! checked as `#[require_api_key(scopes = "admin")]` checks it: the key is verified before the
//! body is read, and refused with keygate's own 401, 403, 429 and 503
//! [problem documents](crate::reject). Records never hold secrets; a key's text is in the answer
//! that creates it (`key`), and nowhere else.
//!
//! **A key never grants more than it holds.** Creating a key with a scope the calling key does
//! not hold, or rotating a key that holds one (its successor would hold it too), is refused with
//! `403 scope_not_held` ([`grant_beyond`](crate::admin::grant_beyond)); a wildcard held
//! (`items:*`, `*`) covers what it names. Nor does it give a key a looser rate limit than its
//! own (`403 rate_limit_not_held`, its own included), or a key that outlives it
//! (`403 lifetime_not_held`; without `expires_in` the new key expires with it). The `keygate`
//! command line, which holds the database, is not limited.
//!
//! # In the OpenAPI document
//!
//! [`AdminApi::openapi_router`] carries the routes' operations (ids `create_key`, `list_keys`,
//! `audit_keys`, `rotate_key`, `revoke_key`, `set_rate_limit`, `key_usage`) with their security
//! requirement (the admin scope, under each credential source the gate reads), keygate's
//! security schemes and 401/403/429/503 responses, and every field's rule, the grants of the
//! gate's declared scopes among them. The document is whole without
//! [`secure`](crate::openapi::secure), and stays right after it, unless a handler of the service
//! carrying `#[require_api_key]` has one of those names (operations are matched by id). Its
//! schemas are `CreateKeyRequest`, `CreatedKeyView`, `RotateRequest`, `SetRateLimitRequest`,
//! `KeyView`, `RevocationReason`, `UsageHour`, `AuditReport`, `KeyFindings`, `Finding` and
//! `FindingKind`: a schema of the service's own by one of these names is kept in its place, so
//! name the service's schemas otherwise.
//!
//! # Refusals
//!
//! Bad input writes nothing and is answered with an `application/problem+json` document whose
//! `type` is [`PROBLEM_TYPES`](crate::reject::PROBLEM_TYPES)`#<code>`:
//!
//! ### malformed_request
//! 400, 413, 415 or 422: the body is not JSON, not declared JSON, over 2 MB, or not the route's
//! shape (a missing or unknown field, a wrong type); or a query or path parameter is malformed.
//!
//! ### invalid_name
//! 422: the key's name is empty, only white space, longer than 128 bytes or holds control
//! characters.
//!
//! ### invalid_owner
//! 422: the owner is longer than 128 bytes or holds control characters.
//!
//! ### invalid_metadata
//! 422: more than 32 metadata entries, or a key or value too long or holding control characters,
//! or the entry `console_session_of` (reserved for the web console's sessions).
//!
//! ### invalid_scope
//! 422: a requested grant is malformed, or not among the service's declared scopes.
//!
//! ### too_many_scopes
//! 422: more than 64 scopes for one key.
//!
//! ### invalid_duration
//! 422: a lifetime, grace period or period of the list and audit routes is not a positive whole
//! number and a unit (`90d`), or is over 100 years.
//!
//! ### invalid_rate_limit
//! 422: a rate limit is not `<requests>/<period>` (`100/min`, `10/s burst 20`) within its bounds.
//!
//! ### lifetime_too_long
//! 422: the key would live longer than the service's maximum key lifetime
//! ([`KeyGateBuilder::max_key_lifetime`](crate::KeyGateBuilder::max_key_lifetime)).
//!
//! ### scope_not_held
//! 403: the calling key does not hold a scope the new key (or the rotated key's successor) would
//! hold.
//!
//! ### rate_limit_not_held
//! 403: the key would be limited less tightly than the calling key (its own limit, else the
//! gate's default): a faster rate, a larger burst, or no limit. A limited key neither lifts its
//! own limit nor mints or loosens one beyond it.
//!
//! ### lifetime_not_held
//! 403: the new key would outlive the calling key (or the rotated key's successor would never
//! expire while the calling key does). A key minted by an expiring key without `expires_in`
//! expires with it.
//!
//! ### key_not_found
//! 404: no key has this id.
//!
//! ### key_revoked
//! 409: the key is revoked; revocation is final.
//!
//! ### key_rotated
//! 409: the key was already rotated; rotate its successor.
//!
//! ### key_expired
//! 409: the key has expired, so it is not rotated; create a new one.
//!
//! ### key_changed
//! 409: another request changed the key meanwhile; nothing was written. Read it again and retry.
//!
//! The key store's failures are `503 key_store_unavailable`, as everywhere in keygate.

mod audit;
mod doc;
mod input;
mod keys;
mod problem;
mod types;
mod usage;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::scope::Requirement;
use crate::{ApiKey, KeyGate, Rejection};

/// The scope the admin routes require unless told otherwise.
pub const DEFAULT_SCOPE: &str = "admin";

/// How the routes' 403 descriptions name the scope, replaced by the scope itself when the router
/// is built.
const ADMIN_SCOPE: &str = "the admin scope";

/// The admin API of one [`KeyGate`], to nest in a service's router: see the
/// [module documentation](self).
///
/// The routes manage the keys of the gate given to [`new`](Self::new) and admit the keys it
/// verifies, whatever the router's state; the gate is read when the router is built, for its
/// declared scopes and credential sources.
///
/// ```
/// use axum::Router;
/// use keygate::KeyGate;
/// use keygate::admin::AdminApi;
///
/// let gate = KeyGate::builder().build();
/// // A plain axum router, without an OpenAPI document.
/// let app: Router = Router::new().nest("/admin", AdminApi::new(&gate).router());
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct AdminApi {
    gate: KeyGate,
    scope: String,
}

impl fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminApi")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl AdminApi {
    /// The admin API of `gate`, requiring [`DEFAULT_SCOPE`] (`admin`).
    ///
    /// ```
    /// use keygate::KeyGate;
    /// use keygate::admin::AdminApi;
    ///
    /// let gate = KeyGate::builder().build();
    /// let doc = AdminApi::new(&gate).openapi_router::<()>().into_openapi();
    /// let doc = serde_json::to_value(&doc).unwrap();
    /// assert_eq!(doc["paths"]["/keys"]["get"]["security"][0]["api_key"][0], "admin");
    /// ```
    pub fn new(gate: &KeyGate) -> Self {
        AdminApi {
            gate: gate.clone(),
            scope: DEFAULT_SCOPE.to_owned(),
        }
    }

    /// The scope a key must hold to call the routes, such as `keys:admin`. A plain scope, not a
    /// wildcard; when the gate has [declared scopes](crate::KeyGateBuilder::declared_scopes),
    /// one of them. Checked when the router is built.
    ///
    /// ```
    /// use keygate::KeyGate;
    /// use keygate::admin::AdminApi;
    /// use keygate::scope::DeclaredScope;
    ///
    /// static SCOPES: &[DeclaredScope] = &[DeclaredScope::new("keys:admin", "Manage keys")];
    /// let gate = KeyGate::builder().declared_scopes(SCOPES).build();
    /// let doc = AdminApi::new(&gate)
    ///     .scope("keys:admin")
    ///     .openapi_router::<()>()
    ///     .into_openapi();
    /// let doc = serde_json::to_value(&doc).unwrap();
    /// let revoke = &doc["paths"]["/keys/{id}"]["delete"];
    /// assert_eq!(revoke["security"][1]["bearer"][0], "keys:admin");
    /// ```
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The routes with their OpenAPI operations, for [`OpenApiRouter::nest`]: the service's
    /// document then describes them under the mount path.
    ///
    /// # Panics
    ///
    /// If the scope is not a valid scope, or the gate has declared scopes and the scope is not
    /// one of them (no key could then be granted it), like axum's router panics on an invalid
    /// route: a mistake in the program, found at start-up.
    ///
    /// ```should_panic
    /// use keygate::KeyGate;
    /// use keygate::admin::AdminApi;
    /// use keygate::scope::DeclaredScope;
    ///
    /// static SCOPES: &[DeclaredScope] = &[DeclaredScope::new("items:read", "Read items")];
    /// let gate = KeyGate::builder().declared_scopes(SCOPES).build();
    /// // Panics: `admin` is not declared.
    /// let _ = AdminApi::new(&gate).openapi_router::<()>();
    /// ```
    pub fn openapi_router<S>(&self) -> OpenApiRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        self.check_scope();
        let admin = Arc::new(Admin {
            gate: self.gate.clone(),
            scope: self.scope.clone(),
        });
        let mut router = OpenApiRouter::new()
            .routes(routes!(keys::create_key, keys::list_keys))
            // A static segment wins over `{id}` in axum's router, so `audit` is never taken for
            // a key id, whatever the order here.
            .routes(routes!(audit::audit_keys))
            .routes(routes!(keys::rotate_key))
            .routes(routes!(keys::revoke_key))
            .routes(routes!(keys::set_rate_limit))
            .routes(routes!(usage::key_usage));
        doc::document(router.get_openapi_mut(), &self.gate, &self.scope);
        router.with_state(admin)
    }

    /// The routes as a plain axum router, for [`Router::nest`], when the service keeps no
    /// OpenAPI document.
    ///
    /// # Panics
    ///
    /// As [`openapi_router`](Self::openapi_router).
    pub fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        self.openapi_router().into()
    }

    fn check_scope(&self) {
        let scope = &self.scope;
        if let Some(problem) = crate::scope::scope_problem(scope) {
            panic!("the admin API's scope is not valid: {problem}");
        }
        if let Some(declared) = self.gate.declared_scopes()
            && !declared.iter().any(|d| d.name == scope)
        {
            let names: Vec<&str> = declared.iter().map(|d| d.name).collect();
            panic!(
                "the admin API's scope `{scope}` is not declared, so no key could hold it; the \
                 declared scopes are `{}`: declare it under [package.metadata.keygate.scopes] in \
                 Cargo.toml, or pass a declared one to AdminApi::scope",
                names.join("`, `")
            );
        }
    }
}

/// What the routes share: the gate, and the scope they require.
struct Admin {
    gate: KeyGate,
    scope: String,
}

/// The admitted caller of an admin route, and the gate that admitted it: what the guard of
/// `#[require_api_key]` is to a handler, with the scope chosen when the router was built. The
/// first extractor of every admin handler, so the key is checked before anything else is read.
struct Caller {
    key: ApiKey,
    gate: KeyGate,
}

impl FromRequestParts<Arc<Admin>> for Caller {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, admin: &Arc<Admin>) -> Result<Self, Rejection> {
        let scopes = [admin.scope.as_str()];
        let key = admin.gate.admit(parts, Requirement::all(&scopes)).await?;
        Ok(Caller {
            key,
            gate: admin.gate.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
