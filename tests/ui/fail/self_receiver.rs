use keygate::require_api_key;

struct Items;

impl Items {
    #[require_api_key]
    async fn list(&self) -> &'static str {
        "items"
    }
}

fn main() {}
