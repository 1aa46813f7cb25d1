use keygate::require_api_key;

#[require_api_key(scopes = "items:read")]
#[require_api_key(scopes = "items:write")]
async fn update_item() -> &'static str {
    "updated"
}

fn main() {}
