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
use keygate::{ApiKey, KeyError, KeyGate, NewKey};
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
        // The client's mistakes are 4xx with a code naming them; only what keygate itself could
        // not do is 5xx.
        let (status, code) = match &error {
            KeyError::InvalidScope(_) | KeyError::UndeclaredScope { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_scope")
            }
            KeyError::TooManyScopes { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "too_many_scopes"),
            KeyError::EmptyName => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
            KeyError::InvalidText { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                match *field {
                    "name" => "invalid_name",
                    "owner" => "invalid_owner",
                    _ => "invalid_metadata",
                },
            ),
            KeyError::InvalidDuration(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_duration"),
            KeyError::NotFound(_) => (StatusCode::NOT_FOUND, "key_not_found"),
            KeyError::Revoked(_) => (StatusCode::CONFLICT, "key_revoked"),
            KeyError::Rotated(_) => (StatusCode::CONFLICT, "key_rotated"),
            KeyError::Expired(_) => (StatusCode::CONFLICT, "key_expired"),
            KeyError::Conflict(_) => (StatusCode::CONFLICT, "key_changed"),
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

/// Refuses grants the calling key does not itself hold: a key never mints a key broader than
/// itself (as with GitHub's fine-grained tokens). The command line, which holds the database, is
/// not limited.
///
/// Malformed or undeclared grants are left to the gate, which answers them with 422: what is
/// wrong with the request comes before who is asking.
fn may_grant(gate: &KeyGate, caller: &ApiKey, requested: &[String]) -> Result<(), AdminError> {
    let declared = |grant: &str| {
        gate.declared_scopes().is_none_or(|scopes| {
            scopes
                .iter()
                .any(|s| keygate::scope::grant_includes(grant, s.name))
        })
    };
    let beyond = requested.iter().find(|grant| {
        keygate::scope::is_valid_grant(grant)
            && declared(grant)
            && !caller
                .scopes()
                .iter()
                .any(|held| keygate::scope::grant_includes(held, grant))
    });
    match beyond {
        Some(grant) => Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "scope_not_held",
            format!("The calling key does not hold `{grant}`, so it cannot grant it."),
        )),
        None => Ok(()),
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
        (status = 403, description = "A requested scope the calling key does not hold (`scope_not_held`)"),
        (status = 422, description = "Invalid scope, name, owner, metadata or duration")
    )
)]
#[require_api_key(scopes = "admin")]
async fn create_key(
    State(gate): State<KeyGate>,
    caller: ApiKey,
    body: Result<Json<CreateKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedKeyView>), AdminError> {
    let Json(request) = body?;
    may_grant(&gate, &caller, &request.scopes)?;
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
        (status = 403, description = "The key holds a scope the calling key does not (`scope_not_held`)"),
        (status = 404, description = "No such key"),
        (status = 409, description = "The key is revoked (`key_revoked`), already rotated (`key_rotated`) or expired (`key_expired`)")
    )
)]
#[require_api_key(scopes = "admin")]
async fn rotate_key(
    State(gate): State<KeyGate>,
    caller: ApiKey,
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
    // The successor holds the old key's scopes, so the caller must be able to grant them.
    may_grant(&gate, &caller, &gate.get_key(&id).await?.scopes)?;
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
