use keygate::require_api_key;

#[require_api_key(scope = "items:read", any_scopes = ["admin", "items write"])]
fn update_item() -> &'static str {
    "updated"
}

fn main() {}
