//! tower-http's `ValidateRequestHeaderLayer::bearer(token)` in front of `GET /secure`: the client
//! sends `Authorization: Bearer <token>`; anything else gets tower-http's empty-bodied 401.
//!
//! `bearer` is deprecated since tower-http 0.6.7 ("too basic to be useful in real
//! applications"), but it is what many axum users reach for first, and the cheapest check there
//! is: one comparison with one token, no store, no body.
//!
//! Env: `PORT`; `VALID_KEY` (the token; random if unset), printed at start-up.

use axum::{Router, routing::get};
use tower_http::validate_request::ValidateRequestHeaderLayer;

#[tokio::main]
async fn main() {
    let token = bench_common::key_from_env("VALID_KEY");
    println!("VALID_KEY={token}");

    #[allow(deprecated)]
    let auth = ValidateRequestHeaderLayer::bearer(&token);

    let app = Router::new()
        .route("/secure", get(bench_common::ok))
        .route_layer(auth);
    bench_common::serve("towerhttp", app).await;
}
