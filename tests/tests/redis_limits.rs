//! The Redis rate limiter against a real Redis (`KEYGATE_TEST_REDIS_URL`, such as
//! `redis://127.0.0.1:6379`): exact across instances, the same answers as the in-process limiter,
//! the fail modes when Redis is gone or hangs, and recovery when it returns. Ignored when
//! the variable is unset (see `build.rs`), failing instead when `KEYGATE_TEST_REQUIRE_SERVICES=1`.

mod redis_support;
mod sql_support;

use std::time::{Duration, Instant};

use keygate::limit::{FailMode, RateLimit, RateLimiter, RedisLimiter};
use keygate::reject::RejectionKind;
use keygate::{KeyGate, MemoryStore, NewKey};
use redis_support::{Proxy, host_port, redis_url};
use sql_support::Probe;
use tokio::net::TcpListener;

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

/// A loopback port nothing listens on.
async fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(keygate_redis), ignore = "needs Redis: set KEYGATE_TEST_REDIS_URL")]
async fn two_instances_sharing_redis_admit_exactly_the_burst() {
    let url = redis_url("two_instances_sharing_redis_admit_exactly_the_burst");
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
#[cfg_attr(not(keygate_redis), ignore = "needs Redis: set KEYGATE_TEST_REDIS_URL")]
async fn redis_and_in_process_give_the_same_answers() {
    let url = redis_url("redis_and_in_process_give_the_same_answers");
    for text in ["3/min", "10/s burst 2", "1/h"] {
        let redis = pattern(RedisLimiter::connect(&url).await.unwrap(), text, 5).await;
        let memory = pattern(RateLimiter::in_process(), text, 5).await;
        assert_eq!(redis, memory, "{text}");
    }
    let expected: Vec<(String, u64)> = [("ok", 0), ("ok", 0), ("ok", 0), ("rate_limited", 20)]
        .map(|(code, after)| (code.to_owned(), after))
        .to_vec();
    assert_eq!(
        pattern(RateLimiter::in_process(), "3/min", 4).await,
        expected
    );
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
    assert_eq!(
        gate.verify(&unknown).await.unwrap_err().code(),
        "invalid_api_key"
    );
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
#[cfg_attr(not(keygate_redis), ignore = "needs Redis: set KEYGATE_TEST_REDIS_URL")]
async fn service_recovers_by_itself_when_redis_returns() {
    let url = redis_url("service_recovers_by_itself_when_redis_returns");
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

/// A forwarder to `target` that holds every answer back for `delay`: a Redis that is slow, not
/// gone (another region, a loaded server).
async fn slow_forwarder(target: String, delay: Duration) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                continue;
            };
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut from_client, &mut to_server).await });
            tokio::spawn(async move {
                let mut buffer = vec![0; 16 * 1024];
                while let Ok(read @ 1..) = from_server.read(&mut buffer).await {
                    tokio::time::sleep(delay).await;
                    if to_client.write_all(&buffer[..read]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// A longer timeout is honoured: a Redis answering in 200 ms is checked, not counted as gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(keygate_redis), ignore = "needs Redis: set KEYGATE_TEST_REDIS_URL")]
async fn a_slow_redis_within_the_timeout_is_used() {
    let url = redis_url("a_slow_redis_within_the_timeout_is_used");
    let port = slow_forwarder(host_port(&url), Duration::from_millis(200)).await;
    let limiter = RedisLimiter::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap()
        .fail_mode(FailMode::Closed)
        .timeout(Duration::from_secs(2));
    let store = Probe::new(MemoryStore::new());
    let gate = gate(&store, limiter);
    let created = gate
        .create_key(NewKey::new("k").rate_limit(limit("1/min")))
        .await
        .unwrap();
    let key = created.key.expose();
    let started = Instant::now();
    let first = gate.verify(key).await;
    assert!(
        first.is_ok(),
        "checked, and admitted: {:?}",
        first.err().map(|r| r.code())
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    // The second is refused by the count Redis keeps, not for want of an answer.
    let refused = gate.verify(key).await.unwrap_err();
    assert_eq!(refused.code(), "rate_limited");
}

/// An outage is said, not shouted: one WARN a second at most, with how many requests it covers,
/// however many requests Redis cannot answer.
#[tokio::test]
async fn an_outage_warns_once_a_second_not_once_a_request() {
    let logs = sql_support::CapturedLogs::start();
    let url = format!("redis://127.0.0.1:{}", dead_port().await);
    let limiter = RedisLimiter::connect(&url).await.unwrap();
    let store = Probe::new(MemoryStore::new());
    let gate = gate(&store, limiter.clone());
    let created = gate
        .create_key(NewKey::new("k").rate_limit(limit("1/h")))
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        assert!(gate.verify(created.key.expose()).await.is_ok());
    }
    let seconds = started.elapsed().as_secs() + 1;
    assert_eq!(limiter.unavailable_admissions(), 20);
    let warned: Vec<String> = logs
        .lines_with(&created.record.key_id)
        .into_iter()
        .filter(|line| line.contains("WARN") && line.contains("rate limiter unavailable"))
        .collect();
    assert!(
        !warned.is_empty() && warned.len() as u64 <= seconds,
        "{} WARN lines in {seconds} s: {warned:#?}",
        warned.len()
    );
    assert!(warned[0].contains("requests=1"), "{}", warned[0]);
}
