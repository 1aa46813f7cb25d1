use axum::http::{HeaderMap, Method, Uri, Version};
use keygate::require_api_key;

#[require_api_key]
async fn seventeen(
    _a1: Method,
    _a2: Uri,
    _a3: Version,
    _a4: HeaderMap,
    _a5: Method,
    _a6: Uri,
    _a7: Version,
    _a8: HeaderMap,
    _a9: Method,
    _a10: Uri,
    _a11: Version,
    _a12: HeaderMap,
    _a13: Method,
    _a14: Uri,
    _a15: Version,
    _a16: HeaderMap,
    _a17: String,
) -> &'static str {
    "ok"
}

fn main() {}
