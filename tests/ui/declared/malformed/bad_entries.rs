// Every problem in the declaration is reported at once, with its place in the file.
use keygate::require_api_key;

#[require_api_key(scopes = "items:read")]
async fn list_items() -> &'static str {
    "[]"
}

fn main() {}
