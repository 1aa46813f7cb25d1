//! Creating, listing, rotating and revoking keys, and setting their rate limits.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use time::OffsetDateTime;

use super::Caller;
use super::input::{
    duration, lifetime_within, limit_for_new, may_grant, may_limit, may_rotate_lifetime, rate_limit,
};
use super::problem::AdminError;
use super::types::{
    CreateKeyRequest, CreatedKeyView, ListQuery, RotateRequest, SetRateLimitRequest,
};
use crate::NewKey;
use crate::hygiene;
use crate::record::{KeyFilter, KeyState, KeyView};

#[utoipa::path(
    post,
    path = "/keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key, shown this once, and its record", body = CreatedKeyView),
        (status = 400, description = "The body is not JSON (`malformed_request`)"),
        (status = 403, description = "The calling key lacks the admin scope (`insufficient_scope`), or a requested scope (`scope_not_held`); or the key would be limited more loosely (`rate_limit_not_held`) or outlive it (`lifetime_not_held`)"),
        (status = 413, description = "The body is over 2 MB (`malformed_request`)"),
        (status = 415, description = "The body is not declared `application/json` (`malformed_request`)"),
        (status = 422, description = "The body is not a creation request (`malformed_request`: a missing or unknown field, a wrong type); or a field breaks its rule: `invalid_name`, `invalid_owner`, `invalid_scope`, `too_many_scopes`, `invalid_metadata`, `invalid_duration`, `invalid_rate_limit`, or `lifetime_too_long` (longer than the service's maximum key lifetime)")
    )
)]
pub(super) async fn create_key(
    caller: Caller,
    body: Result<Json<CreateKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedKeyView>), AdminError> {
    let Json(request) = body?;
    may_grant(&caller.gate, &caller.key, &request.scopes)?;
    // A key minted without an owner belongs to whoever minted it, not to nobody.
    let owner = request
        .owner
        .unwrap_or_else(|| caller.key.owner().to_owned());
    let mut new = NewKey::new(request.name)
        .owner(owner)
        .scopes(request.scopes);
    for (key, value) in request.metadata {
        new = new.metadata(key, value);
    }
    // Nor does it mint a key that outlives it, or that may call faster than it may.
    let lifetime = duration(request.expires_in.as_deref())?;
    if let Some(lifetime) = lifetime_within(&caller.gate, &caller.key, lifetime)? {
        new = new.expires_in(lifetime);
    }
    let limit = rate_limit(request.rate_limit.as_deref())?;
    if let Some(limit) = limit_for_new(&caller.gate, &caller.key, limit)? {
        new = new.rate_limit(limit);
    }
    let created = caller.gate.create_key(new).await?;
    Ok((StatusCode::CREATED, Json(CreatedKeyView::from(&created))))
}

#[utoipa::path(
    get,
    path = "/keys",
    params(ListQuery),
    responses(
        (status = 200, description = "Keys, oldest first; never secrets", body = Vec<KeyView>),
        (status = 400, description = "A query parameter repeated, unknown to `all`'s type, or malformed (`malformed_request`)"),
        (status = 422, description = "`unused_for` or `older_than` breaks the duration rule (`invalid_duration`)")
    )
)]
pub(super) async fn list_keys(
    caller: Caller,
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
    let records = caller.gate.list_keys(&filter).await?;
    let now = OffsetDateTime::now_utc();
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
    path = "/keys/{id}/rotate",
    params(("id" = String, Path, description = "The key id")),
    request_body(content = Option<RotateRequest>, description = "Optional (no body, or `null`, is `{}`): the grace period. Read as JSON whatever its `Content-Type`."),
    responses(
        (status = 201, description = "The new key, shown this once", body = CreatedKeyView),
        (status = 400, description = "The body is not a rotation request (`malformed_request`: not JSON, an unknown field, a wrong type)"),
        (status = 403, description = "The calling key lacks the admin scope (`insufficient_scope`), or a scope the key holds (`scope_not_held`); or the key is limited more loosely (`rate_limit_not_held`), or never expires while the calling key does (`lifetime_not_held`)"),
        (status = 404, description = "No such key (`key_not_found`)"),
        (status = 413, description = "The body is over 2 MB (`malformed_request`)"),
        (status = 409, description = "The key is revoked (`key_revoked`), already rotated (`key_rotated`) or expired (`key_expired`), or changed meanwhile (`key_changed`)"),
        (status = 422, description = "The grace period breaks its rule (`invalid_duration`)")
    )
)]
pub(super) async fn rotate_key(
    caller: Caller,
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
    let old = caller.gate.get_key(&id).await?;
    may_grant(&caller.gate, &caller.key, &old.scopes)?;
    // Its limit too, and it must not outlive the caller where the old key would not expire.
    may_limit(&caller.gate, &caller.key, old.rate_limit)?;
    may_rotate_lifetime(&caller.gate, &caller.key, &old)?;
    // The successor gets exactly the scopes checked here, or the rotation fails (409).
    let created = caller.gate.rotate_record(&old, grace).await?;
    Ok((StatusCode::CREATED, Json(CreatedKeyView::from(&created))))
}

#[utoipa::path(
    delete,
    path = "/keys/{id}",
    params(("id" = String, Path, description = "The key id")),
    responses(
        (status = 200, description = "The revoked key's record", body = KeyView),
        (status = 400, description = "The key id in the path is not valid text (`malformed_request`)"),
        (status = 404, description = "No such key (`key_not_found`)")
    )
)]
pub(super) async fn revoke_key(
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<KeyView>, AdminError> {
    let Path(id) = id?;
    let record = caller.gate.revoke_key(&id).await?;
    Ok(Json(KeyView::from(&record)))
}

#[utoipa::path(
    put,
    path = "/keys/{id}/rate_limit",
    params(("id" = String, Path, description = "The key id")),
    request_body = SetRateLimitRequest,
    responses(
        (status = 200, description = "The key's record, with its new rate limit", body = KeyView),
        (status = 400, description = "The body is not JSON, or the key id in the path is not valid text (`malformed_request`)"),
        (status = 403, description = "The calling key lacks the admin scope (`insufficient_scope`), or the limit is looser than its own, or none while it is limited (`rate_limit_not_held`)"),
        (status = 404, description = "No such key (`key_not_found`)"),
        (status = 409, description = "The key is revoked (`key_revoked`)"),
        (status = 413, description = "The body is over 2 MB (`malformed_request`)"),
        (status = 415, description = "The body is not declared `application/json` (`malformed_request`)"),
        (status = 422, description = "The body is not a rate-limit request (`malformed_request`: `rate_limit` missing, an unknown field, a wrong type), or the limit breaks its rule (`invalid_rate_limit`)")
    )
)]
pub(super) async fn set_rate_limit(
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<SetRateLimitRequest>, JsonRejection>,
) -> Result<Json<KeyView>, AdminError> {
    let Path(id) = id?;
    let Json(request) = body?;
    let limit = rate_limit(request.rate_limit.as_deref())?;
    may_limit(&caller.gate, &caller.key, limit)?;
    let record = caller.gate.set_rate_limit(&id, limit).await?;
    Ok(Json(KeyView::from(&record)))
}
