//! API-key authentication for axum services, declared on the handler.
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use keygate::{ApiKey, KeyGate, NewKey, require_api_key};
//!
//! #[require_api_key(scopes = "items:read")]
//! async fn list_items() -> Json<Vec<String>> {
//!     Json(vec!["apple".into()])
//! }
//!
//! #[require_api_key]
//! async fn whoami(key: ApiKey) -> String {
//!     key.name().to_owned()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let gate = KeyGate::builder().prefix("acme_live").build();
//! let created = gate
//!     .create_key(NewKey::new("ci").owner("infra").scopes(["items:read"]))
//!     .await
//!     .unwrap();
//! println!("your key (shown once): {}", created.key.expose());
//!
//! let app: Router = Router::new()
//!     .route("/items", get(list_items))
//!     .route("/whoami", get(whoami))
//!     .with_state(gate);
//! # let _ = app;
//! # }
//! ```
//!
//! The attribute injects a [`Guard`] as the handler's first extractor. It finds the
//! [`KeyGate`] in the router state through [`FromRef`](axum::extract::FromRef), reads the key
//! from `X-API-Key` or `Authorization: Bearer`, checks its format and checksum, looks it up by its
//! public id, compares the hash of its secret in constant time, checks expiry, revocation and
//! scopes, and puts the verified [`ApiKey`] into the request. A rejection is an RFC 9457 problem
//! document; see [`reject`] for the codes.

#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

mod audit;
#[cfg(feature = "cache")]
mod cache;
mod credentials;
mod declared;
mod duration;
mod extract;
mod gate;
mod hash;
mod identity;
mod key_format;
mod layer;
#[cfg(feature = "utoipa")]
pub mod openapi;
mod record;
pub mod reject;
mod scope;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
mod store;
#[cfg(feature = "test-util")]
mod testing;
mod usage;
mod view;

pub use audit::{ProtectedHandler, protected_routes};
#[cfg(feature = "cache")]
pub use cache::{CachedStore, CachedStoreBuilder};
pub use declared::DeclaredScope;
pub use duration::{DurationError, parse_duration};
pub use extract::Guard;
pub use gate::{ConfigError, KeyError, KeyGate, KeyGateBuilder, MAX_LIFETIME};
pub use hash::{HashVersion, KeyHash};
pub use identity::ApiKey;
pub use key_format::FormatError;
pub use keygate_macros::{declared_scopes, require_api_key};
pub use layer::{RequireKey, RequireKeyLayer};
pub use record::{CreatedKey, KeyFilter, KeyRecord, KeyState, NewKey, PlaintextKey};
pub use reject::{Rejection, RejectionKind};
pub use scope::{
    Requirement, ScopeMatch, ScopeRequirement, grant_problem, is_valid_grant, is_valid_scope,
    scope_problem,
};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{ConnectError, SqlStore, SqlStoreBuilder};
pub use store::{BoxError, KeyStore, MemoryStore, StoreError};
pub use view::KeyView;

/// What `#[require_api_key]` expands to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::audit::ProtectedHandler;
    pub use crate::declared::DeclaredScope;
    pub use crate::extract::Guard;
    pub use crate::scope::{ScopeMatch, ScopeRequirement};
    pub use inventory;

    /// Satisfied by router states that give keygate its [`KeyGate`](crate::KeyGate). A
    /// handler whose state type is known gets a check against it, and the compiler's note names
    /// this trait and the function below, so the error says what keygate needs.
    pub trait RouterStateProvidesKeyGate {}

    impl<S> RouterStateProvidesKeyGate for S where crate::KeyGate: axum::extract::FromRef<S> {}

    /// Compiles only when `S` gives keygate its `KeyGate` (a `KeyGate` field and
    /// `#[derive(FromRef)]`, or `impl FromRef<S> for KeyGate`).
    #[allow(non_snake_case)]
    pub const fn require_api_key_needs_a_KeyGate_in_the_router_state<
        S: RouterStateProvidesKeyGate,
    >() {
    }
}
