//! The scopes a service declares, and refusing grants outside them.
//!
//! A crate declares its scopes once, in its `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.keygate.scopes]
//! "items:read"  = "Read the item catalogue"
//! "items:write" = "Create and change items"
//! "admin"       = "Manage API keys"
//! ```
//!
//! `#[require_api_key]` then refuses, at compile time, a scope that is not declared, and
//! [`declared_scopes!`](crate::declared_scopes) hands the same list to the program, for
//! [`KeyGateBuilder::declared_scopes`](crate::KeyGateBuilder::declared_scopes) (which refuses
//! keys granted undeclared scopes) and the OpenAPI document.

use crate::scope::grant_covers;

/// One declared scope: its name and its one-line description.
///
/// Usually made by [`declared_scopes!`](crate::declared_scopes); by hand:
///
/// ```
/// use keygate::scope::DeclaredScope;
///
/// static SCOPES: &[DeclaredScope] = &[
///     DeclaredScope::new("items:read", "Read the item catalogue"),
///     DeclaredScope::new("admin", "Manage API keys"),
/// ];
/// assert_eq!(SCOPES[0].name, "items:read");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeclaredScope {
    /// The scope, such as `items:read`.
    pub name: &'static str,
    /// What it allows, in one line.
    pub description: &'static str,
}

impl DeclaredScope {
    /// A declared scope.
    pub const fn new(name: &'static str, description: &'static str) -> Self {
        DeclaredScope { name, description }
    }
}

/// Whether `grant` may be given to a key under `declared`: a plain scope must be declared, a
/// wildcard grant (`items:*`, `*`) must cover at least one declared scope. A wildcard also covers
/// scopes declared later; that is what a wildcard is for.
pub(crate) fn grant_is_declared(grant: &str, declared: &[DeclaredScope]) -> bool {
    declared.iter().any(|scope| grant_covers(grant, scope.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARED: &[DeclaredScope] = &[
        DeclaredScope::new("items:read", "Read"),
        DeclaredScope::new("items:write", "Write"),
        DeclaredScope::new("admin", "Admin"),
    ];

    #[test]
    fn plain_grants_must_be_declared() {
        assert!(grant_is_declared("items:read", DECLARED));
        assert!(grant_is_declared("admin", DECLARED));
        assert!(!grant_is_declared("itmes:read", DECLARED));
        assert!(!grant_is_declared("items", DECLARED));
        assert!(!grant_is_declared("admin:keys", DECLARED));
    }

    #[tokio::test]
    async fn a_gate_with_a_declaration_refuses_undeclared_grants() {
        use crate::{KeyError, KeyGate, NewKey};

        let gate = KeyGate::builder().declared_scopes(DECLARED).build();
        let ok = gate
            .create_key(NewKey::new("ci").scopes(["items:read", "items:*", "admin"]))
            .await
            .unwrap();
        for bad in ["itmes:read", "billing:*"] {
            let refused = gate.create_key(NewKey::new("ci").scopes([bad])).await;
            match refused {
                Err(KeyError::UndeclaredScope { scope, declared }) => {
                    assert_eq!(scope, bad);
                    assert_eq!(declared, ["items:read", "items:write", "admin"]);
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let message = gate
            .create_key(NewKey::new("ci").scopes(["billing:*"]))
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "wildcard grant `billing:*` covers no declared scope; the declared scopes are `items:read`, `items:write`, `admin`"
        );

        let id = &ok.record.key_id;
        assert!(matches!(
            gate.set_key_scopes(id, ["items:raed"]).await,
            Err(KeyError::UndeclaredScope { .. })
        ));
        assert_eq!(
            gate.get_key(id).await.unwrap().scopes,
            ["items:read", "items:*", "admin"]
        );
        assert!(gate.set_key_scopes(id, ["items:write"]).await.is_ok());
        // Malformed scopes are still malformed, declared or not.
        assert!(matches!(
            gate.create_key(NewKey::new("ci").scopes(["items read"]))
                .await,
            Err(KeyError::InvalidScope(_))
        ));
    }

    #[tokio::test]
    async fn rotation_refuses_scopes_the_declaration_dropped() {
        use std::sync::Arc;
        use std::time::Duration;

        use crate::{KeyError, KeyGate, MemoryStore, NewKey};

        let store = Arc::new(MemoryStore::new());
        let before = KeyGate::builder().store(Arc::clone(&store)).build();
        let old = before
            .create_key(NewKey::new("legacy").scopes(["reports:read"]))
            .await
            .unwrap();
        let after = KeyGate::builder()
            .store(store)
            .declared_scopes(DECLARED)
            .build();
        let refused = after.rotate_key(&old.record.key_id, Duration::ZERO).await;
        assert!(
            matches!(refused, Err(KeyError::UndeclaredScope { scope, .. }) if scope == "reports:read")
        );
        // The old key still verifies: a declaration limits what is granted, not what was.
        assert!(after.verify(old.key.expose()).await.is_ok());
    }

    #[tokio::test]
    async fn without_a_declaration_any_valid_grant_is_accepted() {
        use crate::{KeyGate, NewKey};

        let gate = KeyGate::builder().build();
        assert!(gate.declared_scopes().is_none());
        let key = gate
            .create_key(NewKey::new("ci").scopes(["anything:goes", "x:*"]))
            .await;
        assert!(key.is_ok());
    }

    #[test]
    fn wildcards_must_cover_a_declared_scope() {
        assert!(grant_is_declared("items:*", DECLARED));
        assert!(grant_is_declared("*", DECLARED));
        // A wildcard covers whole segments only: `adm*` is no grant at all.
        assert!(!grant_is_declared("adm*", DECLARED));
        assert!(!grant_is_declared("billing:*", DECLARED));
        assert!(!grant_is_declared("*", &[]));
    }
}
