use keygate::require_api_key;

#[require_api_key(scopes = 5)]
async fn list_items() -> &'static str {
    "items"
}

fn main() {}
