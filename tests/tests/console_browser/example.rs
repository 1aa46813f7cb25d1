//! The example service as a user starts it: built by cargo, on a fresh SQLite file and a free
//! port, with the demo keys it prints.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's target directory, with the example built in it.
pub fn target_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "-p", "keygate-example"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build of the example failed");
    // target/debug/deps/console_browser-… → target
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

/// A running example, stopped (and its database removed) when dropped.
pub struct Example {
    child: Child,
    dir: PathBuf,
    /// `http://localhost:<port>`: a secure context, where Chromium keeps `Secure` cookies
    /// without TLS.
    pub base: String,
    pub admin_key: String,
    pub read_key: String,
    pub write_key: String,
}

impl Example {
    pub async fn start(target: &std::path::Path) -> Example {
        let dir =
            std::env::temp_dir().join(format!("keygate-console-browser-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = Command::new(target.join("debug").join("keygate-example"));
        for (name, _) in std::env::vars() {
            if name.starts_with("KEYGATE_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        let mut child = command
            .current_dir(&dir)
            .env("KEYGATE_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the example");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut addr, mut admin_key, mut read_key, mut write_key) = (None, None, None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            let value = |prefix: &str| {
                line.strip_prefix(prefix)
                    .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
            };
            addr = addr.or(value("keygate example listening on http://"));
            admin_key = admin_key.or(value("export KEYGATE_ADMIN_KEY="));
            read_key = read_key.or(value("export KEYGATE_READ_KEY="));
            write_key = write_key.or(value("export KEYGATE_WRITE_KEY="));
            if line.starts_with("export KEYGATE_METRICS_KEY=") {
                break;
            }
        }
        // Keep reading: a closed pipe would stop the example at its next line.
        std::thread::spawn(move || lines.for_each(drop));
        let port = addr
            .expect("the address")
            .rsplit(':')
            .next()
            .unwrap()
            .to_owned();
        let example = Example {
            child,
            dir,
            base: format!("http://localhost:{port}"),
            admin_key: admin_key.expect("the admin key"),
            read_key: read_key.expect("the read key"),
            write_key: write_key.expect("the write key"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !client
            .get(format!("{}/health", example.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "the example did not answer in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        example
    }

    /// `GET /items` with `key`: the status and, for a refusal, the problem's `code`.
    pub async fn items(&self, key: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(format!("{}/items", self.base))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        (status, body["code"].as_str().unwrap_or_default().to_owned())
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
