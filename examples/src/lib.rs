//! The keygate example service: a small items API.
//!
//! | route | access |
//! | --- | --- |
//! | `GET /health` | public |
//! | `GET /items` | scope `items:read` |
//! | `POST /items` | scope `items:write` |
//! | `DELETE /items/{id}` | scope `admin` |
//! | `GET /whoami` | any valid key |
//! | `POST /admin/keys`, `GET /admin/keys` | scope `admin`: create (the key is shown once), list |
//! | `POST /admin/keys/{id}/rotate`, `DELETE /admin/keys/{id}` | scope `admin`: rotate, revoke |
//! | `PUT /admin/keys/{id}/rate_limit` | scope `admin`: set or remove the key's rate limit |
//! | `GET /admin/keys/{id}/usage?since=7d` | scope `admin`: the key's usage per hour |
//! | `GET /admin/keys/audit` | scope `admin`: keys to rotate, revoke or give an expiry |
//! | `/admin/console` | the web console ([`keygate::admin::console`]): sign in with a key holding `admin` |
//! | `GET /metrics` | scope `metrics:read`: keygate's metrics in Prometheus text format ([`metrics`]) |
//! | `GET /openapi.json` | public: the OpenAPI 3.1 document, with keygate's security |
//! | `POST /security/leaked-keys` | signed by GitHub: secret scanning reports leaked keys, which are revoked ([`leaks`]) |
//!
//! The `/admin` routes are keygate's admin API ([`keygate::admin::AdminApi`]), nested with the
//! scope `admin`. The scopes are declared in this crate's `Cargo.toml`; a misspelt scope does
//! not compile.
//! Routes are registered through `utoipa_axum::routes!`, so the router and the OpenAPI document
//! come from the same `#[utoipa::path]` attributes, and [`access::table`] (printed by
//! `cargo run -- --routes`) cannot miss a route registered that way.

pub mod access;
pub mod leaks;
pub mod metrics;
pub mod problem;
pub mod serve;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use keygate::admin::AdminApi;
use keygate::admin::console::Console;
use keygate::{ApiKey, KeyError, KeyGate, NewKey, require_api_key};
use problem::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::openapi::OpenApi;
use utoipa::{OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The scopes declared in this crate's `Cargo.toml`, for
/// [`KeyGateBuilder::declared_scopes`](keygate::KeyGateBuilder::declared_scopes).
pub static DECLARED_SCOPES: &[keygate::scope::DeclaredScope] = keygate::declared_scopes!();

/// The router state: the key gate and the items.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// API-key authentication.
    pub gate: KeyGate,
    /// The catalogue.
    pub items: Items,
}

/// One item of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Item {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// The body of `POST /items`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewItem {
    /// The new item's name.
    pub name: String,
}

/// The catalogue, shared by all requests.
#[derive(Clone, Default)]
pub struct Items {
    catalogue: Arc<RwLock<Catalogue>>,
    next_id: Arc<AtomicU64>,
}

/// The items and their JSON, rendered when they change: reads far outnumber writes, so a read
/// hands out the rendered body (a reference count) instead of serialising every item again.
struct Catalogue {
    list: Vec<Item>,
    json: Bytes,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue {
            list: Vec::new(),
            json: Bytes::from_static(b"[]"),
        }
    }
}

impl Catalogue {
    fn render(&mut self) {
        // A list of plain structs always serialises; an empty body would be a bug, not an answer.
        self.json = serde_json::to_vec(&self.list)
            .expect("a list of items serialises")
            .into();
    }
}

impl Items {
    /// A catalogue holding `names`.
    pub fn with(names: &[&str]) -> Self {
        let items = Items::default();
        for name in names {
            items.add((*name).to_owned());
        }
        items
    }

    fn add(&self, name: String) -> Item {
        let item = Item {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            name,
        };
        let mut catalogue = self.write();
        catalogue.list.push(item.clone());
        catalogue.render();
        item
    }

    /// Removes the item `id`; false when there is none.
    fn remove(&self, id: u64) -> bool {
        let mut catalogue = self.write();
        let before = catalogue.list.len();
        catalogue.list.retain(|item| item.id != id);
        let removed = catalogue.list.len() < before;
        if removed {
            catalogue.render();
        }
        removed
    }

    /// The catalogue as JSON.
    fn json(&self) -> Bytes {
        self.catalogue
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .json
            .clone()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Catalogue> {
        self.catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The OpenAPI document's fixed parts; the operations come from the routes.
#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "keygate example",
    description = "An items API protected by keygate."
))]
struct ApiDoc;

/// The routes, each with its OpenAPI operation. Register every route here, through `routes!`
/// (or a router that documents itself, as keygate's admin API does): a route added with plain
/// `.route()` would be missing from the document and the access table.
fn routes(gate: &KeyGate) -> (Router<AppState>, OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(list_items, create_item))
        .routes(routes!(delete_item))
        .routes(routes!(whoami))
        .routes(routes!(metrics::metrics))
        .nest(
            "/admin",
            AdminApi::new(gate).scope("admin").openapi_router(),
        )
        .split_for_parts()
}

/// The service's OpenAPI document, with keygate's security schemes, each protected operation's
/// scopes, and its 401/403/503 responses; every refusal's body is the problem document.
pub fn openapi(gate: &KeyGate) -> OpenApi {
    let (_, mut doc) = routes(gate);
    // Every protected handler of this crate is routed, so none is left unmatched; the access
    // table test checks it.
    let _unmatched = keygate::openapi::secure(gate, &mut doc);
    keygate::openapi::problem_bodies(&mut doc);
    doc
}

/// Builds the service's router, and installs the metrics recorder if none is.
pub fn app(state: AppState) -> Router {
    metrics::install();
    let (router, _) = routes(&state.gate);
    let doc = Json(openapi(&state.gate));
    // Rate-limit headers on admitted responses of limited keys (429s carry them anyway).
    let headers = state.gate.rate_limit_headers();
    router
        .route("/openapi.json", get(move || async move { doc }))
        .nest("/admin/console", Console::new("admin").router())
        .layer(headers)
        .with_state(state)
}

#[utoipa::path(get, path = "/health", responses((status = 200, description = "The service is up", body = String)))]
async fn health() -> &'static str {
    "ok"
}

// `#[utoipa::path]` above `#[require_api_key]`...
#[utoipa::path(get, path = "/items", responses((status = 200, description = "The catalogue", body = Vec<Item>)))]
#[require_api_key(scopes = "items:read")]
async fn list_items(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.items.json(),
    )
        .into_response()
}

// ...or below it: the document is the same.
#[require_api_key(scopes = "items:write")]
#[utoipa::path(
    post,
    path = "/items",
    request_body = NewItem,
    responses(
        (status = 201, description = "The new item", body = Item),
        (status = 400, description = "The body is not JSON (`malformed_request`)"),
        (status = 413, description = "The body is over 2 MB (`malformed_request`)"),
        (status = 415, description = "The body is not declared `application/json` (`malformed_request`)"),
        (status = 422, description = "The body is not a new item (`malformed_request`: `name` missing or not a string)")
    )
)]
async fn create_item(
    State(state): State<AppState>,
    new: Result<Json<NewItem>, JsonRejection>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let Json(new) = new?;
    Ok((StatusCode::CREATED, Json(state.items.add(new.name))))
}

#[utoipa::path(
    delete,
    path = "/items/{id}",
    params(("id" = u64, Path, description = "The item's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a whole number (`malformed_request`)"),
        (status = 404, description = "No such item (`item_not_found`)")
    )
)]
#[require_api_key(scopes = "admin")]
async fn delete_item(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    if state.items.remove(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "item_not_found",
            format!("There is no item {id}."),
        ))
    }
}

/// What `GET /whoami` answers: the caller's identity, never its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// The public key id.
    pub key_id: String,
    /// The key's name.
    pub name: String,
    /// Who holds it.
    pub owner: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

#[utoipa::path(get, path = "/whoami", responses((status = 200, description = "The caller's key", body = WhoAmI)))]
#[require_api_key]
async fn whoami(key: ApiKey) -> Json<WhoAmI> {
    Json(WhoAmI {
        key_id: key.key_id().to_owned(),
        name: key.name().to_owned(),
        owner: key.owner().to_owned(),
        scopes: key.scopes().to_vec(),
    })
}

/// The keys minted for trying the service.
pub struct DemoKeys {
    /// `items:read`, limited to [`READ_LIMIT`]: generous enough for a load test.
    pub read: String,
    /// `items:read items:write`, limited to [`WRITE_LIMIT`].
    pub write: String,
    /// `admin items:*`, not limited.
    pub admin: String,
    /// `items:read`, limited to [`LIMITED_LIMIT`]: a loop of `curl`s sees `429`s.
    pub limited: String,
    /// `metrics:read` only: what a Prometheus scraper holds.
    pub metrics: String,
}

/// The read key's rate limit.
pub const READ_LIMIT: &str = "1000000/s";
/// The write key's rate limit.
pub const WRITE_LIMIT: &str = "10/s burst 20";
/// The limited demo key's rate limit.
pub const LIMITED_LIMIT: &str = "5/min";

/// Mints the demo keys into `gate`.
pub async fn mint_demo_keys(gate: &KeyGate) -> Result<DemoKeys, KeyError> {
    let mint = |name: &str, scopes: &[&str], limit: Option<&str>| {
        let mut new = NewKey::new(name)
            .owner("demo")
            .scopes(scopes.iter().copied());
        if let Some(limit) = limit {
            new = new.rate_limit(limit.parse().expect("the demo limits are valid"));
        }
        async move {
            let created = gate.create_key(new).await?;
            Ok::<_, KeyError>(created.key.expose().to_owned())
        }
    };
    Ok(DemoKeys {
        read: mint("demo-read", &["items:read"], Some(READ_LIMIT)).await?,
        write: mint(
            "demo-write",
            &["items:read", "items:write"],
            Some(WRITE_LIMIT),
        )
        .await?,
        admin: mint("demo-admin", &["admin", "items:*"], None).await?,
        limited: mint("demo-limited", &["items:read"], Some(LIMITED_LIMIT)).await?,
        metrics: mint("demo-metrics", &["metrics:read"], None).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_catalogue_follows_the_list() {
        let items = Items::with(&[]);
        assert_eq!(&items.json()[..], b"[]");
        let pear = items.add("pear \"ripe\"".to_owned());
        let parsed: Vec<Item> = serde_json::from_slice(&items.json()).unwrap();
        assert_eq!(parsed, std::slice::from_ref(&pear));
        assert!(!items.remove(pear.id + 1));
        assert!(items.remove(pear.id));
        assert_eq!(&items.json()[..], b"[]");
    }
}
