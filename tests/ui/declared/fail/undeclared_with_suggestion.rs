// A misspelt scope is a compile error on the literal, suggesting the declared scope it is
// closest to.
use keygate::require_api_key;

#[require_api_key(scopes = "itmes:read")]
async fn list_items() -> &'static str {
    "[]"
}

#[require_api_key(any_scopes = ["admin", "items:wirte"])]
async fn change_item() {}

fn main() {}
