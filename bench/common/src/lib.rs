//! What every benchmark server shares: the handler behind `GET /secure`, `GET /health`, serving
//! and key generation. Only the API-key check differs between the servers, so a difference in
//! their figures is the cost of that check.

use axum::{Json, Router};
use serde_json::{Value, json};

/// The body of `GET /secure` once a request is let through.
pub async fn ok() -> Json<Value> {
    Json(json!({ "message": "ok" }))
}

/// `GET /health`, never authenticated: the harness waits for it before measuring.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Adds `GET /health` to `app`, outside any authentication.
pub fn with_health(app: Router) -> Router {
    app.route("/health", axum::routing::get(health))
}

/// The port from the `PORT` environment variable (default 8080).
fn port() -> u16 {
    match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .unwrap_or_else(|_| panic!("PORT={p:?} is not a port number")),
        Err(_) => 8080,
    }
}

/// Serves `app` on 127.0.0.1:$PORT until SIGTERM or Ctrl-C.
pub async fn serve(name: &str, app: Router) {
    let port = port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("{name}: cannot bind 127.0.0.1:{port}: {e}"));
    // tokio sizes its pool from the CPU affinity: under `taskset -c N` this is one worker.
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    eprintln!("{name}: listening on 127.0.0.1:{port} (tokio workers: {workers})");
    axum::serve(listener, with_health(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .expect("server error");
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// A fresh random key for the baselines: `ak_` and 48 hex digits (24 bytes from the kernel).
pub fn random_key() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("ak_{hex}")
}

/// `name`'s value, or a fresh random key when it is unset.
pub fn key_from_env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(random_key)
}
