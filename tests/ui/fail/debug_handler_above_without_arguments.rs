// A handler without arguments gets the guard as a new argument, which `#[axum::debug_handler]`
// written above the attribute does not know about: put it below instead.
use keygate::require_api_key;

#[axum::debug_handler]
#[require_api_key]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
