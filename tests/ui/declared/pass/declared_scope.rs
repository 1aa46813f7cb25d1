// Declared scopes compile, however close they are to one another, and the declaration is there
// at run time too. The generated registration holds under the strictest crate lints.
#![forbid(unsafe_code)]
#![deny(unused_qualifications)]

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use keygate::{KeyGate, declared_scopes, require_api_key};
use keygate::audit::{protected_handlers};
use keygate::scope::{DeclaredScope, ScopeMatch};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[require_api_key(scopes = "items:read")]
async fn list_items() -> &'static str {
    "[]"
}

#[require_api_key(any_scopes = ["items:write", "admin"])]
async fn change_item() {}

static SCOPES: &[DeclaredScope] = declared_scopes!();

fn main() {
    assert_eq!(
        SCOPES,
        [
            DeclaredScope::new("items:read", "Read the item catalogue"),
            DeclaredScope::new("items:write", "Create and change items"),
            DeclaredScope::new("admin", "Manage API keys"),
        ]
    );
    let change = protected_handlers().into_iter().find(|h| h.name == "change_item").unwrap();
    assert_eq!(change.scopes, ["items:write", "admin"]);
    assert_eq!(change.mode, ScopeMatch::Any);
    let gate = KeyGate::builder().declared_scopes(SCOPES).build();
    let _: Router = Router::new()
        .route("/items", get(list_items).post(change_item))
        .with_state(AppState { gate });
}
