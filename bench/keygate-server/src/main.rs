//! The shared handler under `#[require_api_key(scopes = "read")]`, with keygate from this
//! repository: keys in a `MemoryStore` behind a `CachedStore`, as the example keeps its keys in
//! SQLite behind one.
//!
//! `keygate-server` serves on 127.0.0.1:$PORT (`KEYGATE_PEPPER` sets a pepper, as in the
//! example; unset, stored hashes are plain SHA-256 like the hand-written baseline's). At start-up
//! it mints a key with `read` and one with `write` only, and prints them as
//! `export KEYGATE_READ_KEY=...` and `export KEYGATE_NOREAD_KEY=...`.
//!
//! `keygate-server unknown-keys PREFIX COUNT` prints COUNT well-formed keys with prefix PREFIX
//! (valid checksum, random id) that no service has issued: minted by keygate itself into a
//! throwaway store, so they are exactly what a real key of that service looks like.

use axum::{Json, Router, routing::get};
use keygate::{CachedStore, KeyGate, MemoryStore, require_api_key};
use serde_json::Value;

/// The prefix of this server's keys.
const PREFIX: &str = "bench";

static DECLARED_SCOPES: &[keygate::scope::DeclaredScope] = keygate::declared_scopes!();

#[require_api_key(scopes = "read")]
async fn secure() -> Json<Value> {
    bench_common::ok().await
}

async fn mint(gate: &KeyGate, scope: &str) -> String {
    let new = keygate::NewKey::new(format!("bench-{scope}"))
        .owner("bench")
        .scopes([scope]);
    match gate.create_key(new).await {
        Ok(created) => created.key.expose().to_owned(),
        Err(error) => panic!("cannot mint the {scope} key: {error}"),
    }
}

/// Prints `count` keys of `prefix` that no store holds.
async fn unknown_keys(prefix: &str, count: usize) {
    let throwaway = KeyGate::builder()
        .prefix(prefix)
        .store(MemoryStore::new())
        .build();
    let mut out = String::new();
    for _ in 0..count {
        let created = throwaway
            .create_key(keygate::NewKey::new("unknown"))
            .await
            .unwrap_or_else(|e| panic!("cannot mint a key of prefix {prefix:?}: {e}"));
        out.push_str(created.key.expose());
        out.push('\n');
    }
    print!("{out}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, prefix, count] = args.as_slice()
        && command == "unknown-keys"
    {
        let count = count
            .parse()
            .unwrap_or_else(|_| panic!("COUNT={count:?} is not a number"));
        unknown_keys(prefix, count).await;
        return;
    }
    if !args.is_empty() {
        eprintln!("usage: keygate-server | keygate-server unknown-keys PREFIX COUNT");
        std::process::exit(2);
    }

    let mut builder = KeyGate::builder()
        .prefix(PREFIX)
        .declared_scopes(DECLARED_SCOPES)
        .store(CachedStore::new(MemoryStore::new()));
    if let Some(pepper) = std::env::var("KEYGATE_PEPPER")
        .ok()
        .filter(|p| !p.is_empty())
    {
        builder = builder.pepper(pepper);
    }
    let gate = builder.build();
    println!("export KEYGATE_READ_KEY={}", mint(&gate, "read").await);
    println!("export KEYGATE_NOREAD_KEY={}", mint(&gate, "write").await);

    let app = Router::new().route("/secure", get(secure)).with_state(gate);
    bench_common::serve("keygate", app).await;
}
