//! The service under test, served on an ephemeral loopback port, and the keys minted for it.
//!
//! Every test reaches its service through a [`Service`], and every key it uses is minted through
//! one; dropping a `Service` checks that no minted secret reached the logs, so no test can forget.

use axum::Router;
use keygate::{CreatedKey, KeyGate, KeyGateBuilder, NewKey};
use keygate_example::{AppState, Items, app};

use super::logs::{assert_no_secret_logged, init_logging, remember_minted};

/// The key prefix of every gate in this suite.
const PREFIX: &str = "demo";

/// A gate builder with the suite's prefix, log capture already on so that nothing the gate logs
/// while it is built is missed.
pub fn gate_builder() -> KeyGateBuilder {
    init_logging();
    KeyGate::builder().prefix(PREFIX)
}

pub struct Service {
    base: String,
    pub client: reqwest::Client,
    pub gate: KeyGate,
}

impl Service {
    /// The example service on a default gate with an in-memory store.
    pub async fn example() -> Service {
        Service::example_with(gate_builder().build()).await
    }

    /// The example service on `gate`, holding the items apple and banana.
    pub async fn example_with(gate: KeyGate) -> Service {
        let state = AppState {
            gate: gate.clone(),
            items: Items::with(&["apple", "banana"]),
        };
        Service::serve(app(state), gate).await
    }

    /// `router` served on an ephemeral loopback port; `gate` is the gate it checks keys with.
    pub async fn serve(router: Router, gate: KeyGate) -> Service {
        init_logging();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Service {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            gate,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new key with `scopes`, whose secret is from now on checked against the logs.
    pub async fn mint(&self, scopes: &[&str]) -> String {
        let key = self.gate.mint_test_key(scopes.iter().copied()).await;
        remember_minted(&key);
        key
    }

    /// Creates `new` through the gate; its secret is from now on checked against the logs.
    pub async fn create_key(&self, new: NewKey) -> CreatedKey {
        let created = self.gate.create_key(new).await.unwrap();
        remember_minted(created.key.expose());
        created
    }

    /// A well-formed key with this service's prefix and an id its store does not know; its
    /// secret too is checked against the logs.
    pub async fn unknown_key(&self) -> String {
        let key = crate::sql_support::unknown_key(PREFIX).await;
        remember_minted(&key);
        key
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// `POST /items` with `key` and a JSON body naming the new item.
    pub async fn post_item(&self, key: &str, name: &str) -> reqwest::Response {
        self.client
            .post(self.url("/items"))
            .header("x-api-key", key)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap()
    }
}

impl Drop for Service {
    /// The end of every test: no secret minted so far is in the logs. Skipped while a test is
    /// already failing, so its own message is the one reported.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_no_secret_logged();
        }
    }
}
