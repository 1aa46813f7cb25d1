// `declared_scopes!()` reads the declaration; it takes nothing.
static SCOPES: &[keygate::scope::DeclaredScope] = keygate::declared_scopes!("items:read");

fn main() {
    let _ = SCOPES;
}
