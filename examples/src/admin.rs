//! Key administration over HTTP, scope `admin`: create, list, rotate and revoke keys.
//!
//! Bad input (malformed JSON, an invalid scope or name, a zero or absurd duration, an unknown key
//! id) is answered with a 4xx `application/problem+json` document carrying a `code`, and nothing
//! is written.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keygate::duration::parse_duration;
use keygate::record::{KeyFilter, KeyState, KeyView};
use keygate::{KeyError, KeyGate, NewKey};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use keygate::require_api_key;

/// The admin routes, with their OpenAPI operations.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(rotate_key))
        .routes(routes!(revoke_key))
}

/// The body of `POST /admin/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A name for the key, such as `ci-deploy`.
    pub name: String,
    /// Who holds it.
    #[serde(default)]
    pub owner: String,
    /// Scopes to grant; an entry may end in `*`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How long the key lives, such as `90d`, `24h`, `30m` or `2w`. Absent: until revoked.
    pub expires_in: Option<String>,
}

/// The optional body of `POST /admin/keys/{id}/rotate`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old key keeps working, such as `24h`. Absent: it stops at once.
    pub grace: Option<String>,
}

/// Which keys `GET /admin/keys` lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only keys held by this owner.
    pub owner: Option<String>,
    /// Include revoked and expired keys.
    #[serde(default)]
    pub all: bool,
}

/// A key just created or rotated in: the key text, shown this once, and its record.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyView {
    /// The key. It is not stored and will not be shown again.
    pub key: String,
    /// Its record.
    pub record: KeyView,
}

impl From<&keygate::CreatedKey> for CreatedKeyView {
    fn from(created: &keygate::CreatedKey) -> Self {
        CreatedKeyView {
            key: created.key.expose().to_owned(),
            record: KeyView::from(&created.record),
        }
    }
}

/// A refused admin request, rendered as `application/problem+json`.
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl AdminError {
    fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            detail: detail.into(),
        }
    }
}

impl From<KeyError> for AdminError {
    fn from(error: KeyError) -> Self {
        let (status, code) = match &error {
            KeyError::InvalidScope(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_scope"),
            KeyError::EmptyName => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
            KeyError::InvalidDuration(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_duration"),
            KeyError::NotFound(_) => (StatusCode::NOT_FOUND, "key_not_found"),
            KeyError::Revoked(_) => (StatusCode::CONFLICT, "key_revoked"),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "key_store_unavailable"),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(%error, "key administration failed");
            return AdminError::new(
                status,
                code,
                "The key store could not answer; try again later.",
            );
        }
        AdminError::new(status, code, error.to_string())
    }
}

impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        AdminError::new(
            rejection.status(),
            "malformed_request",
            rejection.body_text(),
        )
    }
}

impl From<QueryRejection> for AdminError {
    fn from(rejection: QueryRejection) -> Self {
        AdminError::new(
            rejection.status(),
            "malformed_request",
            rejection.body_text(),
        )
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

fn duration(text: Option<&str>) -> Result<Option<std::time::Duration>, AdminError> {
    text.map(parse_duration).transpose().map_err(|error| {
        AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_duration",
            error.to_string(),
        )
    })
}

#[utoipa::path(
    post,
    path = "/admin/keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key, shown this once, and its record", body = CreatedKeyView),
        (status = 422, description = "Invalid scope, name or duration")
    )
)]
#[require_api_key(scopes = "admin")]
async fn create_key(
    State(gate): State<KeyGate>,
    body: Result<Json<CreateKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedKeyView>), AdminError> {
    let Json(request) = body?;
    let mut new = NewKey::new(request.name)
        .owner(request.owner)
        .scopes(request.scopes);
    if let Some(lifetime) = duration(request.expires_in.as_deref())? {
        new = new.expires_in(lifetime);
    }
    let created = gate.create_key(new).await?;
    Ok((StatusCode::CREATED, Json(CreatedKeyView::from(&created))))
}

#[utoipa::path(
    get,
    path = "/admin/keys",
    params(ListQuery),
    responses((status = 200, description = "Keys, oldest first; never secrets", body = Vec<KeyView>))
)]
#[require_api_key(scopes = "admin")]
async fn list_keys(
    State(gate): State<KeyGate>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<KeyView>>, AdminError> {
    let Query(query) = query?;
    let mut filter = KeyFilter::default();
    if let Some(owner) = query.owner {
        filter = filter.owner(owner);
    }
    if !query.all {
        filter = filter.state(KeyState::Active);
    }
    let records = gate.list_keys(&filter).await?;
    Ok(Json(records.iter().map(KeyView::from).collect()))
}

#[utoipa::path(
    post,
    path = "/admin/keys/{id}/rotate",
    params(("id" = String, Path, description = "The key id")),
    request_body(content = Option<RotateRequest>, description = "Optional: the grace period"),
    responses(
        (status = 201, description = "The new key, shown this once", body = CreatedKeyView),
        (status = 404, description = "No such key"),
        (status = 409, description = "The key is revoked")
    )
)]
#[require_api_key(scopes = "admin")]
async fn rotate_key(
    State(gate): State<KeyGate>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedKeyView>), AdminError> {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        RotateRequest::default()
    } else {
        serde_json::from_slice::<RotateRequest>(&body).map_err(|error| {
            AdminError::new(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                format!("The body is not a valid rotation request: {error}"),
            )
        })?
    };
    let grace = duration(request.grace.as_deref())?.unwrap_or_default();
    let created = gate.rotate_key(&id, grace).await?;
    Ok((StatusCode::CREATED, Json(CreatedKeyView::from(&created))))
}

#[utoipa::path(
    delete,
    path = "/admin/keys/{id}",
    params(("id" = String, Path, description = "The key id")),
    responses(
        (status = 200, description = "The revoked key's record", body = KeyView),
        (status = 404, description = "No such key")
    )
)]
#[require_api_key(scopes = "admin")]
async fn revoke_key(
    State(gate): State<KeyGate>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    let record = gate.revoke_key(&id).await?;
    Ok(Json(KeyView::from(&record)))
}
