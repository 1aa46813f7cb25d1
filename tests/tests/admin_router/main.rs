//! keygate's admin API as a library router: nested at `/manage` in a small service with its own
//! state and the scope `keys:admin`, over real HTTP. Refusals are keygate's own, a key never
//! grants beyond itself, the round trip works, the service's document describes the routes, and
//! no secret is ever answered but a new key, once.

mod document;
mod lifecycle;
mod refusals;
#[path = "../openapi_support/validator.rs"]
mod validator;

use axum::extract::{FromRef, State};
use axum::{Json, Router};
use keygate::admin::AdminApi;
use keygate::scope::DeclaredScope;
use keygate::{KeyGate, NewKey, require_api_key};
use reqwest::Method;
use serde_json::Value;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The service's scopes: the admin API's, and two of its own.
pub static SCOPES: &[DeclaredScope] = &[
    DeclaredScope::new("keys:admin", "Manage API keys"),
    DeclaredScope::new("reports:read", "Read reports"),
    DeclaredScope::new("reports:write", "Write reports"),
    DeclaredScope::new("admin", "Compared with the attribute"),
];

/// The service's own state; the admin API needs nothing of it.
#[derive(Clone, FromRef)]
pub struct ReportState {
    pub gate: KeyGate,
    pub title: &'static str,
}

#[utoipa::path(get, path = "/reports", responses((status = 200, description = "The report's title")))]
#[require_api_key(scopes = "items:read", state = ReportState)]
async fn reports(State(title): State<&'static str>) -> Json<&'static str> {
    Json(title)
}

/// What the attribute answers, to compare the admin routes' refusals with.
#[require_api_key(scopes = "admin")]
async fn guarded() -> &'static str {
    "in"
}

/// The running service: its address, a key holding `keys:admin reports:read` (owner `ops`),
/// the gate, and its OpenAPI document.
pub struct Service {
    pub base: String,
    pub admin: String,
    pub gate: KeyGate,
    pub doc: OpenApi,
    client: reqwest::Client,
}

impl Service {
    pub async fn start() -> Service {
        let gate = KeyGate::builder()
            .prefix("acme")
            .declared_scopes(SCOPES)
            .build();
        let admin = gate
            .create_key(
                NewKey::new("ops-admin")
                    .owner("ops")
                    .scopes(["keys:admin", "reports:read"]),
            )
            .await
            .unwrap()
            .key
            .expose()
            .to_owned();
        let (router, doc) = OpenApiRouter::<ReportState>::new()
            .routes(routes!(reports))
            .nest(
                "/manage",
                AdminApi::new(&gate).scope("keys:admin").openapi_router(),
            )
            .split_for_parts();
        let app: Router = router
            .route("/guarded", axum::routing::get(guarded))
            .with_state(ReportState {
                gate: gate.clone(),
                title: "quarterly",
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Service {
            base,
            admin,
            gate,
            doc,
            client: reqwest::Client::new(),
        }
    }

    /// Sends a request with `key` (if any) and a JSON `body` (if any).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        request.send().await.unwrap()
    }

    /// Status and JSON body of a request made with the admin key.
    pub async fn admin(&self, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let response = self.send(method, path, Some(&self.admin), body).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
