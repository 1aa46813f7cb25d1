//! The secret scanning endpoint, end to end over real sockets: a local "GitHub" serves a P-256 key
//! generated for the run, reports are signed with it, and the endpoint revokes what they report.
//! Every refusal revokes nothing; no response and no log line ever holds a token. On SQLite, and
//! on PostgreSQL when `KEYGATE_TEST_POSTGRES_URL` is set.

mod sql_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use keygate::leaks::{LeakedKey, MAX_BODY_BYTES, MAX_TOKENS, SecretScanning};
use keygate::record::RevocationReason;
use keygate::{ApiKey, CachedStore, KeyGate, NewKey, SqlStore, require_api_key};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sql_support::{CapturedLogs, PgSchema, TempDb, unknown_key};
use tokio::sync::mpsc;

const PREFIX: &str = "lk_live";
const TOKEN_TYPE: &str = "lk_live_api_key";
const IDENTIFIER: &str = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
const LEAK_URL: &str = "https://github.com/octo-org/app/blob/5a1c2d/.env";

fn random_signing_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// A stand-in for GitHub's keys endpoint: serves the published keys and counts its requests.
struct Github {
    signing: SigningKey,
    url: String,
    hits: Arc<AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Github {
    async fn start() -> Github {
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

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Base64 of the DER signature of `body`, as GitHub sends it.
    fn sign(&self, body: &[u8]) -> String {
        let signature: Signature = self.signing.sign(body);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der())
    }
}

async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[require_api_key]
async fn whoami(key: ApiKey) -> String {
    key.key_id().to_owned()
}

/// A service with the endpoint mounted, its keys in `store`, and its hook feeding `leaks`.
struct Service {
    gate: KeyGate,
    base: String,
    leaks: mpsc::UnboundedReceiver<LeakedKey>,
    http: reqwest::Client,
    logs: CapturedLogs,
}

impl Service {
    async fn start(store: SqlStore, keys_url: &str) -> Service {
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

    async fn key(&self, name: &str) -> (String, String) {
        let created = self
            .gate
            .create_key(NewKey::new(name).owner(format!("team-{name}")))
            .await
            .unwrap();
        (created.key.expose().to_owned(), created.record.key_id)
    }

    /// Posts `body` with the given identifier and signature headers; status and parsed body.
    async fn post(
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
    async fn report(&self, github: &Github, body: Vec<u8>) -> (u16, String, Value) {
        let signature = github.sign(&body);
        self.post(body, Some(IDENTIFIER), Some(&signature)).await
    }

    /// Asserts a problem document with `status` and `code`.
    async fn assert_refused(&self, got: (u16, String, Value), status: u16, code: &str) {
        let (got_status, content_type, body) = got;
        assert_eq!(got_status, status, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status);
    }

    /// Asserts none of `key_ids` is revoked and the hook heard of nothing.
    async fn assert_nothing_revoked(&mut self, key_ids: &[&str]) {
        for id in key_ids {
            let record = self.gate.get_key(id).await.unwrap();
            assert_eq!(record.revoked_at, None, "{id} was revoked");
            assert_eq!(record.revocation, None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(self.leaks.try_recv().is_err(), "the hook was called");
    }

    /// Asserts no log line and no response so far held any of `tokens` or their secrets.
    fn assert_never_logged(&self, tokens: &[&str]) {
        for token in tokens {
            let secret = &token[token.len() - 49..];
            assert!(
                self.logs.lines_with(secret).is_empty(),
                "a token was logged"
            );
        }
    }
}

fn report(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let list: Vec<Value> = entries
        .iter()
        .map(|(token, url)| json!({"token": token, "type": TOKEN_TYPE, "url": url, "source": "content"}))
        .collect();
    serde_json::to_vec(&list).unwrap()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `key` with the same prefix and id and another secret, with a checksum that is right for it:
/// a well-formed key whose secret does not match.
fn same_id_other_secret(key: &str) -> String {
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

async fn sqlite_store(db: &TempDb) -> SqlStore {
    SqlStore::connect(&db.url()).await.unwrap()
}

/// Runs `scenario` on SQLite, and on PostgreSQL when a server is configured.
macro_rules! on_both {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = super::TempDb::new("leaks");
                let connect = async || super::sqlite_store(&db).await;
                super::$scenario(connect).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(pg) =
                    super::PgSchema::create(concat!("leaks::", stringify!($scenario))).await
                else {
                    return;
                };
                let connect = async || pg.store().await;
                super::$scenario(connect).await;
            }
        }
    };
}

/// A genuine report revokes the key with its reason, tells the hook once, answers with the
/// token's hash and `true_positive`, and the revocation reaches another instance whose cache
/// would keep the key for an hour. The refused key's log event names the reason.
async fn genuine_report_revokes(connect: impl AsyncFn() -> SqlStore) {
    let github = Github::start().await;
    let mut service = Service::start(connect().await, &github.url).await;
    let other_instance = KeyGate::builder()
        .prefix(PREFIX)
        .store(
            CachedStore::builder(connect().await)
                .ttl(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let (key, key_id) = service.key("deploy").await;
    let (bystander, bystander_id) = service.key("bystander").await;
    // The other instance hears of the new key (its cache knows every id), then caches it active.
    let started = Instant::now();
    while other_instance.verify(&key).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(5), "never admitted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let (status, _, body) = service
        .report(&github, report(&[(&key, Some(LEAK_URL))]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!([{"token_hash": sha256_hex(&key), "token_type": TOKEN_TYPE, "label": "true_positive"}])
    );

    let record = service.gate.get_key(&key_id).await.unwrap();
    assert!(record.revoked_at.is_some());
    let reason = record.revocation.expect("a reason");
    assert_eq!(reason.kind, "leaked");
    assert_eq!(reason.url.as_deref(), Some(LEAK_URL));
    assert_eq!(reason.source.as_deref(), Some("content"));
    let view = serde_json::to_value(keygate::record::KeyView::from(
        &service.gate.get_key(&key_id).await.unwrap(),
    ))
    .unwrap();
    assert_eq!(view["revocation"]["kind"], "leaked");
    assert_eq!(view["revocation"]["url"], LEAK_URL);

    let leak = tokio::time::timeout(Duration::from_secs(5), service.leaks.recv())
        .await
        .expect("the hook is called")
        .unwrap();
    assert_eq!(leak.key_id, key_id);
    assert_eq!(leak.name, "deploy");
    assert_eq!(leak.owner, "team-deploy");
    assert_eq!(leak.url.as_deref(), Some(LEAK_URL));
    assert_eq!(leak.source.as_deref(), Some("content"));
    assert_eq!(leak.token_type, TOKEN_TYPE);
    assert!(!format!("{leak:?}").contains(&key[key.len() - 49..]));

    // The same report again: still a true positive, the first reason stays, no second call.
    let again = report(&[(&key, Some("https://example.com/elsewhere"))]);
    let (status, _, body) = service.report(&github, again).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["label"], "true_positive");
    let record = service.gate.get_key(&key_id).await.unwrap();
    assert_eq!(record.revocation.unwrap().url.as_deref(), Some(LEAK_URL));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        service.leaks.try_recv().is_err(),
        "the hook was called twice"
    );

    // The revocation reaches the other instance, through its cache.
    let started = Instant::now();
    loop {
        match other_instance.verify(&key).await {
            Err(rejection) if rejection.code() == "revoked_api_key" => break,
            _ => assert!(started.elapsed() < Duration::from_secs(5), "never revoked"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(other_instance.verify(&bystander).await.is_ok());
    service.assert_nothing_revoked(&[&bystander_id]).await;

    // Presented over HTTP, the revoked key is refused, and the event says why.
    let response = service
        .http
        .get(format!("{}/whoami", service.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "revoked_api_key");
    let events = service.logs.lines_with(&key_id);
    assert!(
        events
            .iter()
            .any(|line| line.contains("revoked_api_key") && line.contains("revocation=\"leaked\"")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|line| line.contains("WARN") && line.contains("secret scanning found exposed")),
        "{events:#?}"
    );
    service.assert_never_logged(&[&key, &bystander]);
}
on_both!(genuine_report_revokes);

/// One report mixing a live key, a key revoked earlier, the live key again, and tokens that are
/// not keys of this gate: each gets its label, only the live key is revoked, the hook hears once.
async fn a_mixed_batch_gets_the_right_labels(connect: impl AsyncFn() -> SqlStore) {
    let github = Github::start().await;
    let mut service = Service::start(connect().await, &github.url).await;
    let (live, live_id) = service.key("live").await;
    let (revoked, revoked_id) = service.key("old").await;
    let (untouched, untouched_id) = service.key("untouched").await;
    service
        .gate
        .revoke_key_with_reason(&revoked_id, RevocationReason::new("rotated_out"))
        .await
        .unwrap();
    // Expired, but an expiry can be moved: a leaked expired key is revoked too.
    let expired = service
        .gate
        .create_key(NewKey::new("expired").expires_in(Duration::from_millis(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (expired, expired_id) = (expired.key.expose().to_owned(), expired.record.key_id);
    let foreign_prefix = KeyGate::builder()
        .prefix("other_live")
        .build()
        .mint_test_key(["items:read"])
        .await;
    let unknown_id = unknown_key(PREFIX).await;
    let wrong_secret = same_id_other_secret(&untouched);
    let mut bad_checksum = untouched.clone();
    bad_checksum.pop();
    bad_checksum.push(if untouched.ends_with('0') { '1' } else { '0' });
    let tokens = [
        (live.as_str(), "true_positive"),
        (revoked.as_str(), "true_positive"),
        (expired.as_str(), "true_positive"),
        (foreign_prefix.as_str(), "false_positive"),
        (unknown_id.as_str(), "false_positive"),
        (wrong_secret.as_str(), "false_positive"),
        (bad_checksum.as_str(), "false_positive"),
        ("ghp_notakeygatekeyatall", "false_positive"),
        (live.as_str(), "true_positive"),
    ];
    let body = report(&tokens.map(|(token, _)| (token, Some(LEAK_URL))));
    let (status, _, feedback) = service.report(&github, body).await;
    assert_eq!(status, 200, "{feedback}");
    let feedback = feedback.as_array().unwrap();
    assert_eq!(feedback.len(), tokens.len());
    for ((token, label), entry) in tokens.iter().zip(feedback) {
        assert_eq!(entry["label"], *label, "{entry}");
        assert_eq!(entry["token_hash"], sha256_hex(token));
        assert_eq!(entry["token_type"], TOKEN_TYPE);
        assert!(!entry.to_string().contains(token));
    }

    assert_eq!(
        service
            .gate
            .get_key(&live_id)
            .await
            .unwrap()
            .revocation
            .unwrap()
            .kind,
        "leaked"
    );
    assert_eq!(
        service
            .gate
            .get_key(&revoked_id)
            .await
            .unwrap()
            .revocation
            .unwrap()
            .kind,
        "rotated_out",
        "an earlier revocation keeps its reason"
    );
    assert_eq!(
        service
            .gate
            .get_key(&expired_id)
            .await
            .unwrap()
            .revocation
            .unwrap()
            .kind,
        "leaked"
    );
    let mut heard = Vec::new();
    for _ in 0..2 {
        let leak = tokio::time::timeout(Duration::from_secs(5), service.leaks.recv())
            .await
            .unwrap()
            .unwrap();
        heard.push(leak.key_id);
    }
    heard.sort();
    let mut expected = vec![live_id.clone(), expired_id.clone()];
    expected.sort();
    assert_eq!(heard, expected, "once for each key this report revoked");
    service.assert_nothing_revoked(&[&untouched_id]).await;
    service.assert_never_logged(&[&live, &revoked, &untouched, &wrong_secret, &unknown_id]);
}
on_both!(a_mixed_batch_gets_the_right_labels);

/// Every malformed or forged report is refused with its code, and revokes nothing although it
/// names live keys.
async fn forged_and_malformed_reports_revoke_nothing(connect: impl AsyncFn() -> SqlStore) {
    let github = Github::start().await;
    let mut service = Service::start(connect().await, &github.url).await;
    let (key, key_id) = service.key("victim").await;
    let (other, other_id) = service.key("other").await;
    let genuine = report(&[(&key, Some(LEAK_URL))]);
    let signature = github.sign(&genuine);

    // No signature headers at all, or only one of them.
    let got = service.post(genuine.clone(), None, None).await;
    service.assert_refused(got, 400, "missing_signature").await;
    let got = service.post(genuine.clone(), Some(IDENTIFIER), None).await;
    service.assert_refused(got, 400, "missing_signature").await;
    let got = service.post(genuine.clone(), None, Some(&signature)).await;
    service.assert_refused(got, 400, "missing_signature").await;

    // A signature that is not base64, or not DER.
    let got = service
        .post(genuine.clone(), Some(IDENTIFIER), Some("%%%"))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;
    let got = service
        .post(genuine.clone(), Some(IDENTIFIER), Some("bm90IGRlcg=="))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // The body changed after signing: one byte of the URL.
    let mut tampered = genuine.clone();
    let at = tampered.len() - 5;
    tampered[at] ^= 0x01;
    let got = service
        .post(tampered, Some(IDENTIFIER), Some(&signature))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // Signed by another key, under GitHub's identifier.
    let forger = random_signing_key();
    let forged: Signature = forger.sign(&genuine);
    let forged = base64::engine::general_purpose::STANDARD.encode(forged.to_der());
    let got = service
        .post(genuine.clone(), Some(IDENTIFIER), Some(&forged))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // Signed by GitHub's other published key... no: a genuine signature under the other key's
    // identifier does not verify either.
    let got = service
        .post(genuine.clone(), Some("0ld"), Some(&signature))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // A genuine signature replayed on another body.
    let other_body = report(&[(&other, Some(LEAK_URL))]);
    let got = service
        .post(other_body, Some(IDENTIFIER), Some(&signature))
        .await;
    service.assert_refused(got, 403, "invalid_signature").await;

    // Over the size bound, although signed.
    let mut huge = genuine.clone();
    huge.pop();
    huge.extend(std::iter::repeat_n(b' ', MAX_BODY_BYTES));
    huge.push(b']');
    let got = service.report(&github, huge).await;
    service.assert_refused(got, 413, "payload_too_large").await;

    // Over the count bound, although signed.
    let many: Vec<(&str, Option<&str>)> =
        std::iter::repeat_n((key.as_str(), None), MAX_TOKENS + 1).collect();
    let got = service.report(&github, report(&many)).await;
    service.assert_refused(got, 413, "too_many_tokens").await;

    // Signed, but not an array of reported tokens.
    let truncated = genuine[..genuine.len() - 1].to_vec();
    let object = serde_json::to_vec(&json!({"token": key, "type": TOKEN_TYPE})).unwrap();
    let wrong_field = serde_json::to_vec(&json!([{"token": 12, "type": TOKEN_TYPE}])).unwrap();
    let no_type = serde_json::to_vec(&json!([{"token": key}])).unwrap();
    for malformed in [truncated, object, wrong_field, no_type, b"".to_vec()] {
        let got = service.report(&github, malformed).await;
        service.assert_refused(got, 400, "invalid_report").await;
    }

    service.assert_nothing_revoked(&[&key_id, &other_id]).await;
    service.assert_never_logged(&[&key, &other]);
    assert_eq!(github.hits(), 1, "the keys were fetched once and kept");
}
on_both!(forged_and_malformed_reports_revoke_nothing);

/// An identifier the cache does not hold makes the endpoint fetch the keys again, but at most once
/// a minute: a forger cannot make the service hammer GitHub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_identifiers_refetch_at_most_once_a_minute() {
    let db = TempDb::new("leaks-unknown");
    let github = Github::start().await;
    let mut service = Service::start(sqlite_store(&db).await, &github.url).await;
    let (key, key_id) = service.key("victim").await;
    let body = report(&[(&key, None)]);
    let signature = github.sign(&body);

    assert_eq!(
        github.hits(),
        0,
        "nothing is fetched before the first report"
    );
    let got = service
        .post(body.clone(), Some("made-up-1"), Some(&signature))
        .await;
    service
        .assert_refused(got, 403, "unknown_signing_key")
        .await;
    assert_eq!(github.hits(), 1, "an unknown identifier is looked up");
    let got = service
        .post(body.clone(), Some("made-up-2"), Some(&signature))
        .await;
    service
        .assert_refused(got, 403, "unknown_signing_key")
        .await;
    assert_eq!(github.hits(), 1, "a second unknown within a minute is not");
    service.assert_nothing_revoked(&[&key_id]).await;

    // The genuine identifier was in the document fetched: no fetch needed.
    let (status, _, _) = service.report(&github, body).await;
    assert_eq!(status, 200);
    assert_eq!(github.hits(), 1);
    assert!(
        service
            .gate
            .get_key(&key_id)
            .await
            .unwrap()
            .revoked_at
            .is_some()
    );
}

/// When the keys cannot be fetched the report is refused with a 503 (GitHub retries) and nothing
/// is revoked: an unreachable keys URL, and one that answers with an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_keys_refuse_with_503_and_revoke_nothing() {
    let db = TempDb::new("leaks-unreachable");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let github = Github::start().await;
    let mut service = Service::start(
        sqlite_store(&db).await,
        &format!("http://{closed}/meta/public_keys/secret_scanning"),
    )
    .await;
    let (key, key_id) = service.key("victim").await;
    let got = service.report(&github, report(&[(&key, None)])).await;
    service
        .assert_refused(got, 503, "signing_keys_unavailable")
        .await;
    service.assert_nothing_revoked(&[&key_id]).await;

    let db = TempDb::new("leaks-failing");
    github.failing.store(true, Ordering::SeqCst);
    let mut service = Service::start(sqlite_store(&db).await, &github.url).await;
    let (key, key_id) = service.key("victim").await;
    let body = report(&[(&key, None)]);
    let got = service.report(&github, body.clone()).await;
    service
        .assert_refused(got, 503, "signing_keys_unavailable")
        .await;
    // Within the minute, a failed fetch is not retried, and still says 503, not 403.
    github.failing.store(false, Ordering::SeqCst);
    let got = service.report(&github, body).await;
    service
        .assert_refused(got, 503, "signing_keys_unavailable")
        .await;
    assert_eq!(github.hits(), 1);
    service.assert_nothing_revoked(&[&key_id]).await;
    service.assert_never_logged(&[&key]);
}

/// The published pattern matches every key the gate mints, exactly, and none of the near misses;
/// with word boundaries it finds keys in text.
#[tokio::test]
async fn the_key_pattern_matches_keys_exactly() {
    let gate = KeyGate::builder().prefix(PREFIX).build();
    let pattern = gate.key_pattern();
    assert_eq!(pattern, "lk_live_[A-Za-z0-9]{12}_[A-Za-z0-9]{49}");
    let exact = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
    let mut keys = Vec::new();
    for _ in 0..200 {
        keys.push(gate.mint_test_key(["items:read"]).await);
    }
    for key in &keys {
        assert!(exact.is_match(key), "{key}");
    }
    let key = &keys[0];
    let tail = &key[PREFIX.len() + 1..];
    let near_misses = [
        format!("lk_test_{tail}"),
        format!("lk_liv_{tail}"),
        format!("xlk_live_{tail}"),
        format!("{key}0"),
        key[..key.len() - 1].to_owned(),
        format!("{PREFIX}_{}", &tail[1..]),
        format!("{PREFIX}_{}-{}", &tail[..12], &tail[13..]),
        format!("{PREFIX}_{}_{}", &tail[..11], &tail[12..]),
        format!("{PREFIX}_{}_{}", &tail[..13], &tail[14..]),
        key.replace('_', "-"),
        format!("{}é", &key[..key.len() - 1]),
        format!("{}_", &key[..key.len() - 1]),
    ];
    for miss in &near_misses {
        assert!(!exact.is_match(miss), "{miss}");
    }
    let bounded = regex::Regex::new(&format!(r"\b(?:{pattern})\b")).unwrap();
    let text = format!("API_KEY={key}\nother: \"{}\"", keys[1]);
    let found: Vec<&str> = bounded.find_iter(&text).map(|m| m.as_str()).collect();
    assert_eq!(found, [key.as_str(), keys[1].as_str()]);
    assert!(!bounded.is_match(&format!("x{key}")));
}

/// The hook may be slow: the answer does not wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_hook_does_not_hold_the_answer() {
    let db = TempDb::new("leaks-slow");
    let github = Github::start().await;
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(sqlite_store(&db).await)
        .build();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let scanning = SecretScanning::builder()
        .keys_url(&github.url)
        .on_leak(move |leak: LeakedKey| {
            let h = h.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                h.lock().unwrap().push(leak.key_id);
            }
        })
        .build();
    let app: Router = Router::new()
        .route("/leaks", gate.secret_scanning(scanning))
        .with_state(());
    let addr = serve(app).await;
    let created = gate.create_key(NewKey::new("slow")).await.unwrap();
    let body = report(&[(created.key.expose(), None)]);
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/leaks"))
        .header("Github-Public-Key-Identifier", IDENTIFIER)
        .header("Github-Public-Key-Signature", github.sign(&body))
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(heard.lock().unwrap().is_empty());
    assert!(
        gate.get_key(&created.record.key_id)
            .await
            .unwrap()
            .revoked_at
            .is_some()
    );
}

/// The example service's endpoint: a genuine report revokes the key and the hook logs the key id
/// and owner at WARN, never the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_logs_a_leak_at_warn() {
    let logs = CapturedLogs::start();
    let db = TempDb::new("leaks-example");
    let github = Github::start().await;
    let gate = KeyGate::builder()
        .prefix(PREFIX)
        .store(sqlite_store(&db).await)
        .build();
    let app: Router = Router::new().route(
        keygate_example::leaks::PATH,
        keygate_example::leaks::endpoint(&gate, &github.url),
    );
    let addr = serve(app).await;
    let created = gate
        .create_key(NewKey::new("example-leak").owner("team-example"))
        .await
        .unwrap();
    let key = created.key.expose();
    let body = report(&[(key, Some(LEAK_URL))]);
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/security/leaked-keys"))
        .header("Github-Public-Key-Identifier", IDENTIFIER)
        .header("Github-Public-Key-Signature", github.sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    let line = loop {
        let lines = logs.lines_with("tell its owner");
        if let Some(line) = lines.iter().find(|l| l.contains(&created.record.key_id)) {
            break line.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never logged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("team-example"), "{line}");
    assert!(logs.lines_with(&key[key.len() - 49..]).is_empty());
}
