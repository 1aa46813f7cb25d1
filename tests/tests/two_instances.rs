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
//! Skipped with one line when either service is not configured, failing instead when
//! `KEYGATE_TEST_REQUIRE_SERVICES=1`. The binaries are built with cargo first.

mod redis_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis_support::{Proxy, host_port, redis_url};
use sqlx::Connection;

const PG_VAR: &str = "KEYGATE_TEST_POSTGRES_URL";

/// The directory cargo puts this workspace's binaries in, with the example and the command line
/// built (once per test binary).
fn binaries() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "keygate-example", "-p", "keygate-cli"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of the example and the CLI failed"
        );
        // target/debug/deps/two_instances-… → target/debug
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().to_owned()
    })
}

/// A fresh PostgreSQL database, dropped at the end.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(test: &str) -> Option<Database> {
        let admin_url = match std::env::var(PG_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    !std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1"),
                    "{test}: {PG_VAR} is unset but KEYGATE_TEST_REQUIRE_SERVICES=1"
                );
                eprintln!(
                    "{test}: skipped; set {PG_VAR}=postgres://postgres@127.0.0.1:5432/test to run it"
                );
                return None;
            }
        };
        let name = format!(
            "kg_e2e_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 1_000_000_000_000
        );
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{test}: cannot reach PostgreSQL at {PG_VAR}: {e}"));
        // PostgreSQL refuses a CREATE DATABASE while another one copies the template
        // ("source database is being accessed by other users"): the tests of this binary start
        // together, so each waits its turn.
        let mut tries = 0;
        while let Err(error) = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
        {
            tries += 1;
            assert!(tries < 50, "create the test database: {error}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = conn.close().await;
        let base = admin_url.split('?').next().unwrap();
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        Some(Database {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Its own thread and runtime: drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// One example process, stopped when dropped.
struct Instance {
    child: Child,
    base: String,
}

impl Instance {
    async fn start(database: &str, redis: &str, fail_mode: &str) -> Instance {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut child = Command::new(binaries().join("keygate-example"))
            .env("KEYGATE_ADDR", format!("127.0.0.1:{port}"))
            .env("KEYGATE_DATABASE_URL", database)
            .env("KEYGATE_REDIS_URL", redis)
            .env("KEYGATE_REDIS_FAIL_MODE", fail_mode)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the example");
        // Drain stdout (the demo keys, shown once) so the process never blocks on it.
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
        let instance = Instance {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = client.get(format!("{}/health", instance.base)).send().await;
            if health.is_ok_and(|r| r.status() == 200) {
                return instance;
            }
            assert!(
                Instant::now() < deadline,
                "the example did not start in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `keygate` command line on `database`; returns its stdout, asserting success.
fn keygate(database: &str, args: &[&str]) -> String {
    let output = Command::new(binaries().join("keygate"))
        .args(args)
        .env("KEYGATE_DATABASE_URL", database)
        .output()
        .expect("run keygate");
    assert!(
        output.status.success(),
        "keygate {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Creates a key through the command line; returns its text.
fn create_key(database: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["keys", "create", "--name", name, "--scopes", "items:read"];
    args.extend_from_slice(extra);
    let out = keygate(database, &args);
    out.lines().next().unwrap().trim().to_owned()
}

/// `GET /items` with `key`: the status, and the problem's `code` for a refusal.
async fn get_items(client: &reqwest::Client, base: &str, key: &str) -> (u16, String) {
    let response = client
        .get(format!("{base}/items"))
        .header("X-API-Key", key)
        .send()
        .await
        .expect("the instance answers");
    let status = response.status().as_u16();
    let code = if status == 200 {
        String::new()
    } else {
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        body["code"].as_str().unwrap_or_default().to_owned()
    };
    (status, code)
}

/// Both services, or `None` when one is not configured.
async fn services(test: &str) -> Option<(Database, String)> {
    let redis = redis_url(test)?;
    let database = Database::create(test).await?;
    binaries();
    Some((database, redis))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_holds_across_both_instances() {
    let Some((db, redis)) = services("a_limit_holds_across_both_instances").await else {
        return;
    };
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
async fn redis_going_away_gives_each_fail_mode_and_both_recover() {
    let Some((db, redis)) =
        services("redis_going_away_gives_each_fail_mode_and_both_recover").await
    else {
        return;
    };
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
async fn a_key_revoked_through_the_cli_is_refused_by_both_within_a_second() {
    let Some((db, redis)) =
        services("a_key_revoked_through_the_cli_is_refused_by_both_within_a_second").await
    else {
        return;
    };
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
