//! Key administration a service mounts (feature `admin`): the admin API as a router
//! ([`api`]) and a server-rendered web console ([`console`]).

pub mod api;
pub mod console;

pub use api::AdminApi;

use crate::KeyGate;

/// The first of `requested` that a caller holding `held` may not grant, if any: a key never mints
/// or widens a key beyond itself (as with GitHub's fine-grained tokens).
///
/// Malformed or undeclared grants are not reported here; the gate refuses them with its own
/// error when the key is written, since what is wrong with a request comes before who asks.
///
/// ```
/// use keygate::{KeyGate, MemoryStore};
///
/// let gate = KeyGate::builder().store(MemoryStore::new()).build();
/// let held = vec!["items:*".to_owned()];
/// let asked = vec!["items:read".to_owned(), "admin".to_owned()];
/// assert_eq!(keygate::admin::grant_beyond(&gate, &held, &asked), Some("admin"));
/// assert_eq!(keygate::admin::grant_beyond(&gate, &held, &asked[..1]), None);
/// ```
pub fn grant_beyond<'a>(
    gate: &KeyGate,
    held: &[String],
    requested: &'a [String],
) -> Option<&'a str> {
    let declared = |grant: &str| {
        gate.declared_scopes().is_none_or(|scopes| {
            scopes
                .iter()
                .any(|s| crate::scope::grant_includes(grant, s.name))
        })
    };
    requested
        .iter()
        .find(|grant| {
            crate::scope::is_valid_grant(grant)
                && declared(grant)
                && !held
                    .iter()
                    .any(|have| crate::scope::grant_includes(have, grant))
        })
        .map(String::as_str)
}
