//! The admin routes' refusals, rendered as `application/problem+json` like keygate's other
//! rejections, each with a stable `code` documented in the [module docs](super).

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::KeyError;
use crate::reject::PROBLEM_TYPES;

/// A refused admin request: what is wrong with it (4xx), or that the key store could not
/// answer (503). Nothing was written.
#[derive(Debug)]
pub(super) struct AdminError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl AdminError {
    pub(super) fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// A request body, query or path that is not what the route reads.
    fn malformed(status: StatusCode, detail: String) -> Self {
        AdminError::new(status, "malformed_request", detail)
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
            KeyError::LifetimeTooLong { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "lifetime_too_long")
            }
            KeyError::NotFound(_) => (StatusCode::NOT_FOUND, "key_not_found"),
            KeyError::Revoked(_) => (StatusCode::CONFLICT, "key_revoked"),
            KeyError::Rotated(_) => (StatusCode::CONFLICT, "key_rotated"),
            KeyError::Expired(_) => (StatusCode::CONFLICT, "key_expired"),
            KeyError::Conflict(_) => (StatusCode::CONFLICT, "key_changed"),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "key_store_unavailable"),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // The store's own words stay in the log: they may name hosts, files or queries.
            tracing::error!(target: "keygate", %error, "key administration failed");
            return AdminError::new(
                status,
                code,
                "The key store could not answer; try again later.",
            );
        }
        AdminError::new(status, code, error.to_string())
    }
}

/// A body that is not JSON (400), not declared JSON (415), not the expected shape (422), or
/// over the body limit (413).
impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        AdminError::malformed(rejection.status(), rejection.body_text())
    }
}

/// A body over the body limit (413).
impl From<BytesRejection> for AdminError {
    fn from(rejection: BytesRejection) -> Self {
        AdminError::malformed(rejection.status(), rejection.body_text())
    }
}

/// A query string that is not the expected shape (400).
impl From<QueryRejection> for AdminError {
    fn from(rejection: QueryRejection) -> Self {
        AdminError::malformed(rejection.status(), rejection.body_text())
    }
}

/// A path parameter that is not valid text (400).
impl From<PathRejection> for AdminError {
    fn from(rejection: PathRejection) -> Self {
        AdminError::malformed(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("{PROBLEM_TYPES}#{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body.to_string(),
        )
            .into_response()
    }
}
