use keygate::require_api_key;

trait Items {
    #[require_api_key]
    async fn list() -> String {
        String::new()
    }
}

fn main() {}
