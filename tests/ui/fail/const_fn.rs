use keygate::require_api_key;

#[require_api_key]
const fn list_items() -> &'static str {
    "items"
}

fn main() {}
