//! `GET /keys/audit`: the keys to rotate, revoke or give an expiry, as `keygate keys audit
//! --json` prints them.

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;
use utoipa::IntoParams;

use super::Caller;
use super::input::duration;
use super::problem::AdminError;
use crate::hygiene::{AuditPolicy, AuditReport};

/// The periods `GET /keys/audit` judges keys by.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    /// Report keys not used for this long (or never, and created this long ago), such as `30d`.
    /// Default `90d`.
    #[param(value_type = Option<String>, example = "90d", pattern = "^[1-9][0-9]{0,2}[smhdw]$")]
    unused_for: Option<String>,
    /// Report keys created this long ago and never rotated, such as `365d`. Default `180d`.
    #[param(value_type = Option<String>, example = "180d", pattern = "^[1-9][0-9]{0,2}[smhdw]$")]
    older_than: Option<String>,
}

#[utoipa::path(
    get,
    path = "/keys/audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Active keys with findings (never used, unused, not rotated, no expiry, wildcard scope), each with what to do; revoked, expired and rotated keys are only counted", body = AuditReport),
        (status = 400, description = "A query parameter is unknown or repeated (`malformed_request`)"),
        (status = 422, description = "A period breaks the duration rule (`invalid_duration`)")
    )
)]
pub(super) async fn audit_keys(
    caller: Caller,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditReport>, AdminError> {
    let Query(query) = query?;
    let mut policy = AuditPolicy::default();
    if let Some(period) = duration(query.unused_for.as_deref())? {
        policy = policy.unused_for(period);
    }
    if let Some(period) = duration(query.older_than.as_deref())? {
        policy = policy.older_than(period);
    }
    Ok(Json(caller.gate.audit_keys(&policy).await?))
}
