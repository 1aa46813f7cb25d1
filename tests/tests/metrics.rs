//! `GET /metrics` of the example service over real HTTP: scraped with a `metrics:read` key after
//! admitted and refused requests, its Prometheus text parsed line by line, and the counters
//! checked to have moved by exactly what was sent. One test in this binary: the recorder is
//! process-wide.

#[path = "sql_support/mod.rs"]
mod sql_support;

use std::collections::BTreeMap;

use keygate::{CachedStore, KeyGate, SqlStore};
use keygate_example::{AppState, DECLARED_SCOPES, Items, app, mint_demo_keys};
use reqwest::{Method, StatusCode};
use sql_support::{TempDb, unknown_key};

/// `name{label="value",…}` (labels sorted) → value, from the Prometheus text format.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let series = match series.split_once('{') {
            Some((name, labels)) => {
                let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                labels.sort_unstable();
                format!("{name}{{{}}}", labels.join(","))
            }
            None => series.to_owned(),
        };
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        samples.insert(series, value);
    }
    samples
}

#[tokio::test]
async fn metrics_count_decisions_and_are_only_for_metrics_read() {
    let db = TempDb::new("metrics");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let cached = std::sync::Arc::new(CachedStore::new(store));
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(cached.clone())
        .declared_scopes(DECLARED_SCOPES)
        .build();
    let keys = mint_demo_keys(&gate).await.unwrap();
    // The cache keeps nothing until its change feed listens, and forgets each new key when the
    // feed announces its creation (within a poll or two): counted hits begin after both.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !cached.follows_changes() {
        assert!(
            std::time::Instant::now() < deadline,
            "the feed never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState {
        gate,
        items: Items::with(&["apple"]),
    };
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let client = reqwest::Client::new();
    let send = |method: Method, path: &str, key: Option<&str>| {
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        async move { request.send().await.unwrap() }
    };
    let scrape = || async {
        let response = send(Method::GET, "/metrics", Some(&keys.metrics)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.unwrap();
        for key in [
            &keys.read,
            &keys.write,
            &keys.admin,
            &keys.limited,
            &keys.metrics,
        ] {
            assert!(
                !text.contains(&key[key.len() - 20..]),
                "no secret in the metrics"
            );
        }
        (parse(&text), text)
    };

    let (before, _) = scrape().await;
    for _ in 0..3 {
        assert_eq!(
            send(Method::GET, "/items", Some(&keys.read)).await.status(),
            200
        );
    }
    for _ in 0..2 {
        let refused = send(Method::DELETE, "/items/1", Some(&keys.read)).await;
        assert_eq!(refused.status(), 403);
    }
    let made_up = unknown_key("demo").await;
    assert_eq!(
        send(Method::GET, "/items", Some(&made_up)).await.status(),
        401
    );
    let (after, text) = scrape().await;

    let moved = |series: &str| {
        after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
    };
    // Three reads and the second scrape itself.
    assert_eq!(
        moved(r#"keygate_decisions_total{code="ok",outcome="admitted"}"#),
        4.0,
        "{text}"
    );
    assert_eq!(
        moved(r#"keygate_decisions_total{code="insufficient_scope",outcome="refused"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        moved(r#"keygate_decisions_total{code="invalid_api_key",outcome="refused"}"#),
        1.0,
        "{text}"
    );
    // Every presented key was verified once: 3 + 2 + 1 + the scrape.
    assert_eq!(moved("keygate_verification_seconds_count"), 7.0, "{text}");
    assert!(
        text.contains("# TYPE keygate_verification_seconds histogram"),
        "{text}"
    );
    assert!(
        after.contains_key(r#"keygate_verification_seconds_bucket{le="0.001"}"#),
        "{text}"
    );
    assert!(
        moved(r#"keygate_cache_lookups_total{result="hit"}"#) >= 5.0,
        "{text}"
    );
    assert!(after.contains_key("keygate_cache_entries"), "{text}");

    // Only for `metrics:read`.
    let no_scope = send(Method::GET, "/metrics", Some(&keys.admin)).await;
    assert_eq!(no_scope.status(), 403);
    let body: serde_json::Value = no_scope.json().await.unwrap();
    assert_eq!(body["code"], "insufficient_scope");
    let no_key = send(Method::GET, "/metrics", None).await;
    assert_eq!(no_key.status(), 401);
    let body: serde_json::Value = no_key.json().await.unwrap();
    assert_eq!(body["code"], "missing_api_key");
}
