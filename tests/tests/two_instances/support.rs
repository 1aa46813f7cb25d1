//! The two-instance tests' setting: a fresh database, the example and command-line binaries,
//! and a running example instance.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::Connection;

use super::redis_support::redis_url;

pub const PG_VAR: &str = "KEYGATE_TEST_POSTGRES_URL";

/// The directory cargo puts this workspace's binaries in, with the example and the command line
/// built (once per test binary).
pub fn binaries() -> &'static PathBuf {
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
pub struct Database {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl Database {
    /// A fresh database on the test server. Panics when `KEYGATE_TEST_POSTGRES_URL` is unset (the
    /// tests that need it are ignored then, see `build.rs`).
    pub async fn create(test: &str) -> Database {
        let admin_url = match std::env::var(PG_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => panic!(
                "{test} needs a server: set {PG_VAR}=postgres://postgres@127.0.0.1:5432/test"
            ),
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
        Database {
            admin_url,
            name,
            url,
        }
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
pub struct Instance {
    pub child: Child,
    pub base: String,
}

impl Instance {
    pub async fn start(database: &str, redis: &str, fail_mode: &str) -> Instance {
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
pub fn keygate(database: &str, args: &[&str]) -> String {
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
pub fn create_key(database: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["keys", "create", "--name", name, "--scopes", "items:read"];
    args.extend_from_slice(extra);
    let out = keygate(database, &args);
    out.lines().next().unwrap().trim().to_owned()
}

/// `GET /items` with `key`: the status, and the problem's `code` for a refusal.
pub async fn get_items(client: &reqwest::Client, base: &str, key: &str) -> (u16, String) {
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

/// Both services. Panics when one is not configured.
pub async fn services(test: &str) -> (Database, String) {
    let redis = redis_url(test);
    let database = Database::create(test).await;
    binaries();
    (database, redis)
}
