// Generated code names everything by absolute path, so a crate that shadows prelude types, std
// paths and keygate's own item names still builds.
#![allow(dead_code, non_camel_case_types)]

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::get;

type Result = ();
type Option = ();
type Vec = ();
type String = ();
type Box = ();
type str = ();
struct Send;
struct Sync;
struct Sized;
struct Copy;
struct Clone;
struct Default;
struct Debug;
struct Guard;
struct ScopeRequirement;
struct ScopeMatch;
struct All;
struct Any;
struct SCOPES;
struct MODE;
mod core {}
mod std {}
mod keygate {}
mod __private {}

#[derive(::core::clone::Clone, FromRef)]
struct AppState {
    gate: ::keygate::KeyGate,
}

#[::keygate::require_api_key(scopes = "items:read")]
async fn list(_state: axum::extract::State<AppState>) -> StatusCode {
    StatusCode::OK
}

#[::keygate::require_api_key(any_scopes = ["a", "b"], state = AppState)]
async fn any() -> StatusCode {
    StatusCode::OK
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/any", get(any))
        .with_state(state)
}

fn main() {
    let _ = app;
}
