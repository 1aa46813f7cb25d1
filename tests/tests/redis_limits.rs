//! The Redis rate limiter against a real Redis (`KEYGATE_TEST_REDIS_URL`, such as
//! `redis://127.0.0.1:6379`): exact across instances, the same answers as the in-process limiter,
//! the fail modes when Redis is gone or hangs, and recovery when it returns. Skipped with one line
//! when the variable is unset, failing instead when `KEYGATE_TEST_REQUIRE_SERVICES=1`.

mod sql_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keygate::limit::{FailMode, RateLimit, RateLimiter, RedisLimiter};
use keygate::reject::RejectionKind;
use keygate::{KeyGate, MemoryStore, NewKey};
use sql_support::Probe;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const REDIS_VAR: &str = "KEYGATE_TEST_REDIS_URL";

/// The test Redis, or `None` after one line saying how to enable the test.
fn redis_url(test: &str) -> Option<String> {
    match std::env::var(REDIS_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1"),
                "{test}: {REDIS_VAR} is unset but KEYGATE_TEST_REQUIRE_SERVICES=1"
            );
            eprintln!("{test}: skipped; set {REDIS_VAR}=redis://127.0.0.1:6379 to run it");
            None
        }
    }
}

fn limit(text: &str) -> RateLimit {
    text.parse().unwrap()
}

/// A gate on `store` whose limits live where `limiter` keeps them.
fn gate(store: &Probe<MemoryStore>, limiter: impl Into<RateLimiter>) -> KeyGate {
    KeyGate::builder()
        .prefix("rl")
        .store(store.clone())
        .rate_limiter(limiter)
        .build()
}

/// The `host:port` of a Redis URL such as `redis://127.0.0.1:6379/0`.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split('/').next().unwrap().to_owned()
}

/// A loopback port nothing listens on.
async fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A TCP proxy to Redis that a test can stop (closing every connection, refusing new ones) and
/// start again on the same port: Redis going away and coming back, without touching the server.
struct Proxy {
    port: u16,
    target: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every connection and stops listening.
    fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port.
    async fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_admit_exactly_the_burst() {
    let Some(url) = redis_url("two_instances_sharing_redis_admit_exactly_the_burst") else {
        return;
    };
    let store = Probe::new(MemoryStore::new());
    let a = gate(&store, RedisLimiter::connect(&url).await.unwrap());
    let b = gate(&store, RedisLimiter::connect(&url).await.unwrap());
    let created = a
        .create_key(NewKey::new("shared").rate_limit(limit("10/h")))
        .await
        .unwrap();
    let key = created.key.expose().to_owned();
    let mut calls = Vec::new();
    for i in 0..60 {
        let gate = if i % 2 == 0 { a.clone() } else { b.clone() };
        let key = key.clone();
        calls.push(tokio::spawn(async move { gate.verify(&key).await }));
    }
    let mut admitted = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(rejection) => assert_eq!(rejection.code(), "rate_limited"),
        }
    }
    assert_eq!(admitted, 10, "one budget, shared exactly");
}

/// The codes and `Retry-After` of `n` quick verifications of a fresh key limited to `text`.
async fn pattern(limiter: impl Into<RateLimiter>, text: &str, n: usize) -> Vec<(String, u64)> {
    let store = Probe::new(MemoryStore::new());
    let gate = gate(&store, limiter);
    let created = gate
        .create_key(NewKey::new("k").rate_limit(limit(text)))
        .await
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(match gate.verify(created.key.expose()).await {
            Ok(_) => ("ok".to_owned(), 0),
            Err(rejection) => match rejection.kind() {
                RejectionKind::RateLimited(status) => {
                    ("rate_limited".to_owned(), status.retry_after_seconds())
                }
                other => (other.code().to_owned(), 0),
            },
        });
    }
    out
}

#[tokio::test]
async fn redis_and_in_process_give_the_same_answers() {
    let Some(url) = redis_url("redis_and_in_process_give_the_same_answers") else {
        return;
    };
    for text in ["3/min", "10/s burst 2", "1/h"] {
        let redis = pattern(RedisLimiter::connect(&url).await.unwrap(), text, 5).await;
        let memory = pattern(RateLimiter::in_process(), text, 5).await;
        assert_eq!(redis, memory, "{text}");
    }
    let expected: Vec<(String, u64)> = [("ok", 0), ("ok", 0), ("ok", 0), ("rate_limited", 20)]
        .map(|(code, after)| (code.to_owned(), after))
        .to_vec();
    assert_eq!(pattern(RateLimiter::in_process(), "3/min", 4).await, expected);
}

#[tokio::test]
async fn an_unreachable_redis_fails_open_by_default_and_counts() {
    let url = format!("redis://127.0.0.1:{}", dead_port().await);
    let limiter = RedisLimiter::connect(&url).await.unwrap();
    let store = Probe::new(MemoryStore::new());
    let gate = gate(&store, limiter.clone());
    let created = gate
        .create_key(NewKey::new("k").rate_limit(limit("1/h")))
        .await
        .unwrap();
    for _ in 0..3 {
        assert!(gate.verify(created.key.expose()).await.is_ok());
    }
    assert_eq!(limiter.unavailable_admissions(), 3);
    // Authentication still fails closed: a wrong key is refused whatever Redis does.
    let unknown = sql_support::unknown_key("rl").await;
    assert_eq!(gate.verify(&unknown).await.unwrap_err().code(), "invalid_api_key");
}

#[tokio::test]
async fn an_unreachable_redis_fails_closed_when_configured() {
    let url = format!("redis://127.0.0.1:{}", dead_port().await);
    let limiter = RedisLimiter::connect(&url)
        .await
        .unwrap()
        .fail_mode(FailMode::Closed);
    let store = Probe::new(MemoryStore::new());
    let gate = gate(&store, limiter.clone());
    let created = gate
        .create_key(NewKey::new("k").rate_limit(limit("100/s")))
        .await
        .unwrap();
    let refused = gate.verify(created.key.expose()).await.unwrap_err();
    assert_eq!(refused.code(), "rate_limiter_unavailable");
    assert_eq!(refused.status().as_u16(), 503);
    assert_eq!(limiter.unavailable_admissions(), 0);
    // A key without a limit never asks Redis.
    let free = gate.create_key(NewKey::new("free")).await.unwrap();
    assert!(gate.verify(free.key.expose()).await.is_ok());
}

#[tokio::test]
async fn a_redis_that_hangs_does_not_hang_requests() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let limiter = RedisLimiter::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap()
        .fail_mode(FailMode::Closed)
        .timeout(Duration::from_millis(50));
    let store = Probe::new(MemoryStore::new());
    let gate = gate(&store, limiter);
    let created = gate
        .create_key(NewKey::new("k").rate_limit(limit("100/s")))
        .await
        .unwrap();
    let started = Instant::now();
    let refused = gate.verify(created.key.expose()).await.unwrap_err();
    assert_eq!(refused.code(), "rate_limiter_unavailable");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_recovers_by_itself_when_redis_returns() {
    let Some(url) = redis_url("service_recovers_by_itself_when_redis_returns") else {
        return;
    };
    let proxy = Proxy::start(host_port(&url)).await;
    let limiter = RedisLimiter::connect(&proxy.url())
        .await
        .unwrap()
        .fail_mode(FailMode::Closed);
    let store = Probe::new(MemoryStore::new());
    let gate = gate(&store, limiter);
    let created = gate
        .create_key(NewKey::new("k").rate_limit(limit("1000/s")))
        .await
        .unwrap();
    let key = created.key.expose();
    assert!(gate.verify(key).await.is_ok(), "through the proxy");

    proxy.stop();
    let refused = gate.verify(key).await.unwrap_err();
    assert_eq!(refused.code(), "rate_limiter_unavailable");

    proxy.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match gate.verify(key).await {
            Ok(_) => break,
            Err(rejection) => {
                assert_eq!(rejection.code(), "rate_limiter_unavailable");
                assert!(Instant::now() < deadline, "no recovery within 10 s");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let recovered = Instant::now();
    for _ in 0..20 {
        assert!(gate.verify(key).await.is_ok(), "stays recovered");
    }
    eprintln!(
        "recovered {:?} after the proxy returned",
        recovered.elapsed()
    );
}
