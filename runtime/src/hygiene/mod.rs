//! Key hygiene: which keys should be rotated, revoked or given an expiry.
//!
//! [`audit`] looks at key records and reports, per key, what an operator should act on; each
//! finding says what to do. [`KeyGate::audit_keys`] runs it over the gate's store. The command
//! line (`keygate keys audit`) and an admin route print the same report.
//!
//! Only keys that still work are audited: revoked and expired keys, and keys already rotated
//! (their successor is audited instead), are counted in the report but never findings.
//!
//! ```
//! use keygate::hygiene::{AuditPolicy, FindingKind};
//! use keygate::{KeyGate, NewKey};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let gate = KeyGate::builder().build();
//! gate.create_key(NewKey::new("ops").scopes(["items:*"])).await.unwrap();
//! let report = gate.audit_keys(&AuditPolicy::default()).await.unwrap();
//! let kinds: Vec<FindingKind> = report.keys[0].findings.iter().map(|f| f.kind).collect();
//! assert_eq!(kinds, [FindingKind::NoExpiry, FindingKind::WildcardScope]);
//! assert!(!report.is_clean());
//! # }
//! ```

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::duration::format_duration;
use crate::record::{KeyRecord, KeyState};
use crate::scope::is_wildcard_grant;
use crate::view::rfc3339_seconds;
use crate::{KeyError, KeyGate};

/// The periods an audit judges keys by.
///
/// ```
/// use std::time::Duration;
/// use keygate::hygiene::AuditPolicy;
///
/// let policy = AuditPolicy::default().unused_for(Duration::from_secs(30 * 86_400));
/// assert_eq!(policy.older_than, Duration::from_secs(180 * 86_400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditPolicy {
    /// A key not admitted for this long (or never, and created this long ago) is a finding.
    /// Default 90 days.
    pub unused_for: Duration,
    /// A key created this long ago and never rotated is a finding. Default 180 days.
    pub older_than: Duration,
}

impl Default for AuditPolicy {
    fn default() -> Self {
        AuditPolicy {
            unused_for: Duration::from_secs(90 * 86_400),
            older_than: Duration::from_secs(180 * 86_400),
        }
    }
}

impl AuditPolicy {
    /// Sets how long a key may go unused.
    pub fn unused_for(mut self, period: Duration) -> Self {
        self.unused_for = period;
        self
    }

    /// Sets how old a key may grow before it should be rotated.
    pub fn older_than(mut self, period: Duration) -> Self {
        self.older_than = period;
        self
    }
}

/// What an audit found wrong with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingKind {
    /// Never admitted, and created at least [`AuditPolicy::unused_for`] ago.
    NeverUsed,
    /// Last admitted at least [`AuditPolicy::unused_for`] ago.
    Unused,
    /// Created at least [`AuditPolicy::older_than`] ago and never rotated.
    NotRotated,
    /// Works until revoked.
    NoExpiry,
    /// Holds `*` or a grant ending in `:*`, which also covers scopes added later.
    WildcardScope,
}

impl FindingKind {
    /// The kind's name as serialised: `never_used`, `unused`, `not_rotated`, `no_expiry`,
    /// `wildcard_scope`.
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::NeverUsed => "never_used",
            FindingKind::Unused => "unused",
            FindingKind::NotRotated => "not_rotated",
            FindingKind::NoExpiry => "no_expiry",
            FindingKind::WildcardScope => "wildcard_scope",
        }
    }
}

/// One thing to act on about one key: what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct Finding {
    /// What kind of finding.
    pub kind: FindingKind,
    /// What was found, such as `never used since it was created 120 days ago`.
    pub found: String,
    /// What to do, with the `keygate` command that does it.
    pub action: String,
}

/// A key with at least one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct KeyFindings {
    /// The public key id.
    pub key_id: String,
    /// The key's name.
    pub name: String,
    /// Who holds it.
    pub owner: String,
    /// When it was created (RFC 3339, UTC, whole seconds).
    #[serde(with = "rfc3339_seconds")]
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// When it was last admitted, if ever.
    #[serde(with = "rfc3339_seconds::option")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<OffsetDateTime>,
    /// What was found, in the order of [`FindingKind`].
    pub findings: Vec<Finding>,
}

/// The result of an audit: the keys with findings, and how many keys were looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct AuditReport {
    /// When the audit judged the keys.
    #[serde(with = "rfc3339_seconds")]
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = DateTime))]
    pub audited_at: OffsetDateTime,
    /// The unused period, as a duration such as `90d`.
    pub unused_for: String,
    /// The age period, as a duration such as `180d`.
    pub older_than: String,
    /// Keys audited: active and not yet rotated.
    pub audited: usize,
    /// Revoked keys, not audited.
    pub revoked: usize,
    /// Expired keys, not audited.
    pub expired: usize,
    /// Keys already rotated and in their grace period, not audited (their successors are).
    pub rotated: usize,
    /// The audited keys with findings, oldest first.
    pub keys: Vec<KeyFindings>,
}

impl AuditReport {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many findings, over all keys.
    pub fn finding_count(&self) -> usize {
        self.keys.iter().map(|key| key.findings.len()).sum()
    }
}

/// `at - period`, or the earliest moment when that is before it.
fn before(at: OffsetDateTime, period: Duration) -> OffsetDateTime {
    time::Duration::try_from(period)
        .ok()
        .and_then(|period| at.checked_sub(period))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH - time::Duration::days(365 * 1000))
}

/// Whether `record` went unused for `period` up to `now`: last admitted at least `period` ago,
/// or never admitted and created at least `period` ago (a key made yesterday has not been
/// unused for 90 days).
///
/// ```
/// use std::time::Duration;
/// use keygate::hygiene::is_unused_for;
/// use keygate::{KeyGate, NewKey};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let gate = KeyGate::builder().build();
/// let mut record = gate.create_key(NewKey::new("ci")).await.unwrap().record;
/// let day = Duration::from_secs(86_400);
/// let now = record.created_at;
/// assert!(!is_unused_for(&record, 30 * day, now), "new keys are not unused yet");
/// record.created_at -= time::Duration::days(100);
/// assert!(is_unused_for(&record, 30 * day, now));
/// record.last_used_at = Some(now - time::Duration::days(2));
/// assert!(!is_unused_for(&record, 30 * day, now));
/// # }
/// ```
pub fn is_unused_for(record: &KeyRecord, period: Duration, now: OffsetDateTime) -> bool {
    let since = before(now, period);
    record.last_used_at.unwrap_or(record.created_at) <= since
}

/// Whether `record` was created at least `period` before `now`.
pub fn is_older_than(record: &KeyRecord, period: Duration, now: OffsetDateTime) -> bool {
    record.created_at <= before(now, period)
}

/// Whole days from `then` to `now`.
fn days(then: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (now - then).whole_days()
}

/// What is wrong with one active, unrotated key, and what to do.
fn findings(record: &KeyRecord, policy: &AuditPolicy, now: OffsetDateTime) -> Vec<Finding> {
    let id = &record.key_id;
    let mut found = Vec::new();
    let mut add = |kind, what: String, action: String| {
        found.push(Finding {
            kind,
            found: what,
            action,
        })
    };
    let revoke = format!("keygate keys revoke {id}");
    let rotate = format!("keygate keys rotate {id} --grace 24h");
    match record.last_used_at {
        None if is_unused_for(record, policy.unused_for, now) => add(
            FindingKind::NeverUsed,
            format!(
                "never used since it was created {} days ago",
                days(record.created_at, now)
            ),
            format!("revoke it if nobody needs it: {revoke}"),
        ),
        Some(last) if is_unused_for(record, policy.unused_for, now) => add(
            FindingKind::Unused,
            format!("not used for {} days", days(last, now)),
            format!("revoke it if nobody needs it any more: {revoke}"),
        ),
        _ => {}
    }
    if is_older_than(record, policy.older_than, now) {
        add(
            FindingKind::NotRotated,
            format!(
                "created {} days ago and never rotated",
                days(record.created_at, now)
            ),
            format!("rotate it, and hand its holder the new key: {rotate}"),
        );
    }
    if record.expires_at.is_none() {
        add(
            FindingKind::NoExpiry,
            "never expires".into(),
            format!("set an expiry: keygate keys set-expiry {id} 90d"),
        );
    }
    let wildcards: Vec<&str> = record
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|grant| is_wildcard_grant(grant))
        .collect();
    if !wildcards.is_empty() {
        add(
            FindingKind::WildcardScope,
            format!(
                "holds the wildcard scope `{}`, which also covers scopes added later",
                wildcards.join("`, `")
            ),
            format!(
                "grant only the scopes it uses: create a key with explicit --scopes, hand it \
                 over, then {revoke}"
            ),
        );
    }
    found
}

/// Audits `records` at `now`: the findings of every active key not yet rotated, and how many
/// keys were left out and why.
pub fn audit(records: &[KeyRecord], policy: &AuditPolicy, now: OffsetDateTime) -> AuditReport {
    let mut report = AuditReport {
        audited_at: now,
        unused_for: format_duration(policy.unused_for),
        older_than: format_duration(policy.older_than),
        audited: 0,
        revoked: 0,
        expired: 0,
        rotated: 0,
        keys: Vec::new(),
    };
    for record in records {
        match record.state_at(now) {
            KeyState::Revoked => report.revoked += 1,
            KeyState::Expired => report.expired += 1,
            KeyState::Active if record.rotated_to.is_some() => report.rotated += 1,
            KeyState::Active => {
                report.audited += 1;
                let findings = findings(record, policy, now);
                if !findings.is_empty() {
                    report.keys.push(KeyFindings {
                        key_id: record.key_id.clone(),
                        name: record.name.clone(),
                        owner: record.owner.clone(),
                        created_at: record.created_at,
                        last_used_at: record.last_used_at,
                        findings,
                    });
                }
            }
        }
    }
    report
}

impl KeyGate {
    /// Audits every key in the store now: see [`audit`]. Pending last-used times are written
    /// first, so a key used a moment ago is not reported unused.
    pub async fn audit_keys(&self, policy: &AuditPolicy) -> Result<AuditReport, KeyError> {
        self.flush_usage().await?;
        let records = self.list_keys(&Default::default()).await?;
        Ok(audit(&records, policy, OffsetDateTime::now_utc()))
    }
}

#[cfg(test)]
mod tests;
