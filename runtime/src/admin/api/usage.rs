//! `GET /keys/{id}/usage`: a key's usage history, per UTC hour.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;

use super::Caller;
use super::problem::AdminError;
use crate::duration::parse_duration;
use crate::usage::UsageHour;

/// How far back `GET /keys/{id}/usage` looks.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UsageQuery {
    /// How far back, such as `24h`, `7d` or `90d` (a whole number and a unit, `s`, `m`, `h`, `d`
    /// or `w`). Default `7d`. History older than the service's retention (90 days unless
    /// configured) is gone.
    #[param(value_type = Option<String>, example = "7d", pattern = "^[1-9][0-9]{0,2}[smhdw]$")]
    since: Option<String>,
}

/// The default look back.
const DEFAULT_SINCE: &str = "7d";

#[utoipa::path(
    get,
    path = "/keys/{id}/usage",
    params(("id" = String, Path, description = "The key id"), UsageQuery),
    responses(
        (status = 200, description = "The key's usage per UTC hour, oldest first; hours without use have no entry", body = Vec<UsageHour>),
        (status = 400, description = "`since` is not a duration, or a query parameter is malformed or repeated (`malformed_request`)"),
        (status = 404, description = "No such key (`key_not_found`)")
    )
)]
pub(super) async fn key_usage(
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<Vec<UsageHour>>, AdminError> {
    let Path(id) = id?;
    let Query(query) = query?;
    let since = query.since.as_deref().unwrap_or(DEFAULT_SINCE);
    let back = parse_duration(since).map_err(|error| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            format!("`since`: {error}"),
        )
    })?;
    let since = OffsetDateTime::now_utc() - back;
    Ok(Json(caller.gate.usage(&id, since).await?))
}
