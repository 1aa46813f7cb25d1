//! The keygate example service: a small items API.
//!
//! | route | access |
//! | --- | --- |
//! | `GET /health` | public |
//! | `GET /items` | scope `items:read` |
//! | `POST /items` | scope `items:write` |
//! | `DELETE /items/{id}` | scope `admin` |
//! | `GET /whoami` | any valid key |

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use keygate::{ApiKey, KeyError, KeyGate, NewKey, require_api_key};
use serde::{Deserialize, Serialize};

/// The router state: the key gate and the items.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// API-key authentication.
    pub gate: KeyGate,
    /// The catalogue.
    pub items: Items,
}

/// One item of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

/// The body of `POST /items`.
#[derive(Debug, Deserialize)]
pub struct NewItem {
    /// The new item's name.
    pub name: String,
}

/// The catalogue, shared by all requests.
#[derive(Clone, Default)]
pub struct Items {
    list: Arc<RwLock<Vec<Item>>>,
    next_id: Arc<AtomicU64>,
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
        self.list
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(item.clone());
        item
    }
}

/// Builds the service's router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/items", get(list_items).post(create_item))
        .route("/items/{id}", delete(delete_item))
        .route("/whoami", get(whoami))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok"
}

#[require_api_key(scopes = "items:read")]
async fn list_items(State(state): State<AppState>) -> Json<Vec<Item>> {
    let list = state.items.list.read().unwrap_or_else(PoisonError::into_inner);
    Json(list.clone())
}

#[require_api_key(scopes = "items:write")]
async fn create_item(
    State(state): State<AppState>,
    Json(new): Json<NewItem>,
) -> (StatusCode, Json<Item>) {
    (StatusCode::CREATED, Json(state.items.add(new.name)))
}

#[require_api_key(scopes = "admin")]
async fn delete_item(State(state): State<AppState>, Path(id): Path<u64>) -> StatusCode {
    let mut list = state.items.list.write().unwrap_or_else(PoisonError::into_inner);
    let before = list.len();
    list.retain(|item| item.id != id);
    if list.len() < before {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

/// What `GET /whoami` answers: the caller's identity, never its secret.
#[derive(Debug, Serialize, Deserialize)]
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

#[require_api_key]
async fn whoami(key: ApiKey) -> Json<WhoAmI> {
    Json(WhoAmI {
        key_id: key.key_id().to_owned(),
        name: key.name().to_owned(),
        owner: key.owner().to_owned(),
        scopes: key.scopes().to_vec(),
    })
}

/// The three keys minted for trying the service.
pub struct DemoKeys {
    /// `items:read`.
    pub read: String,
    /// `items:read items:write`.
    pub write: String,
    /// `admin items:*`.
    pub admin: String,
}

/// Mints the demo keys into `gate`.
pub async fn mint_demo_keys(gate: &KeyGate) -> Result<DemoKeys, KeyError> {
    let mint = |name: &str, scopes: &[&str]| {
        let new = NewKey::new(name)
            .owner("demo")
            .scopes(scopes.iter().copied());
        async move { gate.create_key(new).await }
    };
    Ok(DemoKeys {
        read: mint("demo-read", &["items:read"]).await?.key.expose().to_owned(),
        write: mint("demo-write", &["items:read", "items:write"])
            .await?
            .key
            .expose()
            .to_owned(),
        admin: mint("demo-admin", &["admin", "items:*"])
            .await?
            .key
            .expose()
            .to_owned(),
    })
}
