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
//! The attribute injects a [`Guard`](extract::Guard) as the handler's first extractor. It finds the
//! [`KeyGate`] in the router state through [`FromRef`](axum::extract::FromRef), reads the key
//! from `X-API-Key` or `Authorization: Bearer`, checks its format and checksum, looks it up by its
//! public id, compares the hash of its secret in constant time, checks expiry, revocation and
//! scopes, and puts the verified [`ApiKey`] into the request. A rejection is an RFC 9457 problem
//! document; see [`reject`] for the codes.
//!
//! # Where things are
//!
//! The crate root holds what a service needs on day one: [`KeyGate`] and its
//! [`KeyGateBuilder`], the verified [`ApiKey`], [`NewKey`] / [`CreatedKey`] / [`KeyRecord`] for
//! the key lifecycle, [`Rejection`], the stores ([`MemoryStore`], and with features `SqlStore` and
//! `CachedStore`) and the two macros. Everything else lives in a module named for its concern:
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`gate`] | configuration errors, [`KeyError`], lifetime limits |
//! | [`scope`] | the scope grammar, wildcard grants, [`Requirement`](scope::Requirement), declared scopes |
//! | [`record`] | key records, their state, filters, the serialisable [`KeyView`](record::KeyView) |
//! | [`store`] | the [`KeyStore`](store::KeyStore) trait and the [`KeyChange`](store::KeyChange)s it applies |
//! | `sql` | SQLite and PostgreSQL stores (features `sqlite`, `postgres`) |
//! | `cache` | a moka cache in front of any store (feature `cache`) |
//! | [`extract`], [`layer`] | the injected guard, and router-wide protection |
//! | [`limit`] | per-key rate limits, the in-process and Redis limiters, the headers layer |
//! | [`reject`] | rejection kinds, codes and their rendering |
//! | [`audit`] | which handlers the attribute protects |
//! | [`hygiene`] | which keys to rotate, revoke or give an expiry |
//! | `openapi` | security schemes in a utoipa document (feature `utoipa`) |
//! | `leaks` | the GitHub secret scanning endpoint: reported keys revoke themselves (feature `secret-scanning`) |
//! | [`hash`], [`duration`] | stored hashes; durations such as `90d` |

#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
pub mod audit;
#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;
mod credentials;
mod declared;
pub mod duration;
pub mod extract;
pub mod gate;
pub mod hash;
pub mod https;
pub mod hygiene;
mod identity;
mod key_format;
pub mod layer;
#[cfg(feature = "secret-scanning")]
#[cfg_attr(docsrs, doc(cfg(feature = "secret-scanning")))]
pub mod leaks;
pub mod limit;
mod metrics;
#[cfg(feature = "utoipa")]
#[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
pub mod openapi;
pub mod record;
pub mod reject;
pub mod scope;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub mod sql;
pub mod store;
mod testing;
pub mod usage;
mod view;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use cache::CachedStore;
pub use gate::{KeyError, KeyGate, KeyGateBuilder};
pub use identity::ApiKey;
pub use keygate_macros::{declared_scopes, require_api_key};
pub use record::{CreatedKey, KeyRecord, NewKey};
pub use reject::Rejection;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use sql::SqlStore;
pub use store::MemoryStore;

/// What `#[require_api_key]` expands to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::audit::ProtectedHandler;
    pub use crate::declared::DeclaredScope;
    pub use crate::extract::Guard;
    pub use crate::scope::{ScopeMatch, ScopeRequirement};
    pub use inventory;

    /// Implemented by no type: the bound of `KeyGate::mint_test_key` when the `test-util`
    /// feature is off, so that a call names the feature it needs.
    #[diagnostic::on_unimplemented(
        message = "`KeyGate::mint_test_key` needs keygate's `test-util` feature",
        label = "`mint_test_key` is only built with the `test-util` feature",
        note = "enable it for tests: under `[dev-dependencies]`, write `keygate = {{ ..., features = [\"test-util\"] }}`"
    )]
    pub trait MintTestKeyNeedsTheTestUtilFeature {}

    /// Satisfied by router states that give keygate its [`KeyGate`](crate::KeyGate). A
    /// handler whose state type is known gets a check against it. The blanket impl is not
    /// recommended, so a failing check reports this trait, with its message saying what to
    /// write, rather than axum's `FromRef`.
    #[diagnostic::on_unimplemented(
        message = "`#[require_api_key]` finds no `KeyGate` in the router state `{Self}`",
        label = "this state does not give keygate its `KeyGate`",
        note = "give the router state a `KeyGate` field and `#[derive(FromRef)]`, or write `impl FromRef<{Self}> for KeyGate`",
        note = "if `{Self}` is a sub-state taken from a larger router state, name the router state: `#[require_api_key(state = AppState)]`"
    )]
    pub trait RouterStateProvidesKeyGate {}

    #[diagnostic::do_not_recommend]
    impl<S> RouterStateProvidesKeyGate for S where crate::KeyGate: axum::extract::FromRef<S> {}

    /// Compiles only when `S` gives keygate its `KeyGate` (a `KeyGate` field and
    /// `#[derive(FromRef)]`, or `impl FromRef<S> for KeyGate`).
    #[allow(non_snake_case)]
    pub const fn require_api_key_needs_a_KeyGate_in_the_router_state<
        S: RouterStateProvidesKeyGate,
    >() {
    }
}
