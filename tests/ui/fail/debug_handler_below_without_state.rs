// `#[debug_handler]` below the attribute, on the handlers of axum-macros 0.5's pass cases that
// show no router state: each gets keygate's one error naming the fix, and nothing from axum.
use axum::extract::{Extension, Path, Request};
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use keygate::require_api_key;

#[require_api_key]
#[axum::debug_handler]
async fn unreachable(Path(_): Path<String>) {}

#[require_api_key]
#[axum::debug_handler]
async fn into_response() -> impl IntoResponse {
    "hi!"
}

#[require_api_key(scopes = "items:read")]
#[axum::debug_handler]
async fn multiple(_one: Method, _two: Uri, _three: String) {}

#[require_api_key]
#[axum::debug_handler]
async fn mutable(mut foo: String) -> String {
    foo += "bar";
    foo
}

#[require_api_key]
#[axum::debug_handler]
async fn request_last(_: Extension<String>, _: Request) {}

#[require_api_key]
#[axum::debug_handler]
async fn result(foo: String) -> Result<impl IntoResponse, ()> {
    let _ = foo;
    Ok(())
}

fn main() {}
