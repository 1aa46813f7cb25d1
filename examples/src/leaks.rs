//! `POST /security/leaked-keys`: GitHub secret scanning reports keys of this service found in
//! public; keygate revokes them, and the hook here tells the operator. Authenticated by GitHub's
//! signature, not by an API key, and outside the OpenAPI document, like `/openapi.json`.

use axum::routing::MethodRouter;
use keygate::KeyGate;
use keygate::leaks::{GITHUB_KEYS_URL, LeakedKey, SecretScanning};

/// Where the endpoint is mounted; the URL to register with GitHub ends with it.
pub const PATH: &str = "/security/leaked-keys";

/// The environment variable naming where GitHub's signing keys are fetched from; GitHub's own
/// URL when unset.
pub const KEYS_URL_VAR: &str = "KEYGATE_SECRET_SCANNING_KEYS_URL";

/// The keys URL from [`KEYS_URL_VAR`], or GitHub's.
pub fn keys_url_from_env() -> String {
    std::env::var(KEYS_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| GITHUB_KEYS_URL.to_owned())
}

/// The endpoint, fetching GitHub's keys from `keys_url` on the first report (never at start, so
/// the service starts offline).
pub fn endpoint<S>(gate: &KeyGate, keys_url: &str) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let scanning = SecretScanning::builder()
        .keys_url(keys_url)
        .on_leak(|leak: LeakedKey| async move {
            // A real service would page the key's owner here. The key itself is never at hand.
            tracing::warn!(
                key_id = leak.key_id,
                name = ?leak.name,
                owner = ?leak.owner,
                url = ?leak.url,
                "a key was found in public and has been revoked; tell its owner"
            );
        })
        .build();
    gate.secret_scanning(scanning)
}
