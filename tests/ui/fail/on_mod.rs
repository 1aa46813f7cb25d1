use keygate::require_api_key;

#[require_api_key]
mod handlers {
    pub async fn list() -> &'static str {
        "items"
    }
}

fn main() {}
