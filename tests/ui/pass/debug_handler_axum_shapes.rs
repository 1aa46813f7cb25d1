// The async free-function shapes of axum-macros 0.5's own `debug_handler` pass cases
// (tests/debug_handler/pass), each with `#[require_api_key]` above and below
// `#[axum::debug_handler]`. Below it, the attribute tells `#[debug_handler]` the router state it
// knows: from `state = AppState`, from a `State<AppState>` argument, or read from
// `#[debug_handler(state = AppState)]`. Above it, `#[debug_handler]` checks the handler as written
// (a handler without arguments cannot go there: see `fail/debug_handler_above_without_arguments`).
#![deny(unreachable_code)]

use axum::extract::{Extension, FromRef, FromRequest, Path, Request, State};
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Router, debug_handler};
use keygate::{KeyGate, require_api_key};

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

// deny_unreachable_code.rs
#[require_api_key(state = AppState)]
#[debug_handler]
async fn unreachable_below(Path(_): Path<String>) {}

#[debug_handler]
#[require_api_key]
async fn unreachable_above(Path(_): Path<String>) {}

// impl_into_response.rs (no arguments: keygate above only)
#[require_api_key(state = AppState)]
#[debug_handler]
async fn into_response_below() -> impl IntoResponse {
    "hi!"
}

// infer_state.rs
#[require_api_key]
#[debug_handler]
async fn infer_below(_: State<AppState>) {}

#[require_api_key]
#[debug_handler]
async fn infer_below_qualified(_: axum::extract::State<AppState>, _: State<AppState>) {}

#[debug_handler]
#[require_api_key]
async fn infer_above(_: State<AppState>, _: axum::extract::State<AppState>) {}

// multiple_extractors.rs
#[require_api_key(scopes = "items:read", state = AppState)]
#[debug_handler]
async fn multiple_below(_one: Method, _two: Uri, _three: String) {}

#[debug_handler]
#[require_api_key(scopes = "items:read")]
async fn multiple_above(_one: Method, _two: Uri, _three: String) {}

// mut_extractor.rs
#[require_api_key]
#[debug_handler(state = AppState)]
async fn mut_below(mut foo: String) -> String {
    foo += "bar";
    foo
}

#[debug_handler]
#[require_api_key]
async fn mut_above(mut foo: String) -> String {
    foo += "bar";
    foo
}

// request_last.rs
#[require_api_key(state = AppState)]
#[debug_handler]
async fn request_last_below(_: Extension<String>, _: Request) {}

#[debug_handler]
#[require_api_key]
async fn request_last_above(_: Extension<String>, _: Request) {}

// result_impl_into_response.rs (the async ones)
#[require_api_key(state = AppState)]
#[debug_handler]
async fn result_no_arg_below() -> Result<impl IntoResponse, impl IntoResponse> {
    Ok::<_, ()>(())
}

#[require_api_key]
#[debug_handler(state = AppState)]
async fn result_arg_below(foo: String) -> Result<(), impl IntoResponse> {
    let _ = foo;
    Err(())
}

#[debug_handler]
#[require_api_key]
async fn result_arg_above(foo: String) -> Result<impl IntoResponse, ()> {
    let _ = foo;
    Ok(())
}

// set_state.rs: an extractor that needs the state, named by `#[debug_handler(state = …)]`.
struct A;

impl<S> FromRequest<S> for A
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ();

    async fn from_request(_req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(A)
    }
}

#[require_api_key]
#[debug_handler(state = AppState)]
async fn set_state_below(_: A) {}

// state_and_body.rs
#[require_api_key]
#[debug_handler(state = AppState)]
async fn state_and_body_below(_: State<AppState>, _: Request) {}

#[debug_handler(state = AppState)]
#[require_api_key]
async fn state_and_body_above(_: State<AppState>, _: Request) {}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/a", get(unreachable_below).post(unreachable_above))
        .route("/b", get(into_response_below))
        .route("/c", get(infer_below).post(infer_below_qualified).put(infer_above))
        .route("/d", get(multiple_below).post(multiple_above))
        .route("/e", get(mut_below).post(mut_above))
        .route("/f", get(request_last_below).post(request_last_above))
        .route("/g", get(result_no_arg_below).post(result_arg_below).put(result_arg_above))
        .route("/h", post(set_state_below))
        .route("/i", get(state_and_body_below).post(state_and_body_above))
        .with_state(state)
}

fn main() {
    let _ = app;
}
