// An undeclared scope close to no declared one: the message lists what is declared and where
// to declare a new one.
use keygate::require_api_key;

#[require_api_key(scopes = "billing:view")]
async fn invoices() -> &'static str {
    "[]"
}

fn main() {}
