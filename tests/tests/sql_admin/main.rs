//! The example service's admin routes over real HTTP, on a SQLite key database behind the cache:
//! create, list, rotate, revoke; bad input is a 4xx problem document and writes nothing.

#[path = "../sql_support/mod.rs"]
mod sql_support;

mod defaults;
mod lifecycle;
mod refusals;

use keygate::record::KeyFilter;
use keygate::store::KeyStore;
use keygate::{CachedStore, KeyGate, SqlStore};
use keygate_example::{AppState, DECLARED_SCOPES, DemoKeys, Items, app, mint_demo_keys};
use reqwest::Method;
use serde_json::Value;

pub struct Service {
    pub base: String,
    pub keys: DemoKeys,
    pub store: SqlStore,
    pub client: reqwest::Client,
}

impl Service {
    pub async fn start() -> Service {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let gate = KeyGate::builder()
            .prefix("demo")
            .store(CachedStore::new(store.clone()))
            .declared_scopes(DECLARED_SCOPES)
            .build();
        let keys = mint_demo_keys(&gate).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState {
            gate,
            items: Items::with(&["apple"]),
        };
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        Service {
            base,
            keys,
            store,
            client: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<&str>,
    ) -> (u16, String, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-API-Key", key);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, content_type, body)
    }

    pub async fn key_count(&self) -> usize {
        self.store.list(&KeyFilter::default()).await.unwrap().len()
    }
}
