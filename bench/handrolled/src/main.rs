//! A hand-written axum extractor for API keys: about the least a real key check can do.
//!
//! * Header `X-API-Key` carries the key.
//! * The server keeps only SHA-256 digests of keys: `HashMap<[u8; 32], Vec<String>>` (digest to
//!   scopes), 10,000 entries.
//! * `GET /secure` requires scope `read`: 401 JSON on a missing or unknown key, 403 JSON on a
//!   known key without `read`.
//!
//! Env: `PORT`; `VALID_KEY` (a key with scope `read`) and `NOREAD_KEY` (a key with scope
//! `write` only), random if unset, printed at start-up.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{FromRef, FromRequestParts},
    http::{HeaderName, StatusCode, request::Parts},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const KEY_COUNT: usize = 10_000;
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// SHA-256(key) to scopes.
type KeyStore = HashMap<[u8; 32], Vec<String>>;

#[derive(Clone)]
struct AppState {
    keys: Arc<KeyStore>,
}

impl FromRef<AppState> for Arc<KeyStore> {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// Why a request was refused.
enum AuthError {
    Missing,
    Invalid,
    MissingScope(&'static str),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            AuthError::Missing => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "unauthorized", "detail": "missing X-API-Key header" }),
            ),
            AuthError::Invalid => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "unauthorized", "detail": "invalid API key" }),
            ),
            AuthError::MissingScope(scope) => (
                StatusCode::FORBIDDEN,
                json!({ "error": "forbidden", "detail": format!("API key lacks scope '{scope}'") }),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// Succeeds only for a known key that holds scope `read`.
struct ReadScope;

impl<S> FromRequestParts<S> for ReadScope
where
    Arc<KeyStore>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        const SCOPE: &str = "read";
        let presented = parts.headers.get(&X_API_KEY).ok_or(AuthError::Missing)?;
        let keys = Arc::<KeyStore>::from_ref(state);
        let scopes = keys
            .get(&digest(presented.as_bytes()))
            .ok_or(AuthError::Invalid)?;
        if scopes.iter().any(|s| s == SCOPE) {
            Ok(ReadScope)
        } else {
            Err(AuthError::MissingScope(SCOPE))
        }
    }
}

async fn secure(_auth: ReadScope) -> Json<Value> {
    bench_common::ok().await
}

fn build_store(valid: &str, noread: &str) -> KeyStore {
    let mut keys = KeyStore::with_capacity(KEY_COUNT);
    keys.insert(digest(valid.as_bytes()), vec!["read".to_owned()]);
    keys.insert(digest(noread.as_bytes()), vec!["write".to_owned()]);
    // A mix of scope sets, roughly what a real key table holds.
    let scope_sets: [&[&str]; 4] = [
        &["read"],
        &["read", "write"],
        &["write"],
        &["admin", "read"],
    ];
    let mut i = 0;
    while keys.len() < KEY_COUNT {
        let scopes = scope_sets[i % scope_sets.len()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        keys.insert(digest(bench_common::random_key().as_bytes()), scopes);
        i += 1;
    }
    keys
}

#[tokio::main]
async fn main() {
    let valid = bench_common::key_from_env("VALID_KEY");
    let noread = bench_common::key_from_env("NOREAD_KEY");
    assert_ne!(valid, noread, "VALID_KEY and NOREAD_KEY must differ");
    let keys = build_store(&valid, &noread);
    println!("VALID_KEY={valid}");
    println!("NOREAD_KEY={noread}");
    eprintln!("handrolled: {} keys loaded", keys.len());

    let state = AppState {
        keys: Arc::new(keys),
    };
    let app = Router::new()
        .route("/secure", get(secure))
        .with_state(state);
    bench_common::serve("handrolled", app).await;
}
