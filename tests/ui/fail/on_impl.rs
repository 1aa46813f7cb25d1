use keygate::require_api_key;

struct Items;

#[require_api_key(scopes = "items:read")]
impl Items {
    async fn list() -> &'static str {
        "items"
    }
}

fn main() {}
