//! `cargo run`: starts the keygate example service and prints keys to call it with.

use std::net::SocketAddr;

use keygate::KeyGate;
use keygate_example::{AppState, Items, app, mint_demo_keys};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let addr: SocketAddr = std::env::var("KEYGATE_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()
        .map_err(|e| format!("KEYGATE_ADDR: {e}"))?;
    let gate = KeyGate::builder().prefix("demo").build();
    let keys = mint_demo_keys(&gate).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;

    println!("keygate example listening on http://{addr}");
    println!();
    println!("Demo keys (shown once; paste these lines into your shell):");
    println!("export KEYGATE_READ_KEY={}", keys.read);
    println!("export KEYGATE_WRITE_KEY={}", keys.write);
    println!("export KEYGATE_ADMIN_KEY={}", keys.admin);
    println!();
    println!("Then:");
    println!("curl -s http://{addr}/items -H \"X-API-Key: $KEYGATE_READ_KEY\"");
    println!(
        "curl -s http://{addr}/items -H \"Authorization: Bearer $KEYGATE_WRITE_KEY\" -H 'Content-Type: application/json' -d '{{\"name\": \"pear\"}}'"
    );
    println!("curl -s -X DELETE http://{addr}/items/1 -H \"X-API-Key: $KEYGATE_ADMIN_KEY\" -i");
    println!("curl -s http://{addr}/whoami -H \"X-API-Key: $KEYGATE_READ_KEY\"");
    println!("curl -s http://{addr}/items -i    # 401 missing_api_key");

    let state = AppState {
        gate: gate.clone(),
        items: Items::with(&["apple", "banana"]),
    };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    gate.flush_usage().await?;
    println!("keygate example stopped");
    Ok(())
}
