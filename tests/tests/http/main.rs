//! End-to-end tests of the HTTP contract, over a real TCP socket.

#[path = "../sql_support/mod.rs"]
mod sql_support;

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use keygate::{ApiKey, KeyGate, MemoryStore, NewKey, require_api_key};
use keygate_example::{AppState, Items, app};
use reqwest::StatusCode;
use serde_json::Value;
use sql_support::Probe;

/// Everything any test logged, to prove no secret reaches a log line.
fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured_logs().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every secret a test minted, checked against the logs at the end of each test.
fn minted() -> &'static Mutex<HashSet<String>> {
    static KEYS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashSet::new()))
}

fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .init();
    });
}

struct Service {
    base: String,
    client: reqwest::Client,
    gate: KeyGate,
}

impl Service {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn mint(&self, scopes: &[&str]) -> String {
        let key = self.gate.mint_test_key(scopes.iter().copied()).await;
        minted().lock().unwrap().insert(key.clone());
        key
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// `POST /items` with `key` and a JSON body naming the new item.
    async fn post_item(&self, key: &str, name: &str) -> reqwest::Response {
        self.client
            .post(self.url("/items"))
            .header("x-api-key", key)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap()
    }
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn example_with(gate: KeyGate) -> Service {
    init_logging();
    let state = AppState {
        gate: gate.clone(),
        items: Items::with(&["apple", "banana"]),
    };
    Service {
        base: serve(app(state)).await,
        client: reqwest::Client::new(),
        gate,
    }
}

async fn example() -> Service {
    example_with(KeyGate::builder().prefix("demo").build()).await
}

/// Reads a rejection, asserting what every rejection must carry, and that it does not echo
/// `presented`.
async fn problem(response: reqwest::Response, status: StatusCode, presented: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let challenges: Vec<String> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(
            challenges,
            [
                r#"ApiKey realm="api", header="x-api-key""#,
                r#"Bearer realm="api""#
            ]
        );
    }
    let body = response.text().await.unwrap();
    if !presented.is_empty() {
        assert!(!body.contains(presented), "the key was echoed: {body}");
    }
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], status.as_u16());
    for field in ["type", "title", "detail", "code"] {
        assert!(problem[field].is_string(), "{field} missing in {problem}");
    }
    problem
}

fn assert_no_secret_logged() {
    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    for key in minted().lock().unwrap().iter() {
        let secret = &key[key.len() - 49..key.len() - 6];
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test]
async fn valid_key_is_admitted_through_every_header_variant() {
    let svc = example().await;
    let key = svc.mint(&["items:read"]).await;
    let bearer = format!("Bearer {key}");
    let lower_bearer = format!("bEaReR   {key}");
    for (name, value) in [
        ("X-API-Key", key.as_str()),
        ("x-api-key", key.as_str()),
        ("X-API-KEY", key.as_str()),
        ("Authorization", bearer.as_str()),
        ("authorization", lower_bearer.as_str()),
    ] {
        let response = svc.get("/items", &[(name, value)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}: {value}");
        let items: Value = response.json().await.unwrap();
        assert_eq!(items[0]["name"], "apple");
    }
    // The same key in both places is one key, not two.
    let both = svc
        .get("/items", &[("x-api-key", &key), ("authorization", &bearer)])
        .await;
    assert_eq!(both.status(), StatusCode::OK);
    assert_no_secret_logged();
}

#[tokio::test]
async fn missing_and_empty_keys_are_401_missing_api_key() {
    let svc = example().await;
    for headers in [
        &[][..],
        &[("x-api-key", "")][..],
        &[("authorization", "Bearer ")][..],
        &[("authorization", "Basic dXNlcjpwYXNz")][..],
    ] {
        let response = svc.get("/items", headers).await;
        let p = problem(response, StatusCode::UNAUTHORIZED, "").await;
        assert_eq!(p["code"], "missing_api_key", "{headers:?}");
    }
}

#[tokio::test]
async fn bad_keys_are_401_invalid_api_key_and_never_echoed() {
    let svc = example().await;
    let key = svc.mint(&["items:read"]).await;
    // Same id, different secret with a valid checksum: only the hash comparison can reject it.
    let other_gate = KeyGate::builder().prefix("demo").build();
    let other = other_gate.mint_test_key(["items:read"]).await;
    let id_len = "demo_".len() + 12;
    let forged_body = format!("{}{}", &key[..id_len], &other[id_len..other.len() - 6]);
    let forged = format!("{forged_body}{}", checksum(&forged_body));
    let mut typo = key.clone().into_bytes();
    typo[30] = if typo[30] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    let cases = [
        ("malformed", "not-a-key".to_owned()),
        ("random", "demo_abc".to_owned()),
        ("bad checksum", typo),
        ("wrong prefix", key.replacen("demo_", "prod_", 1)),
        ("unknown id", other.clone()),
        ("wrong secret", forged),
        ("non-ascii", "démo_key".to_owned()),
    ];
    for (what, presented) in cases {
        let response = svc
            .client
            .get(svc.url("/items"))
            .header("x-api-key", presented.as_bytes())
            .send()
            .await
            .unwrap();
        let p = problem(response, StatusCode::UNAUTHORIZED, &presented).await;
        assert_eq!(p["code"], "invalid_api_key", "{what}");
    }
    assert_no_secret_logged();
}

/// CRC32 in six base62 digits, as the key format defines it (independently re-implemented).
fn checksum(body: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc: u32 = 0xFFFF_FFFF;
    for byte in body.bytes() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut crc = !crc;
    let mut out = [b'0'; 6];
    for digit in out.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

#[tokio::test]
async fn expired_and_revoked_keys_are_named_only_when_the_secret_matched() {
    let svc = example().await;
    let expired = svc
        .gate
        .create_key(
            NewKey::new("short")
                .scopes(["items:read"])
                .expires_in(Duration::from_millis(1)),
        )
        .await
        .unwrap();
    minted()
        .lock()
        .unwrap()
        .insert(expired.key.expose().to_owned());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let response = svc
        .get("/items", &[("x-api-key", expired.key.expose())])
        .await;
    let p = problem(response, StatusCode::UNAUTHORIZED, expired.key.expose()).await;
    assert_eq!(p["code"], "expired_api_key");

    let revoked = svc.mint(&["items:read"]).await;
    let key_id = &revoked["demo_".len().."demo_".len() + 12];
    assert_eq!(
        svc.get("/items", &[("x-api-key", &revoked)]).await.status(),
        200
    );
    svc.gate.revoke_key(key_id).await.unwrap();
    let response = svc.get("/items", &[("x-api-key", &revoked)]).await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &revoked).await;
    assert_eq!(p["code"], "revoked_api_key");

    // A wrong secret for the revoked id says nothing about revocation.
    let mut wrong = revoked.clone().into_bytes();
    let at = "demo_".len() + 13;
    wrong[at] = if wrong[at] == b'x' { b'y' } else { b'x' };
    let body = String::from_utf8(wrong).unwrap();
    let wrong = format!(
        "{}{}",
        &body[..body.len() - 6],
        checksum(&body[..body.len() - 6])
    );
    let response = svc.get("/items", &[("x-api-key", &wrong)]).await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &wrong).await;
    assert_eq!(p["code"], "invalid_api_key");
    assert_no_secret_logged();
}

#[tokio::test]
async fn two_different_keys_are_401_ambiguous() {
    let svc = example().await;
    let a = svc.mint(&["items:read"]).await;
    let b = svc.mint(&["items:read"]).await;
    let bearer = format!("Bearer {b}");
    let response = svc
        .get("/items", &[("x-api-key", &a), ("authorization", &bearer)])
        .await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &a).await;
    assert_eq!(p["code"], "ambiguous_api_key");
    let response = svc
        .get("/items", &[("x-api-key", &a), ("x-api-key", &b)])
        .await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &b).await;
    assert_eq!(p["code"], "ambiguous_api_key");
}

#[tokio::test]
async fn scopes_are_enforced_with_403_naming_them() {
    let svc = example().await;
    let read = svc.mint(&["items:read"]).await;
    let admin = svc.mint(&["admin", "items:*"]).await;
    let response = svc.post_item(&read, "pear").await;
    let p = problem(response, StatusCode::FORBIDDEN, &read).await;
    assert_eq!(p["code"], "insufficient_scope");
    assert_eq!(p["required_scopes"], serde_json::json!(["items:write"]));
    assert!(p["detail"].as_str().unwrap().contains("items:write"));

    // `items:*` covers `items:write`.
    let response = svc.post_item(&admin, "pear").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["name"], "pear");

    let delete = |id: &str, key: &str| {
        svc.client
            .delete(svc.url(&format!("/items/{id}")))
            .header("x-api-key", key)
            .send()
    };
    assert_eq!(
        delete("1", &admin).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete("1", &admin).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let p = problem(
        delete("2", &read).await.unwrap(),
        StatusCode::FORBIDDEN,
        &read,
    )
    .await;
    assert_eq!(p["required_scopes"], serde_json::json!(["admin"]));
}

#[tokio::test]
async fn authentication_runs_before_the_body_is_read() {
    let svc = example().await;
    let response = svc
        .client
        .post(svc.url("/items"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let p = problem(response, StatusCode::UNAUTHORIZED, "").await;
    assert_eq!(p["code"], "missing_api_key");
    // With a key, the body is the next problem.
    let write = svc.mint(&["items:write"]).await;
    let response = svc
        .client
        .post(svc.url("/items"))
        .header("x-api-key", &write)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn query_string_is_ignored_while_that_source_is_off() {
    let svc = example().await;
    let key = svc.mint(&["items:read"]).await;
    let response = svc.get(&format!("/items?api_key={key}"), &[]).await;
    let p = problem(response, StatusCode::UNAUTHORIZED, &key).await;
    assert_eq!(p["code"], "missing_api_key");
}

#[tokio::test]
async fn query_and_cookie_sources_work_when_enabled() {
    init_logging();
    let gate = KeyGate::builder()
        .prefix("demo")
        .query_param("api_key")
        .cookie("session_key")
        .bearer(false)
        .build();
    let svc = example_with(gate).await;
    let key = svc.mint(&["items:read"]).await;
    assert_eq!(
        svc.get(&format!("/items?api_key={key}"), &[])
            .await
            .status(),
        200
    );
    let cookie = format!("theme=dark; session_key={key}");
    assert_eq!(
        svc.get("/items", &[("cookie", &cookie)]).await.status(),
        200
    );
    // Bearer is off: a bearer token is no key at all.
    let bearer = format!("Bearer {key}");
    let response = svc.get("/items", &[("authorization", &bearer)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .collect();
    assert_eq!(
        challenges.len(),
        3,
        "header, query and cookie: {challenges:?}"
    );
}

#[tokio::test]
async fn unknown_routes_are_404_not_401_and_health_is_public() {
    let svc = example().await;
    assert_eq!(svc.get("/nope", &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        svc.get("/nope", &[("x-api-key", "garbage")]).await.status(),
        StatusCode::NOT_FOUND
    );
    let health = svc.get("/health", &[]).await;
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn whoami_returns_identity_never_the_secret() {
    let svc = example().await;
    let key = svc.mint(&["items:read"]).await;
    let response = svc
        .get("/whoami", &[("authorization", &format!("Bearer {key}"))])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    assert!(!body.contains(&key[key.len() - 49..key.len() - 6]));
    let who: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(who["key_id"], &key["demo_".len().."demo_".len() + 12]);
    assert_eq!(who["scopes"], serde_json::json!(["items:read"]));
}

#[tokio::test]
async fn a_failing_store_is_503_never_200_and_service_resumes() {
    let store = Probe::new(MemoryStore::new());
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    let svc = example_with(gate).await;
    let key = svc.mint(&["items:read"]).await;
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
    store.set_failing(true);
    let response = svc.get("/items", &[("x-api-key", &key)]).await;
    let p = problem(response, StatusCode::SERVICE_UNAVAILABLE, &key).await;
    assert_eq!(p["code"], "key_store_unavailable");
    // A malformed key is still answered without the store.
    let before = store.fetches();
    let response = svc.get("/items", &[("x-api-key", "demo_garbage")]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(store.fetches(), before, "no store call for a malformed key");
    store.set_failing(false);
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
}

#[require_api_key(scopes = "items:read")]
async fn layered_items(key: ApiKey) -> String {
    key.name().to_owned()
}

async fn layered_open(key: ApiKey) -> String {
    key.name().to_owned()
}

#[tokio::test]
async fn route_layer_protects_every_route_and_the_attribute_reuses_its_identity() {
    init_logging();
    let store = Probe::new(MemoryStore::new());
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    let router = Router::new()
        .route("/items", get(layered_items))
        .route("/open", get(layered_open))
        .route_layer(gate.route_layer())
        .with_state(gate.clone());
    let base = serve(router).await;
    let client = reqwest::Client::new();
    let read = gate.mint_test_key(["items:read"]).await;
    let none = gate.mint_test_key(Vec::<String>::new()).await;

    let response = client.get(format!("{base}/open")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "route_layer keeps 404s"
    );

    let before = store.fetches();
    let response = client
        .get(format!("{base}/items"))
        .header("x-api-key", &read)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        store.fetches() - before,
        1,
        "layer, guard and ApiKey share one verification"
    );
    let response = client
        .get(format!("{base}/items"))
        .header("x-api-key", &none)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = client
        .get(format!("{base}/open"))
        .header("x-api-key", &none)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn greet(key: Option<ApiKey>) -> String {
    match key {
        Some(key) => format!("hello {}", key.name()),
        None => "hello stranger".to_owned(),
    }
}

#[tokio::test]
async fn optional_api_key_is_none_without_a_key_and_401_with_a_bad_one() {
    init_logging();
    let gate = KeyGate::builder().prefix("demo").build();
    let base = serve(
        Router::new()
            .route("/greet", get(greet))
            .with_state(gate.clone()),
    )
    .await;
    let client = reqwest::Client::new();
    let key = gate.mint_test_key(["x"]).await;
    let text = |r: reqwest::Response| async move { (r.status(), r.text().await.unwrap()) };
    let anonymous = client.get(format!("{base}/greet")).send().await.unwrap();
    assert_eq!(
        text(anonymous).await,
        (StatusCode::OK, "hello stranger".to_owned())
    );
    let known = client
        .get(format!("{base}/greet"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(text(known).await, (StatusCode::OK, "hello test".to_owned()));
    let bad = client
        .get(format!("{base}/greet"))
        .header("x-api-key", "demo_nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_rendering_hook_changes_the_body_not_the_decision() {
    init_logging();
    let gate = KeyGate::builder()
        .prefix("demo")
        .header("X-Token")
        .render_rejection(|rejection| {
            // A hook that tries to answer 200 still cannot admit the request.
            (
                axum::http::StatusCode::OK,
                Json(serde_json::json!({ "detail": rejection.kind().detail() })),
            )
                .into_response()
        })
        .build();
    let svc = example_with(gate).await;
    let response = svc.get("/items", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"ApiKey realm="api", header="x-token""#
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"detail": "This endpoint requires an API key."})
    );
    let key = svc.mint(&["items:read"]).await;
    assert_eq!(svc.get("/items", &[("X-Token", &key)]).await.status(), 200);
    assert_eq!(
        svc.get("/items", &[("X-API-Key", &key)]).await.status(),
        StatusCode::UNAUTHORIZED,
        "only the configured header is read"
    );
}

#[tokio::test]
async fn last_used_is_recorded_in_batches() {
    let svc = example().await;
    let key = svc.mint(&["items:read"]).await;
    let key_id = &key["demo_".len().."demo_".len() + 12];
    assert!(
        svc.gate
            .get_key(key_id)
            .await
            .unwrap()
            .last_used_at
            .is_none()
    );
    assert_eq!(
        svc.get("/items", &[("x-api-key", &key)]).await.status(),
        200
    );
    assert!(
        svc.gate
            .get_key(key_id)
            .await
            .unwrap()
            .last_used_at
            .is_none(),
        "no store write per request"
    );
    svc.gate.flush_usage().await.unwrap();
    assert!(
        svc.gate
            .get_key(key_id)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );
}

#[tokio::test]
async fn no_log_line_or_debug_output_contains_a_secret() {
    let svc = example().await;
    let created = svc
        .gate
        .create_key(NewKey::new("debugged").scopes(["items:read"]))
        .await
        .unwrap();
    let key = created.key.expose().to_owned();
    minted().lock().unwrap().insert(key.clone());
    let secret = &key[key.len() - 49..key.len() - 6];
    for printed in [
        format!("{created:?}"),
        format!("{:?}", created.key),
        format!("{:?}", created.record),
        format!("{:?}", svc.gate.verify(&key).await.unwrap()),
        format!("{:?}", svc.gate),
    ] {
        assert!(
            !printed.contains(secret),
            "Debug leaked the secret: {printed}"
        );
        assert!(
            !printed.contains(&created.record.hash.digest_hex()),
            "Debug leaked the hash"
        );
    }
    for path in ["/items", "/whoami", "/nope"] {
        let _ = svc.get(path, &[("x-api-key", &key)]).await;
    }
    // The decision events are there, with the public key id and the route.
    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    let key_id = &created.record.key_id;
    assert!(
        logs.lines().any(|l| l.contains(key_id.as_str())
            && l.contains("outcome=\"admitted\"")
            && l.contains("route=\"/whoami\"")),
        "no decision event for {key_id}"
    );
    assert_no_secret_logged();
}
