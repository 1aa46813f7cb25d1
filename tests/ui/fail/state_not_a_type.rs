use keygate::require_api_key;

#[require_api_key(scopes = "items:read", state = "AppState")]
async fn list_items() -> &'static str {
    "items"
}

fn main() {}
