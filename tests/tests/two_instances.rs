//! Two example processes on loopback, one PostgreSQL (`KEYGATE_TEST_POSTGRES_URL`) and one Redis
//! (`KEYGATE_TEST_REDIS_URL`), as a service runs when it outgrows one machine:
//!
//! - a key limited to N requests per window, hammered through both at once, gets between N and
//!   N + burst admissions in the window, never more;
//! - Redis going away gives each instance its configured fail mode, and both recover by
//!   themselves when it returns;
//! - a key revoked through the command line, under load on both, is refused by both within a
//!   second of the revoke's commit, and nothing with it is admitted after that.
//!
//! Ignored when either service is not configured (see `build.rs`), failing instead when
//! `KEYGATE_TEST_REQUIRE_SERVICES=1`. The binaries are built with cargo first.

mod redis_support;
#[path = "two_instances/support.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_support::{Proxy, host_port};
use support::{Instance, create_key, get_items, keygate, services};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keygate_postgres, keygate_redis)),
    ignore = "needs PostgreSQL and Redis: set KEYGATE_TEST_POSTGRES_URL and KEYGATE_TEST_REDIS_URL"
)]
async fn a_limit_holds_across_both_instances() {
    let (db, redis) = services("a_limit_holds_across_both_instances").await;
    let a = Instance::start(&db.url, &redis, "open").await;
    let b = Instance::start(&db.url, &redis, "open").await;
    const N: usize = 20;
    let key = create_key(&db.url, "e2e-limited", &["--rate-limit", "20/min"]);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..8 {
        let base = if worker % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (client, key) = (client.clone(), key.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while started.elapsed() < Duration::from_secs(3) {
                seen.push(get_items(&client, &base, &key).await);
            }
            seen
        }));
    }
    let mut admitted = 0;
    let mut refused = 0;
    for worker in workers {
        for (status, code) in worker.await.unwrap() {
            match status {
                200 => admitted += 1,
                429 => {
                    assert_eq!(code, "rate_limited");
                    refused += 1;
                }
                other => panic!("unexpected {other} {code}"),
            }
        }
    }
    eprintln!("{admitted} admitted, {refused} refused in 3 s through two instances");
    assert!(refused > 0, "the key was hammered past its limit");
    // Burst 20, and one more request every 3 s: the window of 3 s holds 20 or 21.
    assert!(
        (N..=N + N).contains(&admitted),
        "{admitted} admitted, expected {N} to {}",
        N + N
    );
    assert!(
        admitted <= N + 1,
        "{admitted} admitted: more than the budget allows in 3 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keygate_postgres, keygate_redis)),
    ignore = "needs PostgreSQL and Redis: set KEYGATE_TEST_POSTGRES_URL and KEYGATE_TEST_REDIS_URL"
)]
async fn redis_going_away_gives_each_fail_mode_and_both_recover() {
    let (db, redis) = services("redis_going_away_gives_each_fail_mode_and_both_recover").await;
    let proxy = Proxy::start(host_port(&redis)).await;
    let closed = Instance::start(&db.url, &proxy.url(), "closed").await;
    let open = Instance::start(&db.url, &proxy.url(), "open").await;
    let key = create_key(&db.url, "e2e-outage", &["--rate-limit", "3/min"]);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for base in [&closed.base, &open.base, &closed.base, &open.base] {
        statuses.push(get_items(&client, base, &key).await.0);
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429],
        "one budget through the proxy"
    );

    proxy.stop();
    let (status, code) = get_items(&client, &closed.base, &key).await;
    assert_eq!((status, code.as_str()), (503, "rate_limiter_unavailable"));
    for _ in 0..5 {
        let (status, _) = get_items(&client, &open.base, &key).await;
        assert_eq!(
            status, 200,
            "fail open admits, though the key is over its limit"
        );
    }

    proxy.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    for base in [&closed.base, &open.base] {
        loop {
            let (status, code) = get_items(&client, base, &key).await;
            if status == 429 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{base}: still {status} {code} 10 s after Redis returned"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(keygate_postgres, keygate_redis)),
    ignore = "needs PostgreSQL and Redis: set KEYGATE_TEST_POSTGRES_URL and KEYGATE_TEST_REDIS_URL"
)]
async fn a_key_revoked_through_the_cli_is_refused_by_both_within_a_second() {
    let (db, redis) =
        services("a_key_revoked_through_the_cli_is_refused_by_both_within_a_second").await;
    let a = Instance::start(&db.url, &redis, "open").await;
    let b = Instance::start(&db.url, &redis, "open").await;
    let key = create_key(&db.url, "e2e-revoked", &[]);
    let key_id = key.split('_').nth(1).unwrap().to_owned();
    let client = reqwest::Client::new();
    // (instance, sent, status)
    let seen: Arc<Mutex<Vec<(usize, Instant, u16)>>> = Arc::default();
    let stop = Instant::now() + Duration::from_secs(4);
    let mut workers = Vec::new();
    for worker in 0..6 {
        let instance = worker % 2;
        let base = [&a.base, &b.base][instance].clone();
        let (client, key, seen) = (client.clone(), key.clone(), seen.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let sent = Instant::now();
                let (status, _) = get_items(&client, &base, &key).await;
                seen.lock().unwrap().push((instance, sent, status));
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let db_url = db.url.clone();
    let committed = tokio::task::spawn_blocking(move || {
        keygate(&db_url, &["keys", "revoke", &key_id]);
        // The command has exited: its transaction has committed.
        Instant::now()
    })
    .await
    .unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let seen = seen.lock().unwrap();
    for instance in 0..2 {
        let admitted_before: Vec<_> = seen
            .iter()
            .filter(|(i, sent, status)| *i == instance && *sent < committed && *status == 200)
            .collect();
        assert!(
            !admitted_before.is_empty(),
            "instance {instance} admitted the key before"
        );
        let last_admitted = seen
            .iter()
            .filter(|(i, _, status)| *i == instance && *status == 200)
            .map(|(_, sent, _)| *sent)
            .max()
            .unwrap();
        let after = last_admitted.saturating_duration_since(committed);
        eprintln!("instance {instance}: last admission sent {after:?} after the revoke committed");
        assert!(
            after < Duration::from_secs(1),
            "instance {instance} admitted the revoked key {after:?} after the revoke committed"
        );
        let refused_after = seen
            .iter()
            .filter(|(i, sent, status)| {
                *i == instance && *sent > committed + Duration::from_secs(1) && *status == 401
            })
            .count();
        assert!(
            refused_after > 0,
            "instance {instance} was still under load"
        );
    }
}
