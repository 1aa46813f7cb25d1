//! Keys presented without HTTPS: refused before they are looked up, and revoked when the gate
//! is set to.

use axum::extract::MatchedPath;
use axum::http::request::Parts;

use super::KeyGate;
use super::verify::Sessions;
use crate::reject::RejectionKind;

impl KeyGate {
    /// `Some(HttpsRequired)` when the gate requires HTTPS and the request did not come over it.
    /// Decided before the key is looked up: the key is exposed either way, and a lookup would
    /// only tell whoever is listening whether it works.
    pub(super) fn plain_http(&self, parts: &Parts) -> Option<RejectionKind> {
        let why = self.inner.https.as_ref()?.check(parts).err()?;
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        tracing::warn!(
            target: "keygate",
            route,
            why = %why,
            "refused an API key sent without HTTPS; the key is exposed and should be rotated"
        );
        Some(RejectionKind::HttpsRequired)
    }

    /// Revokes a key that came over plain HTTP, when the gate is set to: only if it verifies, so
    /// a made-up key naming someone else's public id revokes nothing. Not counted as a use: the
    /// request is refused.
    pub(super) async fn revoke_exposed(&self, presented: &str) {
        if !self
            .inner
            .https
            .as_ref()
            .is_some_and(|https| https.revokes_exposed_keys())
        {
            return;
        }
        // Authenticated only: whether the key is over its rate limit, or the limiter is
        // unreachable, has no bearing on its exposure, and a refused request spends no budget.
        let Ok((key, ..)) = self
            .authenticate(presented.trim(), Sessions::Admitted)
            .await
        else {
            return;
        };
        match self.revoke_key(key.key_id()).await {
            Ok(_) => tracing::warn!(
                target: "keygate",
                key_id = key.key_id(),
                "revoked a key sent without HTTPS"
            ),
            Err(error) => tracing::error!(
                target: "keygate",
                key_id = key.key_id(),
                %error,
                "could not revoke a key sent without HTTPS"
            ),
        }
    }
}
