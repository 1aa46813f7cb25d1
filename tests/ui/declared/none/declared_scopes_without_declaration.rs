// Without a declaration any well-formed scope is accepted, but `declared_scopes!()` has nothing
// to give and says where the declaration goes.
use keygate::require_api_key;

#[require_api_key(scopes = "anything:goes")]
async fn handler() {}

static SCOPES: &[keygate::scope::DeclaredScope] = keygate::declared_scopes!();

fn main() {
    let _ = SCOPES;
}
