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
    /// The keys document was read for this lookup, and it has no key with this identifier.
    Unknown,
    /// The document read less than the refetch interval ago has no key with this identifier,
    /// and it may not be read again yet: GitHub may have published the key since (a rotation),
    /// so the report is asked for again later rather than called unknown.
    NotYet,
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
                KeyLookupError::NotYet
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::get;
    use p256::ecdsa::SigningKey;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    use super::*;

    fn public_pem() -> String {
        let key = loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).unwrap();
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                break key;
            }
        };
        key.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    /// A keys endpoint whose document the test can change, counting its requests.
    async fn keys_endpoint(
        document: Arc<std::sync::Mutex<serde_json::Value>>,
        hits: Arc<AtomicUsize>,
    ) -> String {
        let app = axum::Router::new().route(
            "/keys",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                let document = document.lock().unwrap().clone();
                async move { axum::Json(document) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/keys")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_key_is_picked_up_after_the_interval_and_a_retired_one_dropped() {
        let interval = Duration::from_millis(200);
        let document = Arc::new(std::sync::Mutex::new(serde_json::json!({"public_keys": [
            {"key_identifier": "a", "key": public_pem(), "is_current": true},
            {"key_identifier": "broken", "key": "not a PEM key", "is_current": false},
        ]})));
        let hits = Arc::new(AtomicUsize::new(0));
        let url = keys_endpoint(document.clone(), hits.clone()).await;
        let keys = SigningKeys::new(url, interval, Duration::from_secs(5));

        assert!(keys.get("a").await.is_ok(), "fetched on first use");
        assert!(keys.get("a").await.is_ok(), "then cached");
        // Unreadable, so not held; and the document was just read, so not read again.
        assert!(matches!(
            keys.get("broken").await,
            Err(KeyLookupError::NotYet)
        ));
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "an unreadable entry is skipped"
        );

        // GitHub rotates: "b" replaces "a".
        *document.lock().unwrap() = serde_json::json!({"public_keys": [
            {"key_identifier": "b", "key": public_pem(), "is_current": true},
        ]});
        assert!(
            matches!(keys.get("b").await, Err(KeyLookupError::NotYet)),
            "not called unknown: it may be new"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 1, "not within the interval");
        tokio::time::sleep(interval).await;
        assert!(
            keys.get("b").await.is_ok(),
            "fetched again after the interval"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert!(
            matches!(keys.get("a").await, Err(KeyLookupError::NotYet)),
            "a retired key no longer verifies"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_unknown_identifiers_cause_one_fetch() {
        let document = Arc::new(std::sync::Mutex::new(
            serde_json::json!({"public_keys": []}),
        ));
        let hits = Arc::new(AtomicUsize::new(0));
        let url = keys_endpoint(document, hits.clone()).await;
        let keys = Arc::new(SigningKeys::new(
            url,
            Duration::from_secs(60),
            Duration::from_secs(5),
        ));
        let lookups: Vec<_> = (0..20)
            .map(|i| {
                let keys = keys.clone();
                tokio::spawn(async move { keys.get(&format!("forged-{i}")).await })
            })
            .collect();
        let (mut unknown, mut not_yet) = (0, 0);
        for lookup in lookups {
            match lookup.await.unwrap() {
                Err(KeyLookupError::Unknown) => unknown += 1,
                Err(KeyLookupError::NotYet) => not_yet += 1,
                other => panic!("{other:?}"),
            }
        }
        // The one that fetched knows the identifier is unknown; the others, refused the fetch,
        // are asked to come back later.
        assert_eq!((unknown, not_yet), (1, 19));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }
}
