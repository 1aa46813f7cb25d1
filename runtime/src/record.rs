//! Stored key records and the values the lifecycle API takes and returns.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use crate::hash::KeyHash;
use crate::limit::RateLimit;

pub use crate::view::KeyView;

/// The longest key name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// The longest owner, in bytes.
pub const MAX_OWNER_LEN: usize = 128;
/// The most scopes one key may hold.
pub const MAX_SCOPES: usize = 64;
/// The most metadata entries one key may hold.
pub const MAX_METADATA_ENTRIES: usize = 32;
/// The longest metadata key, in bytes.
pub const MAX_METADATA_KEY_LEN: usize = 64;
/// The longest metadata value, in bytes.
pub const MAX_METADATA_VALUE_LEN: usize = 512;

/// Everything stored about one key. The secret itself is never stored; only its [`KeyHash`].
///
/// `Debug` shows the record without the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public key id, part of the key text. Logs, dashboards and revocation use it.
    pub key_id: String,
    /// The hash of the secret.
    pub hash: KeyHash,
    /// A human name, such as `ci-deploy`.
    pub name: String,
    /// Who holds the key, such as `team-infra`.
    pub owner: String,
    /// Granted scopes; an entry may end in `*` to cover every scope starting with what precedes.
    pub scopes: Vec<String>,
    /// Free-form string metadata.
    pub metadata: BTreeMap<String, String>,
    /// When the key was created.
    pub created_at: OffsetDateTime,
    /// When the key stops being valid, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When the key was revoked, if it was. Revocation is irreversible.
    pub revoked_at: Option<OffsetDateTime>,
    /// When the key was last admitted (recorded in batches, so up to a few seconds behind).
    pub last_used_at: Option<OffsetDateTime>,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<String>,
    /// The key that replaced this one by rotation.
    pub rotated_to: Option<String>,
    /// How fast the key may call; `None`: the gate's default, if it has one.
    pub rate_limit: Option<RateLimit>,
    /// Why the key was revoked, when the revocation said: see [`RevocationReason`].
    pub revocation: Option<RevocationReason>,
}

/// The longest [`RevocationReason::kind`], in bytes.
pub const MAX_REVOCATION_KIND_LEN: usize = 32;
/// The longest [`RevocationReason::url`], in bytes; a longer one is cut at a character boundary.
pub const MAX_REVOCATION_URL_LEN: usize = 2048;
/// The longest [`RevocationReason::source`], in bytes; a longer one is cut at a character
/// boundary.
pub const MAX_REVOCATION_SOURCE_LEN: usize = 128;

/// Why a key was revoked: a kind such as `leaked`, and where the key was found. Stored with the
/// revocation and shown wherever the key is; it never holds a key or a secret.
///
/// ```
/// use keygate::record::RevocationReason;
///
/// let reason = RevocationReason::leaked(
///     Some("https://github.com/octo/app/blob/abc/config.yml".into()),
///     Some("content".into()),
/// );
/// assert_eq!(reason.kind, "leaked");
/// let json = serde_json::to_value(&reason).unwrap();
/// assert_eq!(json["source"], "content");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(
    feature = "utoipa",
    derive(utoipa::ToSchema),
    schema(description = "Why a key was revoked; never a key or a secret.")
)]
#[non_exhaustive]
pub struct RevocationReason {
    /// What happened, in lower-case words joined by `_`: `leaked` for a key a secret scanner
    /// reported.
    pub kind: String,
    /// Where the key was found, such as the address of a commit.
    pub url: Option<String>,
    /// What kind of place it was found in, as the reporter names it (`content`, `commit`, …).
    pub source: Option<String>,
}

impl RevocationReason {
    /// The kind of a key reported as exposed in public.
    pub const LEAKED: &'static str = "leaked";

    /// A reason of `kind`, with no place. `kind` is kept to lower-case ASCII letters, digits and
    /// `_`, at most [`MAX_REVOCATION_KIND_LEN`] bytes; anything else becomes `_`.
    pub fn new(kind: &str) -> Self {
        let kind = kind
            .chars()
            .take(MAX_REVOCATION_KIND_LEN)
            .map(|c| match c {
                'a'..='z' | '0'..='9' | '_' => c,
                'A'..='Z' => c.to_ascii_lowercase(),
                _ => '_',
            })
            .collect();
        RevocationReason {
            kind,
            url: None,
            source: None,
        }
    }

    /// A key found exposed at `url`, in a place of kind `source`. Both are bounded and cleaned
    /// of control characters, so a report can always be recorded and never repaints a terminal.
    pub fn leaked(url: Option<String>, source: Option<String>) -> Self {
        RevocationReason {
            url: url.map(|u| bounded_text(u, MAX_REVOCATION_URL_LEN)),
            source: source.map(|s| bounded_text(s, MAX_REVOCATION_SOURCE_LEN)),
            ..RevocationReason::new(Self::LEAKED)
        }
    }

    /// Sets where the key was found (bounded and cleaned as in [`leaked`](Self::leaked)).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(bounded_text(url.into(), MAX_REVOCATION_URL_LEN));
        self
    }

    /// Sets what kind of place it was found in (bounded and cleaned).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(bounded_text(source.into(), MAX_REVOCATION_SOURCE_LEN));
        self
    }
}

/// `text` without control characters (each becomes U+FFFD), cut to at most `max` bytes at a
/// character boundary.
fn bounded_text(text: String, max: usize) -> String {
    let mut out: String = if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect()
    } else {
        text
    };
    if out.len() > max {
        let mut end = max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

/// Where a key stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Admitted when presented.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl KeyState {
    /// The state's name as printed and filtered on: `active`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Expired => "expired",
            KeyState::Revoked => "revoked",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Marks a web console session (naming the key that signed in); reserved for the console.
pub(crate) const CONSOLE_SESSION_OF: &str = "console_session_of";

impl KeyRecord {
    /// Whether this key is a web console session, never an API key: its text sits in a browser.
    pub(crate) fn is_console_session(&self) -> bool {
        self.metadata.contains_key(CONSOLE_SESSION_OF)
    }

    /// The key's state at `now`. Revocation wins over expiry.
    pub fn state_at(&self, now: OffsetDateTime) -> KeyState {
        if self.revoked_at.is_some() {
            KeyState::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }

    /// [`state_at`](Self::state_at) a reading of the system clock, turned into a date only
    /// when the key has an expiry to compare it with: the conversion was about 130 instructions
    /// of every admitted request.
    pub(crate) fn state_at_time(&self, now: std::time::SystemTime) -> KeyState {
        match self.expires_at {
            Some(_) => self.state_at(now.into()),
            // Without an expiry the moment does not matter.
            None => self.state_at(OffsetDateTime::UNIX_EPOCH),
        }
    }
}

/// The text of a key, shown once at creation. `Debug` prints `[redacted]`, and there is no
/// `Display`: reading the key takes an explicit [`expose`](Self::expose).
#[derive(Clone, PartialEq, Eq)]
pub struct PlaintextKey(String);

impl PlaintextKey {
    pub(crate) fn new(key: String) -> Self {
        PlaintextKey(key)
    }

    /// The key text, to hand to its holder once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlaintextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlaintextKey([redacted])")
    }
}

/// A key just created: its text (shown once) and its stored record.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The key to hand to its holder. Not retrievable later.
    pub key: PlaintextKey,
    /// The stored record.
    pub record: KeyRecord,
}

/// What to create: name, owner, scopes, expiry and metadata.
///
/// ```
/// use std::time::Duration;
/// use keygate::NewKey;
///
/// let new = NewKey::new("ci-deploy")
///     .owner("team-infra")
///     .scopes(["items:read", "items:write"])
///     .expires_in(Duration::from_secs(90 * 24 * 3600))
///     .metadata("ticket", "OPS-12");
/// assert_eq!(new.scopes, ["items:read", "items:write"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewKey {
    /// A human name for the key.
    pub name: String,
    /// Who holds it.
    pub owner: String,
    /// Scopes to grant; entries may end in `*`.
    pub scopes: Vec<String>,
    /// How long the key lives, from creation. `None`: until revoked.
    pub expires_in: Option<Duration>,
    /// Free-form string metadata.
    pub metadata: BTreeMap<String, String>,
    /// How fast the key may call. `None`: the gate's default, if it has one.
    pub rate_limit: Option<RateLimit>,
}

impl NewKey {
    /// A key named `name`, with no owner, no scopes and no expiry yet.
    pub fn new(name: impl Into<String>) -> Self {
        NewKey {
            name: name.into(),
            ..NewKey::default()
        }
    }

    /// Sets the owner.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// Sets the granted scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Makes the key expire `lifetime` after creation.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Limits how fast the key may call.
    ///
    /// ```
    /// use keygate::NewKey;
    ///
    /// let new = NewKey::new("partner").rate_limit("100/min".parse().unwrap());
    /// assert_eq!(new.rate_limit.unwrap().to_string(), "100/min");
    /// ```
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }
}

/// Which records [`KeyGate::list_keys`](crate::KeyGate::list_keys) returns.
///
/// ```
/// use keygate::record::{KeyFilter, KeyState};
///
/// let active_for_infra = KeyFilter::default().owner("team-infra").state(KeyState::Active);
/// assert_eq!(active_for_infra.owner.as_deref(), Some("team-infra"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyFilter {
    /// Only keys held by this owner.
    pub owner: Option<String>,
    /// Only keys in this state (judged at the time of listing).
    pub state: Option<KeyState>,
}

impl KeyFilter {
    /// Keeps keys held by `owner`.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Keeps keys in `state`.
    pub fn state(mut self, state: KeyState) -> Self {
        self.state = Some(state);
        self
    }

    /// Whether `record` passes this filter at `now`.
    pub fn matches(&self, record: &KeyRecord, now: OffsetDateTime) -> bool {
        self.owner.as_ref().is_none_or(|o| *o == record.owner)
            && self.state.is_none_or(|s| s == record.state_at(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_bounded_and_cleaned() {
        let reason = RevocationReason::leaked(
            Some(format!("https://example.com/\u{1b}[2J{}", "é".repeat(2000))),
            Some("content\nforged".into()),
        );
        let url = reason.url.unwrap();
        assert!(url.len() <= MAX_REVOCATION_URL_LEN && url.len() > MAX_REVOCATION_URL_LEN - 2);
        assert!(!url.contains('\u{1b}'), "{url}");
        assert_eq!(reason.source.as_deref(), Some("content\u{fffd}forged"));
        assert_eq!(
            RevocationReason::new("Compromised Laptop!").kind,
            "compromised_laptop_"
        );
        assert_eq!(
            RevocationReason::new(&"x".repeat(100)).kind.len(),
            MAX_REVOCATION_KIND_LEN
        );
    }
}
