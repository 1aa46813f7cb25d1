//! Refused reports, rendered as `application/problem+json` like keygate's other rejections.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{MAX_BODY_BYTES, MAX_TOKENS};

/// Why a report was refused. Nothing is revoked for a refused report.
#[derive(Debug)]
pub(super) enum Refusal {
    MissingSignature,
    InvalidSignature,
    UnknownSigningKey,
    SigningKeysUnavailable,
    PayloadTooLarge,
    TooManyTokens,
    InvalidReport,
    KeyStoreUnavailable,
}

impl Refusal {
    pub(super) fn code(&self) -> &'static str {
        match self {
            Refusal::MissingSignature => "missing_signature",
            Refusal::InvalidSignature => "invalid_signature",
            Refusal::UnknownSigningKey => "unknown_signing_key",
            Refusal::SigningKeysUnavailable => "signing_keys_unavailable",
            Refusal::PayloadTooLarge => "payload_too_large",
            Refusal::TooManyTokens => "too_many_tokens",
            Refusal::InvalidReport => "invalid_report",
            Refusal::KeyStoreUnavailable => "key_store_unavailable",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Refusal::MissingSignature | Refusal::InvalidReport => StatusCode::BAD_REQUEST,
            Refusal::InvalidSignature | Refusal::UnknownSigningKey => StatusCode::FORBIDDEN,
            Refusal::PayloadTooLarge | Refusal::TooManyTokens => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::SigningKeysUnavailable | Refusal::KeyStoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Refusal::MissingSignature => "Signature required",
            Refusal::InvalidSignature => "Invalid signature",
            Refusal::UnknownSigningKey => "Unknown signing key",
            Refusal::SigningKeysUnavailable => "Signing keys unavailable",
            Refusal::PayloadTooLarge => "Report too large",
            Refusal::TooManyTokens => "Too many tokens",
            Refusal::InvalidReport => "Invalid report",
            Refusal::KeyStoreUnavailable => "Key store unavailable",
        }
    }

    fn detail(&self) -> String {
        match self {
            Refusal::MissingSignature => "The report needs the headers \
                Github-Public-Key-Identifier and Github-Public-Key-Signature."
                .to_owned(),
            Refusal::InvalidSignature => {
                "The signature does not verify over the report's body.".to_owned()
            }
            Refusal::UnknownSigningKey => {
                "No published signing key has this identifier.".to_owned()
            }
            Refusal::SigningKeysUnavailable => {
                "The signing key this report names is not available right now; try again later."
                    .to_owned()
            }
            Refusal::PayloadTooLarge => {
                format!("The report is over {MAX_BODY_BYTES} bytes.")
            }
            Refusal::TooManyTokens => format!("The report holds over {MAX_TOKENS} tokens."),
            Refusal::InvalidReport => "The report is not a JSON array of \
                {\"token\", \"type\", \"url\", \"source\"} objects."
                .to_owned(),
            Refusal::KeyStoreUnavailable => {
                "The reported keys could not be checked right now; try again later.".to_owned()
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let code = self.code();
        let problem = serde_json::json!({
            "type": format!("{}#{code}", crate::reject::PROBLEM_TYPES),
            "title": self.title(),
            "status": self.status().as_u16(),
            "detail": self.detail(),
            "code": code,
        });
        (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            problem.to_string(),
        )
            .into_response()
    }
}
