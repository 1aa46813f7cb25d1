//! What the tests that need Redis share: the test server's URL, and a TCP proxy to it
//! that a test can stop and start again.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const REDIS_VAR: &str = "KEYGATE_TEST_REDIS_URL";

/// The test Redis. Panics when `KEYGATE_TEST_REDIS_URL` is unset: a test that needs Redis is
/// marked ignored when the variable was not set at build time (see `build.rs`), so it only gets
/// here without one when run with `--ignored` or with `KEYGATE_TEST_REQUIRE_SERVICES=1`.
pub fn redis_url(test: &str) -> String {
    match std::env::var(REDIS_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("{test} needs a server: set {REDIS_VAR}=redis://127.0.0.1:6379"),
    }
}

/// The `host:port` of a Redis URL such as `redis://127.0.0.1:6379/0`.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split('/').next().unwrap().to_owned()
}

/// A TCP proxy to Redis that a test can stop (closing every connection, refusing new ones) and
/// start again on the same port: Redis going away and coming back, without touching the server.
pub struct Proxy {
    pub port: u16,
    target: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
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

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every connection and stops listening.
    pub fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}
