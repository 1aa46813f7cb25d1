use keygate::require_api_key;

#[require_api_key(scopes = "items:*")]
async fn list_items() -> &'static str {
    "items"
}

fn main() {}
