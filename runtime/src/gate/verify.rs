//! Admitting a request: find the key, check it, check its scopes, log the decision.

use std::time::SystemTime;

use axum::extract::MatchedPath;
use axum::http::request::Parts;

use super::KeyGate;
use crate::credentials::presented_key;
use crate::hash::HashVersion;
use crate::identity::ApiKey;
use crate::key_format;
use crate::limit::{RateLimitStatus, Unavailable, fill_slot};
use crate::metrics;
use crate::record::KeyState;
use crate::reject::{Rejection, RejectionKind};
use crate::scope::Requirement;
use crate::usage::UsageKind;

/// Whether a check admits web console session keys: only the console's own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sessions {
    Refused,
    Admitted,
}

/// A failed check, with the key id when the key was well-formed (the id is public; it goes into
/// the decision's log event), for a revoked key the kind of its revocation reason, and whether
/// the id exists but the secret was wrong (counted in the key's usage history).
pub(super) struct Failure<'a> {
    kind: RejectionKind,
    key_id: Option<&'a str>,
    revocation: Option<String>,
    wrong_secret: bool,
}

impl<'a> Failure<'a> {
    fn new(kind: RejectionKind, key_id: Option<&'a str>) -> Self {
        Failure {
            kind,
            key_id,
            revocation: None,
            wrong_secret: false,
        }
    }

    /// How this refusal counts in the key's usage history, if it does.
    fn usage(&self) -> Option<(&'a str, UsageKind)> {
        let kind = match self.kind {
            RejectionKind::InsufficientScope { .. } => UsageKind::InsufficientScope,
            RejectionKind::RateLimited(_) => UsageKind::RateLimited,
            _ if self.wrong_secret => UsageKind::WrongSecret,
            _ => return None,
        };
        Some((self.key_id?, kind))
    }
}

impl KeyGate {
    /// Verifies a key given as text (from a command line, a message queue, a test): format,
    /// checksum, lookup, secret, state, and the key's rate limit, which it spends as a request
    /// would. Scopes are not checked; see [`ApiKey::has_scope`].
    pub async fn verify(&self, key: &str) -> Result<ApiKey, Rejection> {
        self.verify_for(key, Requirement::NONE).await
    }

    /// Verifies a key given as text and checks it against `requirement`: everything a protected
    /// route does, without HTTP, including spending one request of the key's rate limit (a key
    /// over its limit is refused with `rate_limited`).
    ///
    /// ```
    /// use keygate::{KeyGate};
    /// use keygate::scope::Requirement;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gate = KeyGate::builder().build();
    /// let key = gate.create_key(keygate::NewKey::new("reader").scopes(["items:read"])).await.unwrap();
    /// let key = key.key.expose();
    /// assert!(gate.verify_for(key, Requirement::all(&["items:read"])).await.is_ok());
    /// let denied = gate.verify_for(key, Requirement::all(&["admin"])).await.unwrap_err();
    /// assert_eq!(denied.code(), "insufficient_scope");
    /// # }
    /// ```
    pub async fn verify_for(
        &self,
        key: &str,
        requirement: Requirement<'_>,
    ) -> Result<ApiKey, Rejection> {
        self.verify_text(key, requirement, Sessions::Refused).await
    }

    /// [`verify_for`](Self::verify_for) for the web console, the one place where a console
    /// session key is admitted.
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) async fn verify_console_session(
        &self,
        key: &str,
        requirement: Requirement<'_>,
    ) -> Result<ApiKey, Rejection> {
        self.verify_text(key, requirement, Sessions::Admitted).await
    }

    async fn verify_text(
        &self,
        key: &str,
        requirement: Requirement<'_>,
        sessions: Sessions,
    ) -> Result<ApiKey, Rejection> {
        let timer = metrics::Timer::start();
        let result = self.check(key.trim(), requirement, sessions).await;
        timer.verified();
        metrics::decision(result.as_ref().map(drop).map_err(|failure| &failure.kind));
        result
            .map(|(key, _)| key)
            .map_err(|failure| self.reject(failure.kind))
    }

    /// The whole check of one presented key, without logging: the key, and where it stands
    /// against its rate limit if it has one. Counted in the key's usage history.
    async fn check<'k>(
        &self,
        presented: &'k str,
        requirement: Requirement<'_>,
        sessions: Sessions,
    ) -> Result<(ApiKey, Option<RateLimitStatus>), Failure<'k>> {
        match self.check_uncounted(presented, requirement, sessions).await {
            Ok((key, status, now)) => {
                self.inner
                    .usage
                    .record(key.key_id(), UsageKind::Admitted, now);
                Ok((key, status))
            }
            Err(failure) => {
                if let Some((key_id, kind)) = failure.usage() {
                    self.inner.usage.record(key_id, kind, SystemTime::now());
                }
                Err(failure)
            }
        }
    }

    /// [`check`](Self::check), not counted, and with the moment of the check.
    async fn check_uncounted<'k>(
        &self,
        presented: &'k str,
        requirement: Requirement<'_>,
        sessions: Sessions,
    ) -> Result<(ApiKey, Option<RateLimitStatus>, SystemTime), Failure<'k>> {
        let (key, wall, id) = self.authenticate(presented, sessions).await?;
        let id = Some(id);
        self.authorize(&key, requirement)
            .map_err(|kind| Failure::new(kind, id))?;
        // Last: only a request that would otherwise be admitted spends the key's budget.
        let status = self
            .spend(&key, wall)
            .await
            .map_err(|kind| Failure::new(kind, id))?;
        Ok((key, status, wall))
    }

    /// [`check_uncounted`](Self::check_uncounted) without the scope check and without spending
    /// the key's rate limit: the live key of this gate that `presented` is, the moment of the
    /// check (one clock read serves the state check, the rate limit and the last-used time), and
    /// the key's id as presented.
    pub(super) async fn authenticate<'k>(
        &self,
        presented: &'k str,
        sessions: Sessions,
    ) -> Result<(ApiKey, SystemTime, &'k str), Failure<'k>> {
        if presented.is_empty() {
            return Err(Failure::new(RejectionKind::Missing, None));
        }
        let parsed = key_format::parse(&self.inner.prefix, presented)
            .map_err(|_| Failure::new(RejectionKind::Invalid, None))?;
        let id = Some(parsed.key_id);
        let record = match self.inner.store.fetch(parsed.key_id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.inner.hasher.check_against_nothing(parsed.secret);
                return Err(Failure::new(RejectionKind::Invalid, id));
            }
            Err(error) => {
                tracing::error!(target: "keygate", key_id = parsed.key_id, %error, "key store failed");
                return Err(Failure::new(RejectionKind::StoreUnavailable, id));
            }
        };
        if self.inner.strict_pepper && record.hash.version != HashVersion::HmacSha256 {
            // Anyone able to write the database could have added it with a secret they know.
            tracing::warn!(
                target: "keygate",
                key_id = parsed.key_id,
                "refused a key whose stored hash is not peppered (strict pepper)"
            );
            return Err(Failure::new(RejectionKind::Invalid, id));
        }
        match self.inner.hasher.matches(&record.hash, parsed.secret) {
            Some(true) => {
                if self.inner.hasher.would_upgrade(&record.hash) {
                    self.upgrade_hash(parsed.key_id, &record.hash, parsed.secret);
                }
            }
            Some(false) => {
                return Err(Failure {
                    wrong_secret: true,
                    ..Failure::new(RejectionKind::Invalid, id)
                });
            }
            None => {
                tracing::error!(
                    target: "keygate",
                    key_id = parsed.key_id,
                    "the key's hash is peppered but this KeyGate has no pepper"
                );
                return Err(Failure::new(RejectionKind::StoreUnavailable, id));
            }
        }
        if sessions == Sessions::Refused && record.is_console_session() {
            // Its text sits in a browser's cookie, and the key that signed in (whose revocation
            // ends the session) is checked only by the console: anywhere else it is no key.
            return Err(Failure::new(RejectionKind::Invalid, id));
        }
        // One clock read for the state check, the rate limit and the last-used time.
        let wall = SystemTime::now();
        match record.state_at_time(wall) {
            KeyState::Active => {}
            KeyState::Expired => return Err(Failure::new(RejectionKind::Expired, id)),
            KeyState::Revoked => {
                return Err(Failure {
                    revocation: record.revocation.as_ref().map(|r| r.kind.clone()),
                    ..Failure::new(RejectionKind::Revoked, id)
                });
            }
        }
        Ok((ApiKey(record, self.inner.id), wall, parsed.key_id))
    }

    /// Spends one request of the key's rate limit (its own, else the gate's default). A key with
    /// neither costs nothing here.
    async fn spend(
        &self,
        key: &ApiKey,
        now: SystemTime,
    ) -> Result<Option<RateLimitStatus>, RejectionKind> {
        let Some(limit) = key.0.rate_limit.or(self.inner.default_rate_limit) else {
            return Ok(None);
        };
        match self.inner.limiter.check(key.key_id(), &limit, now).await {
            Ok(Some(status)) if !status.admitted() => Err(RejectionKind::RateLimited(status)),
            Ok(status) => Ok(status),
            Err(Unavailable) => Err(RejectionKind::RateLimiterUnavailable),
        }
    }

    /// The identity this gate already verified for the request, if any. An `ApiKey` that another
    /// gate verified (a route layer of a second `KeyGate` in front of the handler, say) is not
    /// trusted: each gate vouches only for its own keys. Only keygate makes an `ApiKey`, and
    /// always tagged with the gate that verified it.
    fn verified_here<'p>(&self, parts: &'p Parts) -> Option<&'p ApiKey> {
        parts
            .extensions
            .get::<ApiKey>()
            .filter(|key| key.1 == self.inner.id)
    }

    /// Checks an already verified identity against a requirement.
    fn authorize(&self, key: &ApiKey, requirement: Requirement<'_>) -> Result<(), RejectionKind> {
        if requirement.is_met_by(&key.0.scopes) {
            Ok(())
        } else {
            Err(RejectionKind::InsufficientScope {
                required: requirement.scopes.iter().map(|s| (*s).to_owned()).collect(),
                mode: requirement.mode,
            })
        }
    }

    /// Authenticates and authorises a request: reuses the identity already verified for it (by
    /// the route layer, or another extractor) or verifies the presented key, then checks
    /// `requirement`. Logs one event for the decision.
    ///
    /// The rate-limit status of an admitted, limited request goes into the slot that
    /// [`rate_limit_headers`](KeyGate::rate_limit_headers) left in the request, if there is one.
    pub(crate) async fn admit(
        &self,
        parts: &mut Parts,
        requirement: Requirement<'_>,
    ) -> Result<ApiKey, Rejection> {
        let (key, status) = self.admit_with_status(parts, requirement).await?;
        if let Some(status) = status {
            fill_slot(status);
        }
        Ok(key)
    }

    /// [`admit`](Self::admit), returning the rate-limit status of an admitted, limited request
    /// (`None` when the identity was already verified for this request: the first verification
    /// spent the budget and reported it).
    pub(crate) async fn admit_with_status(
        &self,
        parts: &mut Parts,
        requirement: Requirement<'_>,
    ) -> Result<(ApiKey, Option<RateLimitStatus>), Rejection> {
        if let Some(key) = self.verified_here(parts) {
            let outcome = self.authorize(key, requirement);
            log_decision(parts, Some(key.key_id()), None, &outcome);
            return match outcome {
                Ok(()) => Ok((key.clone(), None)),
                Err(kind) => Err(self.reject(kind)),
            };
        }
        let result = match presented_key(&self.inner.sources, parts) {
            Ok(None) => Err(Failure::new(RejectionKind::Missing, None)),
            Ok(Some(presented)) => match self.plain_http(parts) {
                Some(kind) => {
                    self.revoke_exposed(presented).await;
                    Err(Failure::new(kind, None))
                }
                None => {
                    let timer = metrics::Timer::start();
                    let result = self.check(presented, requirement, Sessions::Refused).await;
                    timer.verified();
                    result
                }
            },
            Err(kind) => Err(Failure::new(kind, None)),
        };
        match result {
            Ok((key, status)) => {
                log_decision(parts, Some(key.key_id()), None, &Ok(()));
                // One extension, tagged with this gate: it tells a later extractor of this gate
                // that the request is verified, and handlers may read it directly.
                parts.extensions.insert(key.clone());
                Ok((key, status))
            }
            Err(failure) => {
                log_decision(
                    parts,
                    failure.key_id,
                    failure.revocation.as_deref(),
                    &Err(failure.kind.clone()),
                );
                Err(self.reject(failure.kind))
            }
        }
    }

    /// Like [`admit`](Self::admit) with no scope requirement, but `Ok(None)` when the request
    /// presents no key at all.
    pub(crate) async fn admit_optional(
        &self,
        parts: &mut Parts,
    ) -> Result<Option<ApiKey>, Rejection> {
        let absent = self.verified_here(parts).is_none()
            && matches!(presented_key(&self.inner.sources, parts), Ok(None));
        if absent {
            return Ok(None);
        }
        self.admit(parts, Requirement::NONE).await.map(Some)
    }
}

/// One tracing event per decision: key id (public), outcome code, route, and for a revoked key the
/// kind of its revocation reason (`revocation = "leaked"`); and the decision counted in
/// `keygate_decisions_total`. Admissions are logged at DEBUG so a
/// busy service at the usual INFO level pays nothing for them.
fn log_decision(
    parts: &Parts,
    key_id: Option<&str>,
    revocation: Option<&str>,
    outcome: &Result<(), RejectionKind>,
) {
    metrics::decision(outcome.as_ref().copied());
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    match outcome {
        Ok(()) => tracing::debug!(target: "keygate", key_id, route, outcome = "admitted"),
        Err(kind @ (RejectionKind::StoreUnavailable | RejectionKind::RateLimiterUnavailable)) => {
            tracing::warn!(target: "keygate", key_id, route, outcome = kind.code())
        }
        Err(RejectionKind::Revoked) => tracing::info!(
            target: "keygate", key_id, route, outcome = "revoked_api_key", revocation
        ),
        Err(kind) => tracing::info!(target: "keygate", key_id, route, outcome = kind.code()),
    }
}
