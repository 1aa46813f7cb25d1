//! The router's construction: which scopes it takes, and what it says when it cannot.

use super::AdminApi;
use crate::KeyGate;
use crate::scope::DeclaredScope;

static SCOPES: &[DeclaredScope] = &[
    DeclaredScope::new("items:read", "Read items"),
    DeclaredScope::new("keys:admin", "Manage keys"),
];

/// What building the router panicked with. The gate is not looked at after the panic, so it
/// cannot be seen half-changed.
fn panic_message(build: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(build))
        .expect_err("the router is refused");
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => (*payload.downcast::<&str>().unwrap()).to_owned(),
    }
}

#[test]
fn a_declared_scope_or_any_valid_scope_without_a_declaration_builds() {
    let declared = KeyGate::builder().declared_scopes(SCOPES).build();
    let _ = AdminApi::new(&declared)
        .scope("keys:admin")
        .openapi_router::<()>();
    let open = KeyGate::builder().build();
    let _ = AdminApi::new(&open).router::<()>();
    let _ = AdminApi::new(&open).scope("ops:keys").router::<()>();
}

#[test]
fn an_undeclared_scope_is_refused_naming_the_declared_ones() {
    let gate = KeyGate::builder().declared_scopes(SCOPES).build();
    let message = panic_message(|| {
        let _ = AdminApi::new(&gate).router::<()>();
    });
    assert_eq!(
        message,
        "the admin API's scope `admin` is not declared, so no key could hold it; the declared \
         scopes are `items:read`, `keys:admin`: declare it under [package.metadata.keygate.scopes] \
         in Cargo.toml, or pass a declared one to AdminApi::scope"
    );
}

#[test]
fn a_malformed_scope_or_a_wildcard_is_refused_saying_why() {
    let gate = KeyGate::builder().build();
    for (scope, why) in [
        ("keys admin", "whitespace"),
        ("keys:*", "wildcards belong in the scopes granted to keys"),
        ("", "cannot be empty"),
    ] {
        let message = panic_message(|| {
            let _ = AdminApi::new(&gate).scope(scope).router::<()>();
        });
        assert!(
            message.starts_with("the admin API's scope is not valid: ") && message.contains(why),
            "{scope:?}: {message}"
        );
    }
}

#[test]
fn debug_names_the_scope_and_nothing_of_the_gate() {
    let gate = KeyGate::builder().pepper("pepper-bytes").build();
    let text = format!("{:?}", AdminApi::new(&gate).scope("keys:admin"));
    assert_eq!(text, r#"AdminApi { scope: "keys:admin", .. }"#);
}
