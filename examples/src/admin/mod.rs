//! Key administration over HTTP, scope `admin`: create, list, rotate and revoke keys, set their
//! rate limits, read their usage history, and audit them (`audit`).
//!
//! Bad input (malformed JSON, an invalid scope or name, a zero or absurd duration, an unknown key
//! id) is answered with a 4xx `application/problem+json` document carrying a `code`, and nothing
//! is written.

mod audit;
mod types;
mod usage;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keygate::duration::parse_duration;
use keygate::hygiene;
use keygate::limit::RateLimit;
use keygate::record::{KeyFilter, KeyState, KeyView};
use keygate::{ApiKey, KeyGate, NewKey};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
pub use crate::problem::ApiError as AdminError;
pub use audit::AuditQuery;
use keygate::require_api_key;
pub use types::{CreateKeyRequest, CreatedKeyView, ListQuery, RotateRequest, SetRateLimitRequest};
pub use usage::UsageQuery;

/// The admin routes, with their OpenAPI operations.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        // A static segment wins over `{id}` in axum's router, so `audit` is never taken for a
        // key id, whatever the order here.
        .routes(routes!(audit::audit_keys))
        .routes(routes!(rotate_key))
        .routes(routes!(revoke_key))
        .routes(routes!(set_rate_limit))
        .routes(routes!(usage::key_usage))
}

/// Refuses grants the calling key does not itself hold ([`keygate::admin::grant_beyond`]). The
/// command line, which holds the database, is not limited.
fn may_grant(gate: &KeyGate, caller: &ApiKey, requested: &[String]) -> Result<(), AdminError> {
    match keygate::admin::grant_beyond(gate, caller.scopes(), requested) {
        Some(grant) => Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "scope_not_held",
            format!("The calling key does not hold `{grant}`, so it cannot grant it."),
        )),
        None => Ok(()),
    }
}

/// Reads a duration as its schema states it: `parse_duration`'s grammar, written without
/// surrounding spaces or leading zeros.
fn duration(text: Option<&str>) -> Result<Option<std::time::Duration>, AdminError> {
    let refused = |detail: String| {
        AdminError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_duration", detail)
    };
    let Some(text) = text else { return Ok(None) };
    if text.trim() != text || text.starts_with('0') {
        return Err(refused(format!(
            "invalid duration `{}`: write a positive whole number without spaces or leading \
             zeros, and a unit, such as 30m, 24h, 90d or 2w",
            text.escape_default()
        )));
    }
    parse_duration(text)
        .map(Some)
        .map_err(|error| refused(error.to_string()))
}

/// Reads a rate limit as its schema states it: `RateLimit`'s grammar, written with single spaces
/// and without leading zeros.
fn rate_limit(text: Option<&str>) -> Result<Option<RateLimit>, AdminError> {
    let refused = |detail: String| {
        AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rate_limit",
            detail,
        )
    };
    let Some(text) = text else { return Ok(None) };
    let loose_space =
        text.split(' ').any(str::is_empty) || text.chars().any(|c| c.is_whitespace() && c != ' ');
    let leading_zero = text
        .split(|c: char| !c.is_ascii_digit())
        .any(|digits| digits.starts_with('0'));
    if loose_space || leading_zero {
        return Err(refused(format!(
            "invalid rate limit `{}`: write whole numbers without leading zeros, separated by \
             single spaces, such as 100/min or 10/s burst 20",
            text.escape_default()
        )));
    }
    text.parse()
        .map(Some)
        .map_err(|error: keygate::limit::RateLimitError| refused(error.to_string()))
}

#[utoipa::path(
    post,
    path = "/admin/keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key, shown this once, and its record", body = CreatedKeyView),
        (status = 400, description = "The body is not JSON (`malformed_request`)"),
        (status = 403, description = "The calling key lacks `admin` (`insufficient_scope`), or a requested scope (`scope_not_held`)"),
        (status = 413, description = "The body is over 2 MB (`malformed_request`)"),
        (status = 415, description = "The body is not declared `application/json` (`malformed_request`)"),
        (status = 422, description = "The body is not a creation request (`malformed_request`: a missing or unknown field, a wrong type); or a field breaks its rule: `invalid_name`, `invalid_owner`, `invalid_scope`, `too_many_scopes`, `invalid_metadata`, `invalid_duration`, `invalid_rate_limit`, or `lifetime_too_long` (longer than the service's maximum key lifetime)")
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
    // A key minted without an owner belongs to whoever minted it, not to nobody.
    let owner = request.owner.unwrap_or_else(|| caller.owner().to_owned());
    let mut new = NewKey::new(request.name)
        .owner(owner)
        .scopes(request.scopes);
    for (key, value) in request.metadata {
        new = new.metadata(key, value);
    }
    if let Some(lifetime) = duration(request.expires_in.as_deref())? {
        new = new.expires_in(lifetime);
    }
    if let Some(limit) = rate_limit(request.rate_limit.as_deref())? {
        new = new.rate_limit(limit);
    }
    let created = gate.create_key(new).await?;
    Ok((StatusCode::CREATED, Json(CreatedKeyView::from(&created))))
}

#[utoipa::path(
    get,
    path = "/admin/keys",
    params(ListQuery),
    responses(
        (status = 200, description = "Keys, oldest first; never secrets", body = Vec<KeyView>),
        (status = 400, description = "A query parameter repeated, unknown to `all`'s type, or malformed (`malformed_request`)"),
        (status = 422, description = "`unused_for` or `older_than` breaks the duration rule (`invalid_duration`)")
    )
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
    let unused_for = duration(query.unused_for.as_deref())?;
    let older_than = duration(query.older_than.as_deref())?;
    let records = gate.list_keys(&filter).await?;
    let now = time::OffsetDateTime::now_utc();
    Ok(Json(
        records
            .iter()
            .filter(|record| unused_for.is_none_or(|p| hygiene::is_unused_for(record, p, now)))
            .filter(|record| older_than.is_none_or(|p| hygiene::is_older_than(record, p, now)))
            .map(|record| KeyView::at(record, now))
            .collect(),
    ))
}

#[utoipa::path(
    post,
    path = "/admin/keys/{id}/rotate",
    params(("id" = String, Path, description = "The key id")),
    request_body(content = Option<RotateRequest>, description = "Optional (no body, or `null`, is `{}`): the grace period. Read as JSON whatever its `Content-Type`."),
    responses(
        (status = 201, description = "The new key, shown this once", body = CreatedKeyView),
        (status = 400, description = "The body is not a rotation request (`malformed_request`: not JSON, an unknown field, a wrong type)"),
        (status = 403, description = "The calling key lacks `admin` (`insufficient_scope`), or a scope the key holds (`scope_not_held`)"),
        (status = 404, description = "No such key (`key_not_found`)"),
        (status = 413, description = "The body is over 2 MB (`malformed_request`)"),
        (status = 409, description = "The key is revoked (`key_revoked`), already rotated (`key_rotated`) or expired (`key_expired`), or changed meanwhile (`key_changed`)"),
        (status = 422, description = "The grace period breaks its rule (`invalid_duration`)")
    )
)]
#[require_api_key(scopes = "admin")]
async fn rotate_key(
    State(gate): State<KeyGate>,
    caller: ApiKey,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<CreatedKeyView>), AdminError> {
    let Path(id) = id?;
    let body = body?;
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        RotateRequest::default()
    } else {
        serde_json::from_slice::<Option<RotateRequest>>(&body)
            .map(Option::unwrap_or_default)
            .map_err(|error| {
                AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_request",
                    format!("The body is not a valid rotation request: {error}"),
                )
            })?
    };
    let grace = duration(request.grace.as_deref())?.unwrap_or_default();
    // The successor holds the old key's scopes, so the caller must be able to grant them.
    let old = gate.get_key(&id).await?;
    may_grant(&gate, &caller, &old.scopes)?;
    // The successor gets exactly the scopes checked here, or the rotation fails (409).
    let created = gate.rotate_record(&old, grace).await?;
    Ok((StatusCode::CREATED, Json(CreatedKeyView::from(&created))))
}

#[utoipa::path(
    delete,
    path = "/admin/keys/{id}",
    params(("id" = String, Path, description = "The key id")),
    responses(
        (status = 200, description = "The revoked key's record", body = KeyView),
        (status = 400, description = "The key id in the path is not valid text (`malformed_request`)"),
        (status = 404, description = "No such key (`key_not_found`)")
    )
)]
#[require_api_key(scopes = "admin")]
async fn revoke_key(
    State(gate): State<KeyGate>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<KeyView>, AdminError> {
    let Path(id) = id?;
    let record = gate.revoke_key(&id).await?;
    Ok(Json(KeyView::from(&record)))
}

#[utoipa::path(
    put,
    path = "/admin/keys/{id}/rate_limit",
    params(("id" = String, Path, description = "The key id")),
    request_body = SetRateLimitRequest,
    responses(
        (status = 200, description = "The key's record, with its new rate limit", body = KeyView),
        (status = 400, description = "The body is not JSON, or the key id in the path is not valid text (`malformed_request`)"),
        (status = 404, description = "No such key (`key_not_found`)"),
        (status = 409, description = "The key is revoked (`key_revoked`)"),
        (status = 413, description = "The body is over 2 MB (`malformed_request`)"),
        (status = 415, description = "The body is not declared `application/json` (`malformed_request`)"),
        (status = 422, description = "The body is not a rate-limit request (`malformed_request`: `rate_limit` missing, an unknown field, a wrong type), or the limit breaks its rule (`invalid_rate_limit`)")
    )
)]
#[require_api_key(scopes = "admin")]
async fn set_rate_limit(
    State(gate): State<KeyGate>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<SetRateLimitRequest>, JsonRejection>,
) -> Result<Json<KeyView>, AdminError> {
    let Path(id) = id?;
    let Json(request) = body?;
    let limit = rate_limit(request.rate_limit.as_deref())?;
    let record = gate.set_rate_limit(&id, limit).await?;
    Ok(Json(KeyView::from(&record)))
}
