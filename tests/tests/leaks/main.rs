//! The secret scanning endpoint, end to end over real sockets: a local "GitHub" serves a P-256 key
//! generated for the run, reports are signed with it, and the endpoint revokes what they report.
//! Every refusal revokes nothing; no response and no log line ever holds a token. On SQLite, and
//! on PostgreSQL when `KEYGATE_TEST_POSTGRES_URL` is set.

mod scenarios;
#[path = "../sql_support/mod.rs"]
mod sql_support;
mod support;

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
use support::*;
use tokio::sync::mpsc;

const PREFIX: &str = "lk_live";
const TOKEN_TYPE: &str = "lk_live_api_key";
const IDENTIFIER: &str = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
const LEAK_URL: &str = "https://github.com/octo-org/app/blob/5a1c2d/.env";

/// Runs `scenario` on SQLite, and on PostgreSQL when a server is configured.
macro_rules! on_both {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = super::TempDb::new("leaks");
                let connect = async || super::sqlite_store(&db).await;
                super::scenarios::$scenario(connect).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(keygate_postgres),
                ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
            )]
            async fn postgres() {
                let pg = super::PgSchema::create(concat!("leaks::", stringify!($scenario))).await;
                let connect = async || pg.store().await;
                super::scenarios::$scenario(connect).await;
            }
        }
    };
}

on_both!(genuine_report_revokes);
on_both!(a_mixed_batch_gets_the_right_labels);
on_both!(forged_and_malformed_reports_revoke_nothing);

/// An identifier the cache does not hold makes the endpoint fetch the keys again, but at most once
/// a minute: a forger cannot make the service hammer GitHub. Within that minute an unknown
/// identifier is not called unknown (GitHub may have published it since: a rotation) but asked
/// for again later.
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
        .assert_refused(got, 503, "signing_keys_unavailable")
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
