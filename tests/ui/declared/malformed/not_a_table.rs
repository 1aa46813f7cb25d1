// Scopes are a table of scope = "description", not a list; `declared_scopes!()` says so too.
use keygate::require_api_key;

#[require_api_key(scopes = "items:read")]
async fn list_items() -> &'static str {
    "[]"
}

static SCOPES: &[keygate::scope::DeclaredScope] = keygate::declared_scopes!();

fn main() {
    let _ = SCOPES;
}
