//! Keys only over HTTPS, through the example's own server code: a key over TLS (a certificate
//! made at test time, a real TLS client trusting it) is admitted; the same key over plain HTTP
//! is refused with `403 https_required` before it is looked up, unless a trusted proxy forwarded
//! it as HTTPS; forwarding headers from anyone else are ignored.

#[path = "http/support/key_parts.rs"]
mod key_parts;
mod sql_support;

use std::net::SocketAddr;
use std::path::PathBuf;

use key_parts::KeyParts;
use keygate::KeyGate;
use keygate::https::RequireHttps;
use keygate_example::serve::{serve, tls_config};
use keygate_example::{AppState, DECLARED_SCOPES, DemoKeys, Items, app, mint_demo_keys};
use sql_support::CapturedLogs;

/// A certificate for `localhost`, written to PEM files removed on drop.
struct Certificate {
    cert: PathBuf,
    key: PathBuf,
    pem: String,
}

impl Certificate {
    fn new() -> Certificate {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = std::env::temp_dir();
        let tag = format!(
            "keygate-tls-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        );
        let cert = dir.join(format!("{tag}-cert.pem")).to_path_buf();
        let key = dir.join(format!("{tag}-key.pem"));
        let pem = made.cert.pem();
        std::fs::write(&cert, &pem).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        Certificate { cert, key, pem }
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}

/// The example's router behind a gate with `policy`, served on loopback (over TLS with `tls`).
async fn serve_with(policy: RequireHttps, tls: Option<&Certificate>) -> (SocketAddr, DemoKeys) {
    let gate = KeyGate::builder()
        .prefix("demo")
        .declared_scopes(DECLARED_SCOPES)
        .require_https(policy)
        .build();
    let keys = mint_demo_keys(&gate).await.unwrap();
    let state = AppState {
        gate,
        items: Items::with(&["apple"]),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = tls.map(|cert| tls_config(&cert.cert, &cert.key).unwrap());
    tokio::spawn(serve(listener, app(state), tls, std::future::pending()));
    (addr, keys)
}

/// Status and problem code of `GET /items` with `key` and extra headers.
async fn get_items(
    client: &reqwest::Client,
    base: &str,
    key: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Option<String>) {
    let mut request = client.get(format!("{base}/items"));
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["code"].as_str().map(str::to_owned))
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_key_over_tls_is_admitted() {
    let cert = Certificate::new();
    let (addr, keys) = serve_with(RequireHttps::new(), Some(&cert)).await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());
    assert_eq!(
        get_items(&client, &base, Some(&keys.read), &[]).await,
        (200, None)
    );
    // The TLS listener speaks nothing else: plain HTTP to it gets no answer at all.
    assert!(
        plain_client()
            .get(format!("http://{addr}/items"))
            .header("X-API-Key", &keys.read)
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_key_over_plain_http_is_refused_before_it_is_looked_up() {
    let logs = CapturedLogs::start();
    // Loopback is not exempt: the test client stands for a remote one.
    let (addr, keys) = serve_with(RequireHttps::new(), None).await;
    let base = format!("http://{addr}");
    let client = plain_client();
    assert_eq!(
        get_items(&client, &base, Some(&keys.read), &[]).await,
        (403, Some("https_required".to_owned()))
    );
    // A made-up key gets the same answer: whether a key works is never said over plain HTTP.
    let made_up = KeyParts::of(&keys.read).with_changed_secret();
    assert_eq!(
        get_items(&client, &base, Some(&made_up), &[]).await,
        (403, Some("https_required".to_owned()))
    );
    // No key at all: nothing was exposed, the usual 401.
    assert_eq!(
        get_items(&client, &base, None, &[]).await,
        (401, Some("missing_api_key".to_owned()))
    );
    let warned = logs.lines_with("refused an API key sent without HTTPS");
    assert!(
        warned
            .iter()
            .any(|line| line.contains("WARN") && line.contains("127.0.0.1")),
        "{warned:#?}"
    );
    for line in logs.lines_with("") {
        assert!(
            !line.contains(&keys.read) && !line.contains(&made_up),
            "{line}"
        );
    }
}

#[tokio::test]
async fn forwarded_https_counts_only_from_a_trusted_proxy() {
    let forwarded = [("X-Forwarded-Proto", "https")];
    let client = plain_client();

    // The proxy is trusted: its word decides.
    let (addr, keys) = serve_with(RequireHttps::new().trust_proxy("127.0.0.1"), None).await;
    let base = format!("http://{addr}");
    assert_eq!(
        get_items(&client, &base, Some(&keys.read), &forwarded).await,
        (200, None)
    );
    assert_eq!(
        get_items(
            &client,
            &base,
            Some(&keys.read),
            &[("Forwarded", "for=192.0.2.1;proto=https")]
        )
        .await,
        (200, None)
    );
    assert_eq!(
        get_items(
            &client,
            &base,
            Some(&keys.read),
            &[("X-Forwarded-Proto", "http")]
        )
        .await,
        (403, Some("https_required".to_owned()))
    );
    assert_eq!(
        get_items(&client, &base, Some(&keys.read), &[]).await,
        (403, Some("https_required".to_owned())),
        "a trusted proxy that says nothing did not say HTTPS"
    );

    // Only the load balancers' subnet is trusted: the same header from this peer is forged.
    let (addr, keys) = serve_with(RequireHttps::new().trust_proxy("10.0.0.0/8"), None).await;
    let base = format!("http://{addr}");
    assert_eq!(
        get_items(&client, &base, Some(&keys.read), &forwarded).await,
        (403, Some("https_required".to_owned()))
    );
}

#[tokio::test]
async fn loopback_can_be_exempted_for_local_development() {
    let (addr, keys) = serve_with(RequireHttps::new().exempt_loopback(true), None).await;
    assert_eq!(
        get_items(
            &plain_client(),
            &format!("http://{addr}"),
            Some(&keys.read),
            &[]
        )
        .await,
        (200, None)
    );
}

#[tokio::test]
async fn an_exposed_key_can_be_revoked_on_the_spot() {
    let gate = KeyGate::builder()
        .prefix("demo")
        .declared_scopes(DECLARED_SCOPES)
        .require_https(RequireHttps::new().revoke_exposed_keys(true))
        .build();
    let keys = mint_demo_keys(&gate).await.unwrap();
    let state = AppState {
        gate: gate.clone(),
        items: Items::with(&["apple"]),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, app(state), None, std::future::pending()));
    let client = plain_client();

    // A well-formed key with the read key's public id and another secret: refused, and the
    // real key untouched.
    let made_up = KeyParts::of(&keys.read).with_changed_secret();
    assert_eq!(
        get_items(&client, &base, Some(&made_up), &[]).await,
        (403, Some("https_required".to_owned()))
    );
    assert!(
        gate.verify(&keys.read).await.is_ok(),
        "not revoked by a forgery"
    );

    // The real key over plain HTTP: refused, and revoked.
    assert_eq!(
        get_items(&client, &base, Some(&keys.read), &[]).await,
        (403, Some("https_required".to_owned()))
    );
    assert_eq!(
        gate.verify(&keys.read).await.unwrap_err().code(),
        "revoked_api_key"
    );
    assert!(gate.verify(&keys.write).await.is_ok(), "only that key");

    // A key over its rate limit is as exposed as any other: revoked too.
    while gate.verify(&keys.limited).await.is_ok() {}
    assert_eq!(
        gate.verify(&keys.limited).await.unwrap_err().code(),
        "rate_limited"
    );
    assert_eq!(
        get_items(&client, &base, Some(&keys.limited), &[]).await,
        (403, Some("https_required".to_owned()))
    );
    assert_eq!(
        gate.verify(&keys.limited).await.unwrap_err().code(),
        "revoked_api_key",
        "revoked although it was over its limit"
    );
}
