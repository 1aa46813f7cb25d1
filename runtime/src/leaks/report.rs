//! A secret scanning report as GitHub sends it, and the feedback keygate answers with.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One token GitHub found: `{"token", "type", "url", "source"}`. `Debug` hides the token.
#[derive(Deserialize)]
pub(super) struct ReportedToken {
    pub(super) token: String,
    #[serde(rename = "type")]
    pub(super) token_type: String,
    #[serde(default)]
    pub(super) url: Option<String>,
    #[serde(default)]
    pub(super) source: Option<String>,
}

impl fmt::Debug for ReportedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportedToken")
            .field("token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

/// Whether a reported token is one of this gate's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Label {
    /// A key of this gate: its prefix, checksum, id and secret all match a stored key.
    TruePositive,
    /// Anything else.
    FalsePositive,
}

/// GitHub's feedback for one token: its SHA-256, never the token itself.
#[derive(Debug, Serialize)]
pub(super) struct Feedback {
    pub(super) token_hash: String,
    pub(super) token_type: String,
    pub(super) label: Label,
}

impl Feedback {
    pub(super) fn new(reported: &ReportedToken, label: Label) -> Self {
        Feedback {
            token_hash: sha256_hex(&reported.token),
            token_type: reported.token_type.clone(),
            label,
        }
    }
}

/// The SHA-256 of `text`, in lower-case hex.
pub(super) fn sha256_hex(text: &str) -> String {
    crate::hash::hex(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_lower_case_sha256_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let reported: ReportedToken = serde_json::from_str(
            r#"{"token":"acme_live_secret","type":"acme","url":"https://x","source":"content"}"#,
        )
        .unwrap();
        let printed = format!("{reported:?}");
        assert!(!printed.contains("acme_live_secret"), "{printed}");
        assert!(printed.contains("content"));
    }
}
