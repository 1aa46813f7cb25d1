//! Refusals rendered as `application/problem+json` (RFC 9457) with a stable `code`, like
//! keygate's own: the admin routes' and the items routes'.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keygate::KeyError;

/// A refused request, rendered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<KeyError> for ApiError {
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
            tracing::error!(%error, "key administration failed");
            return ApiError::new(
                status,
                code,
                "The key store could not answer; try again later.",
            );
        }
        ApiError::new(status, code, error.to_string())
    }
}

/// A body that is not JSON (400), not declared JSON (415), not the expected shape (422), or
/// over the body limit (413).
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::new(
            rejection.status(),
            "malformed_request",
            rejection.body_text(),
        )
    }
}

/// A body over the body limit (413).
impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        ApiError::new(
            rejection.status(),
            "malformed_request",
            rejection.body_text(),
        )
    }
}

/// A query string that is not the expected shape (400).
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            rejection.status(),
            "malformed_request",
            rejection.body_text(),
        )
    }
}

/// A path parameter that is not the expected type (400).
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(
            rejection.status(),
            "malformed_request",
            rejection.body_text(),
        )
    }
}

impl IntoResponse for ApiError {
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
