use keygate::require_api_key;

#[require_api_key]
struct Items {
    count: usize,
}

fn main() {}
