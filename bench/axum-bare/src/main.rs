//! The floor: the shared router and handler, no authentication at all.

use axum::{Router, routing::get};

#[tokio::main]
async fn main() {
    let app = Router::new().route("/secure", get(bench_common::ok));
    bench_common::serve("axum-bare", app).await;
}
