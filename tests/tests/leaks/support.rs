//! The secret-scanning tests' setting: a GitHub stand-in that signs reports and serves its keys,
//! and a service with the endpoint mounted.

use super::*;

pub fn random_signing_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// A stand-in for GitHub's keys endpoint: serves the published keys and counts its requests.
pub struct Github {
    pub signing: SigningKey,
    pub url: String,
    pub hits: Arc<AtomicUsize>,
    pub failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Github {
    pub async fn start() -> Github {
        let signing = random_signing_key();
        let pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        // A second, unrelated key is published too, as GitHub publishes old and current keys.
        let other = random_signing_key()
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let document = json!({"public_keys": [
            {"key_identifier": "0ld", "key": other, "is_current": false},
            {"key_identifier": IDENTIFIER, "key": pem, "is_current": true},
        ]});
        let hits = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, f) = (hits.clone(), failing.clone());
        let app = Router::new().route(
            "/meta/public_keys/secret_scanning",
            get(move || {
                let (h, f, document) = (h.clone(), f.clone(), document.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    if f.load(Ordering::SeqCst) {
                        Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
                    } else {
                        Ok(Json(document))
                    }
                }
            }),
        );
        let addr = serve(app).await;
        Github {
            signing,
            url: format!("http://{addr}/meta/public_keys/secret_scanning"),
            hits,
            failing,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Base64 of the DER signature of `body`, as GitHub sends it.
    pub fn sign(&self, body: &[u8]) -> String {
        let signature: Signature = self.signing.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der())
    }
}

pub async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[require_api_key]
pub async fn whoami(key: ApiKey) -> String {
    key.key_id().to_owned()
}

/// A service with the endpoint mounted, its keys in `store`, and its hook feeding `leaks`.
pub struct Service {
    pub gate: KeyGate,
    pub base: String,
    pub leaks: mpsc::UnboundedReceiver<LeakedKey>,
    pub http: reqwest::Client,
    pub logs: CapturedLogs,
}

impl Service {
    pub async fn start(store: SqlStore, keys_url: &str) -> Service {
        let logs = CapturedLogs::start();
        let gate = KeyGate::builder().prefix(PREFIX).store(store).build();
        let (tx, leaks) = mpsc::unbounded_channel();
        let scanning = SecretScanning::builder()
            .keys_url(keys_url)
            .on_leak(move |leak: LeakedKey| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(leak);
                }
            })
            .build();
        let app = Router::new()
            .route("/security/leaked-keys", gate.secret_scanning(scanning))
            .route("/whoami", get(whoami))
            .with_state(gate.clone());
        let addr = serve(app).await;
        Service {
            gate,
            base: format!("http://{addr}"),
            leaks,
            http: reqwest::Client::new(),
            logs,
        }
    }

    pub async fn key(&self, name: &str) -> (String, String) {
        let created = self
            .gate
            .create_key(NewKey::new(name).owner(format!("team-{name}")))
            .await
            .unwrap();
        (created.key.expose().to_owned(), created.record.key_id)
    }

    /// Posts `body` with the given identifier and signature headers; status and parsed body.
    pub async fn post(
        &self,
        body: Vec<u8>,
        identifier: Option<&str>,
        signature: Option<&str>,
    ) -> (u16, String, Value) {
        let mut request = self
            .http
            .post(format!("{}/security/leaked-keys", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(identifier) = identifier {
            request = request.header("Github-Public-Key-Identifier", identifier);
        }
        if let Some(signature) = signature {
            request = request.header("Github-Public-Key-Signature", signature);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, content_type, value)
    }

    /// Posts `body` signed by `github`.
    pub async fn report(&self, github: &Github, body: Vec<u8>) -> (u16, String, Value) {
        let signature = github.sign(&body);
        self.post(body, Some(IDENTIFIER), Some(&signature)).await
    }

    /// Asserts a problem document with `status` and `code`.
    pub async fn assert_refused(&self, got: (u16, String, Value), status: u16, code: &str) {
        let (got_status, content_type, body) = got;
        assert_eq!(got_status, status, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status);
    }

    /// Asserts none of `key_ids` is revoked and the hook heard of nothing.
    pub async fn assert_nothing_revoked(&mut self, key_ids: &[&str]) {
        for id in key_ids {
            let record = self.gate.get_key(id).await.unwrap();
            assert_eq!(record.revoked_at, None, "{id} was revoked");
            assert_eq!(record.revocation, None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(self.leaks.try_recv().is_err(), "the hook was called");
    }

    /// Asserts no log line and no response so far held any of `tokens` or their secrets.
    pub fn assert_never_logged(&self, tokens: &[&str]) {
        for token in tokens {
            let secret = &token[token.len() - 49..];
            assert!(
                self.logs.lines_with(secret).is_empty(),
                "a token was logged"
            );
        }
    }
}

pub fn report(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let list: Vec<Value> = entries
        .iter()
        .map(|(token, url)| json!({"token": token, "type": TOKEN_TYPE, "url": url, "source": "content"}))
        .collect();
    serde_json::to_vec(&list).unwrap()
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `key` with the same prefix and id and another secret, with a checksum that is right for it:
/// a well-formed key whose secret does not match.
pub fn same_id_other_secret(key: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body_len = key.len() - 6;
    let mut body = key[..body_len].to_owned().into_bytes();
    let last = body.len() - 1;
    body[last] = if body[last] == b'a' { b'b' } else { b'a' };
    let mut crc = crc32fast::hash(&body);
    let mut checksum = [b'0'; 6];
    for digit in checksum.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    body.extend_from_slice(&checksum);
    String::from_utf8(body).unwrap()
}

pub async fn sqlite_store(db: &TempDb) -> SqlStore {
    SqlStore::connect(&db.url()).await.unwrap()
}
