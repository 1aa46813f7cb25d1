//! The receiving end of GitHub secret scanning: a leaked key revokes itself.
//!
//! GitHub scans every push, gist and issue for the token formats its partners register, and
//! sends what it finds to the partner's endpoint. [`KeyGate::secret_scanning`] is that endpoint,
//! as a route the service mounts wherever it likes:
//!
//! ```
//! use axum::Router;
//! use keygate::KeyGate;
//! use keygate::leaks::{LeakedKey, SecretScanning};
//!
//! let gate = KeyGate::builder().prefix("acme_live").build();
//! let scanning = SecretScanning::builder()
//!     // The default; a test points it at a local server.
//!     .keys_url(keygate::leaks::GITHUB_KEYS_URL)
//!     .on_leak(|leak: LeakedKey| async move {
//!         tracing::warn!(key_id = leak.key_id, owner = leak.owner, "a key leaked; revoked");
//!     })
//!     .build();
//! let app: Router = Router::new()
//!     .route("/security/leaked-keys", gate.secret_scanning(scanning))
//!     .with_state(gate);
//! # let _ = app;
//! ```
//!
//! For each report (`POST`, a JSON array of `{"token", "type", "url", "source"}`):
//!
//! 1. The body is read, up to [`MAX_BODY_BYTES`].
//! 2. The signature in `Github-Public-Key-Signature` (base64 of an ASN.1 DER ECDSA P-256 /
//!    SHA-256 signature) is checked over the raw body bytes, with the key named by
//!    `Github-Public-Key-Identifier`, before anything in the body is read. GitHub's keys are
//!    fetched from the keys URL when first needed, kept in memory, and fetched again when a
//!    report names a key not among them, at most once a minute.
//! 3. The body is parsed; at most [`MAX_TOKENS`] tokens.
//! 4. Each token that is a key of this gate (its prefix, checksum, id and secret all match) is
//!    revoked at once, with the reason `leaked` and the reported `url` and `source` (see
//!    [`RevocationReason`]); the service's hook hears of it
//!    ([`LeakedKey`]). A key that was revoked already keeps its first reason, and the hook is not
//!    called again.
//! 5. The answer is `200` with GitHub's feedback, one entry per token:
//!    `{"token_hash": <SHA-256 hex of the token>, "token_type", "label"}`, where `label` is
//!    `true_positive` for a key of this gate (revoked by this report or before) and
//!    `false_positive` for anything else. The response never contains a token, and no token is
//!    ever logged.
//!
//! A refused report revokes nothing. Refusals are `application/problem+json` documents with a
//! stable `code`:
//!
//! ### missing_signature
//! 400: `Github-Public-Key-Identifier` or `Github-Public-Key-Signature` is missing.
//!
//! ### invalid_signature
//! 403: the signature is not base64 of a DER signature, or it does not verify over the body.
//!
//! ### unknown_signing_key
//! 403: no key of the keys document has this identifier, fetched again for this report.
//!
//! ### signing_keys_unavailable
//! 503: the keys document could not be fetched or read, or it lacked this identifier when it
//! was fetched less than a minute ago and may not be fetched again yet (a key GitHub has just
//! published, or a made-up identifier). GitHub sends the report again later.
//!
//! ### payload_too_large
//! 413: the body is over [`MAX_BODY_BYTES`].
//!
//! ### too_many_tokens
//! 413: the report holds over [`MAX_TOKENS`] tokens.
//!
//! ### invalid_report
//! 400: the body is not a JSON array of reported tokens.
//!
//! ### key_store_unavailable
//! 503: the key store could not answer. Keys revoked before the failure stay revoked; GitHub
//! sends the report again later.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use base64::Engine as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Verifier;
use time::OffsetDateTime;

use crate::KeyGate;
use crate::key_format;
use crate::record::RevocationReason;
use crate::store::{ChangeOutcome, KeyChange};

mod receive;
mod refusal;
mod report;
mod signing_keys;

use refusal::Refusal;
use report::{Feedback, Label, ReportedToken};
use signing_keys::{KeyLookupError, SigningKeys};

/// Where GitHub publishes the keys it signs secret scanning reports with.
pub const GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";
/// The largest report body read, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most tokens one report may hold.
pub const MAX_TOKENS: usize = 1000;
/// The shortest time between two fetches of the keys document.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

const IDENTIFIER_HEADER: &str = "github-public-key-identifier";
const SIGNATURE_HEADER: &str = "github-public-key-signature";
/// The longest key identifier or signature header read; GitHub's are well under this.
const MAX_HEADER_LEN: usize = 1024;

/// A key of this gate that a report showed exposed, and that is now revoked. Handed to the
/// service's hook ([`SecretScanningBuilder::on_leak`]) so the key's owner hears about it. It
/// never holds the key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeakedKey {
    /// The public key id.
    pub key_id: String,
    /// The key's name.
    pub name: String,
    /// Who holds it.
    pub owner: String,
    /// Where the key was found, as reported.
    pub url: Option<String>,
    /// What kind of place it was found in (`content`, `commit`, …), as reported.
    pub source: Option<String>,
    /// The token type the report named: the one the service registered with GitHub.
    pub token_type: String,
    /// When this report revoked it.
    pub revoked_at: OffsetDateTime,
}

type Hook = dyn Fn(LeakedKey) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// How a secret scanning endpoint fetches GitHub's keys and whom it tells of a leak. Made by
/// [`SecretScanning::builder`]; mounted with [`KeyGate::secret_scanning`].
pub struct SecretScanning {
    keys_url: String,
    on_leak: Option<Arc<Hook>>,
    fetch_timeout: Duration,
}

impl fmt::Debug for SecretScanning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretScanning")
            .field("keys_url", &self.keys_url)
            .field("on_leak", &self.on_leak.as_ref().map(|_| "Fn"))
            .field("fetch_timeout", &self.fetch_timeout)
            .finish()
    }
}

impl SecretScanning {
    /// A builder with GitHub's keys URL and no hook.
    pub fn builder() -> SecretScanningBuilder {
        SecretScanningBuilder {
            scanning: SecretScanning {
                keys_url: GITHUB_KEYS_URL.to_owned(),
                on_leak: None,
                fetch_timeout: Duration::from_secs(10),
            },
        }
    }
}

/// Configures a [`SecretScanning`] endpoint.
#[derive(Debug)]
pub struct SecretScanningBuilder {
    scanning: SecretScanning,
}

impl SecretScanningBuilder {
    /// Where to fetch the signing keys: a JSON document
    /// `{"public_keys": [{"key_identifier", "key", "is_current"}]}` with PEM keys. Defaults to
    /// [`GITHUB_KEYS_URL`]. Fetched over HTTPS (rustls, with the Mozilla roots) when the URL says
    /// `https`; nothing is fetched until the first report arrives.
    pub fn keys_url(mut self, url: impl Into<String>) -> Self {
        self.scanning.keys_url = url.into();
        self
    }

    /// How long one fetch of the keys may take. Defaults to ten seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.scanning.fetch_timeout = timeout;
        self
    }

    /// Called once for each key a report revokes, after the revocation is stored, in a task of
    /// its own (the report's answer does not wait for it). Tell the key's owner here.
    pub fn on_leak<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(LeakedKey) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.scanning.on_leak = Some(Arc::new(move |leak| Box::pin(hook(leak))));
        self
    }

    /// The configuration, ready for [`KeyGate::secret_scanning`].
    pub fn build(self) -> SecretScanning {
        self.scanning
    }
}

/// Everything one mounted endpoint holds.
struct Receiver {
    gate: KeyGate,
    keys: SigningKeys,
    on_leak: Option<Arc<Hook>>,
}

impl KeyGate {
    /// The secret scanning endpoint for this gate's keys, as a `POST` route to mount at any path
    /// of a router of any state: see the [`leaks`](crate::leaks) module.
    pub fn secret_scanning<S>(&self, scanning: SecretScanning) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let receiver = Receiver {
            gate: self.clone(),
            keys: SigningKeys::new(scanning.keys_url, REFETCH_INTERVAL, scanning.fetch_timeout),
            on_leak: scanning.on_leak,
        };
        axum::routing::post(receive).with_state(Arc::new(receiver))
    }

    /// The regular expression that matches this gate's keys, for registering the format with a
    /// secret scanner: `<prefix>_`, 12 letters or digits (the key id), `_`, 49 letters or digits
    /// (the secret and its checksum). It matches every key this gate mints and nothing of another
    /// shape; the checksum, which no regular expression can check, is checked when a report
    /// arrives.
    ///
    /// ```
    /// use keygate::KeyGate;
    ///
    /// let gate = KeyGate::builder().prefix("acme_live").build();
    /// assert_eq!(gate.key_pattern(), "acme_live_[A-Za-z0-9]{12}_[A-Za-z0-9]{49}");
    /// ```
    pub fn key_pattern(&self) -> String {
        // A prefix holds only letters, digits and `_`, none of which a regular expression treats
        // as special.
        format!(
            "{}_[A-Za-z0-9]{{{}}}_[A-Za-z0-9]{{{}}}",
            self.inner.prefix,
            key_format::KEY_ID_LEN,
            key_format::SECRET_LEN + key_format::CHECKSUM_LEN
        )
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receiver.handle(&headers, body).await {
        Ok(feedback) => axum::Json(feedback).into_response(),
        Err(refusal) => {
            tracing::warn!(
                target: "keygate",
                code = refusal.code(),
                "refused a secret scanning report; nothing was revoked by it"
            );
            refusal.into_response()
        }
    }
}

/// A header's value as text, if present, ASCII and not absurdly long.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty() && value.len() <= MAX_HEADER_LEN)
}
