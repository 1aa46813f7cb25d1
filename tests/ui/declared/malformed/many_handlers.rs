// A malformed declaration is reported once, however many handlers and `declared_scopes!()`
// calls meet it.
use keygate::require_api_key;

#[require_api_key(scopes = "items:read")]
async fn list_items() -> &'static str {
    "[]"
}

#[require_api_key(scopes = "items:write")]
async fn create_item() -> &'static str {
    "{}"
}

#[require_api_key]
async fn whoami() -> &'static str {
    "me"
}

#[require_api_key(any_scopes = ["admin", "items:write"])]
async fn delete_item() -> &'static str {
    ""
}

#[require_api_key(scopes = "admin")]
async fn list_keys() -> &'static str {
    "[]"
}

static SCOPES: &[keygate::scope::DeclaredScope] = keygate::declared_scopes!();

fn main() {
    let _ = SCOPES;
}
