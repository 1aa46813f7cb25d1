//! GitHub's signing keys: fetched from the keys URL, kept in memory, fetched again when a report
//! names a key the cache does not hold, at most once per interval.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The largest keys document read, in bytes. GitHub's holds a handful of PEM keys.
const MAX_KEYS_DOCUMENT: usize = 256 * 1024;

/// Why no key could be found for an identifier.
#[derive(Debug)]
pub(super) enum KeyLookupError {
    /// The keys document was read, and it has no key with this identifier.
    Unknown,
    /// The keys document could not be read (unreachable, an error status, unreadable).
    Unavailable(String),
}

/// When the keys were last fetched, and whether that worked.
#[derive(Debug, Clone, Copy)]
struct LastFetch {
    at: Instant,
    ok: bool,
}

/// The keys document: `{"public_keys": [{"key_identifier", "key", "is_current"}]}`.
#[derive(Deserialize)]
struct KeysDocument {
    public_keys: Vec<PublicKeyEntry>,
}

#[derive(Deserialize)]
struct PublicKeyEntry {
    key_identifier: String,
    key: String,
}

/// The cache of signing keys for one endpoint.
pub(super) struct SigningKeys {
    url: String,
    client: Result<reqwest::Client, String>,
    refetch_interval: Duration,
    known: RwLock<HashMap<String, VerifyingKey>>,
    /// Held while fetching, so concurrent reports naming unknown keys cause one fetch.
    last_fetch: Mutex<Option<LastFetch>>,
}

impl SigningKeys {
    pub(super) fn new(url: String, refetch_interval: Duration, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("keygate/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string());
        SigningKeys {
            url,
            client,
            refetch_interval,
            known: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    fn cached(&self, identifier: &str) -> Option<VerifyingKey> {
        self.known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(identifier)
            .copied()
    }

    /// The key named `identifier`: from the cache, or from a fresh fetch when the last one is at
    /// least the refetch interval old. A forger sending made-up identifiers causes at most one
    /// fetch per interval.
    pub(super) async fn get(&self, identifier: &str) -> Result<VerifyingKey, KeyLookupError> {
        if let Some(key) = self.cached(identifier) {
            return Ok(key);
        }
        let mut last = self.last_fetch.lock().await;
        // Another report may have fetched while this one waited for the lock.
        if let Some(key) = self.cached(identifier) {
            return Ok(key);
        }
        if let Some(last) = *last
            && last.at.elapsed() < self.refetch_interval
        {
            return Err(if last.ok {
                KeyLookupError::Unknown
            } else {
                KeyLookupError::Unavailable("the last fetch of the keys failed".to_owned())
            });
        }
        let fetched = self.fetch().await;
        *last = Some(LastFetch {
            at: Instant::now(),
            ok: fetched.is_ok(),
        });
        let fetched = fetched.map_err(KeyLookupError::Unavailable)?;
        let key = fetched.get(identifier).copied();
        // The document is the whole truth: a key GitHub retired stops verifying.
        *self.known.write().unwrap_or_else(PoisonError::into_inner) = fetched;
        key.ok_or(KeyLookupError::Unknown)
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let mut response = client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("the keys URL answered {}", response.status()));
        }
        let mut document = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if document.len() + chunk.len() > MAX_KEYS_DOCUMENT {
                return Err(format!(
                    "the keys document is over {MAX_KEYS_DOCUMENT} bytes"
                ));
            }
            document.extend_from_slice(&chunk);
        }
        let document: KeysDocument = serde_json::from_slice(&document)
            .map_err(|e| format!("the keys document is not readable: {e}"))?;
        let mut keys = HashMap::with_capacity(document.public_keys.len());
        for entry in document.public_keys {
            match VerifyingKey::from_public_key_pem(entry.key.trim()) {
                Ok(key) => {
                    keys.insert(entry.key_identifier, key);
                }
                Err(error) => tracing::warn!(
                    target: "keygate",
                    key_identifier = ?entry.key_identifier,
                    %error,
                    "skipped a secret scanning signing key that is not a P-256 public key"
                ),
            }
        }
        Ok(keys)
    }
}
