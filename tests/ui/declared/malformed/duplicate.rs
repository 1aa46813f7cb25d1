// A scope declared twice (which TOML itself forbids) names the file and the line.
use keygate::require_api_key;

#[require_api_key(scopes = "items:read")]
async fn list_items() -> &'static str {
    "[]"
}

fn main() {}
