//! The one serialisable view of a key record, for anything that shows keys to people or programs:
//! the command line's `--json`, an admin API's responses.

use std::collections::BTreeMap;

use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};

use crate::record::{KeyRecord, KeyState, RevocationReason};

/// A key's record as shown outside the service: never the hash, never a secret. Its state is
/// judged at one moment, and its timestamps are UTC with whole seconds, serialised as RFC 3339
/// (`2026-11-28T17:00:00Z`), whichever store the record came from.
///
/// ```
/// use keygate::{KeyGate, NewKey};
/// use keygate::record::{KeyState, KeyView};
/// use time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let gate = KeyGate::builder().prefix("acme_live").build();
/// let created = gate
///     .create_key(NewKey::new("ci-deploy").owner("team-infra").scopes(["items:read"]))
///     .await
///     .unwrap();
///
/// let view = KeyView::from(&created.record);
/// assert_eq!(view.state, KeyState::Active);
/// assert_eq!(view.created_at.nanosecond(), 0);
///
/// let json = serde_json::to_value(&view).unwrap();
/// assert_eq!(json["name"], "ci-deploy");
/// assert_eq!(json["state"], "active");
/// let created_at = json["created_at"].as_str().unwrap();
/// assert!(created_at.ends_with('Z') && !created_at.contains('.'), "{created_at}");
/// assert!(json.get("hash").is_none());
///
/// // The state at another moment.
/// let later = KeyView::at(&created.record, view.created_at + Duration::days(1));
/// assert_eq!(later.state, KeyState::Active);
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(
    feature = "utoipa",
    derive(utoipa::ToSchema),
    schema(
        description = "A key's record: never the hash, never a secret. Timestamps are RFC 3339 \
        in UTC with whole seconds."
    )
)]
pub struct KeyView {
    /// The public key id.
    pub key_id: String,
    /// The key's name, such as `ci-deploy`.
    pub name: String,
    /// Who holds it, such as `team-infra`.
    pub owner: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Free-form string metadata.
    pub metadata: BTreeMap<String, String>,
    /// `active`, `expired` or `revoked`, at the moment the view was made.
    #[cfg_attr(feature = "utoipa", schema(schema_with = openapi::state))]
    pub state: KeyState,
    /// When the key was created.
    #[serde(with = "rfc3339_seconds")]
    #[cfg_attr(feature = "utoipa", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// When the key stops being valid, if ever.
    #[serde(with = "rfc3339_seconds::option")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<OffsetDateTime>,
    /// When the key was revoked, if it was.
    #[serde(with = "rfc3339_seconds::option")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<OffsetDateTime>,
    /// When the key was last admitted (recorded in batches, so up to a few seconds behind).
    #[serde(with = "rfc3339_seconds::option")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<OffsetDateTime>,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<String>,
    /// The key that replaced this one by rotation.
    pub rotated_to: Option<String>,
    /// Why the key was revoked, when the revocation said (`kind` `leaked`: a secret scanner
    /// found it in public, at `url`).
    pub revocation: Option<RevocationReason>,
    /// The key's own rate limit, such as `100/min` or `10/s burst 20`; `null`: the service's
    /// default, if it has one.
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<String>, example = "100/min"))]
    pub rate_limit: Option<crate::limit::RateLimit>,
}

impl KeyView {
    /// The view of `record` with its state judged at `now`.
    pub fn at(record: &KeyRecord, now: OffsetDateTime) -> Self {
        KeyView {
            key_id: record.key_id.clone(),
            name: record.name.clone(),
            owner: record.owner.clone(),
            scopes: record.scopes.clone(),
            metadata: record.metadata.clone(),
            state: record.state_at(now),
            created_at: whole_seconds_utc(record.created_at),
            // Rounded up, so a view never shows an expiry that has passed beside `active`.
            expires_at: record.expires_at.map(whole_seconds_utc_up),
            revoked_at: record.revoked_at.map(whole_seconds_utc),
            last_used_at: record.last_used_at.map(whole_seconds_utc),
            rotated_from: record.rotated_from.clone(),
            rotated_to: record.rotated_to.clone(),
            revocation: record.revocation.clone(),
            rate_limit: record.rate_limit,
        }
    }
}

impl From<&KeyRecord> for KeyView {
    /// The view of `record` with its state judged now.
    fn from(record: &KeyRecord) -> Self {
        KeyView::at(record, OffsetDateTime::now_utc())
    }
}

/// `at` in UTC without its fraction of a second. A record fresh from creation carries
/// nanoseconds and one read back from SQL milliseconds; shown, both must read the same.
/// `at` in UTC, rounded up to the next whole second unless it is one already.
fn whole_seconds_utc_up(at: OffsetDateTime) -> OffsetDateTime {
    let down = whole_seconds_utc(at);
    if down < at {
        down + time::Duration::SECOND
    } else {
        down
    }
}

fn whole_seconds_utc(at: OffsetDateTime) -> OffsetDateTime {
    let utc = at.to_offset(UtcOffset::UTC);
    utc.replace_nanosecond(0).unwrap_or(utc)
}

/// RFC 3339 in UTC with whole seconds, also for a view whose fields were set by hand.
pub(crate) mod rfc3339_seconds {
    use serde::{Serializer, ser::Error as _};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub(crate) fn serialize<S: Serializer>(
        at: &OffsetDateTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let text = super::whole_seconds_utc(*at)
            .format(&Rfc3339)
            .map_err(S::Error::custom)?;
        serializer.serialize_str(&text)
    }

    pub(crate) mod option {
        use serde::Serializer;
        use time::OffsetDateTime;

        pub(crate) fn serialize<S: Serializer>(
            at: &Option<OffsetDateTime>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, serializer),
                None => serializer.serialize_none(),
            }
        }
    }
}

#[cfg(feature = "utoipa")]
mod openapi {
    use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

    use crate::record::KeyState;

    /// `state` as an enumeration of the names [`KeyState`] serialises to.
    pub(super) fn state() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(
                [KeyState::Active, KeyState::Expired, KeyState::Revoked].map(KeyState::as_str),
            ))
            .description(Some(
                "`active`, `expired` or `revoked`, when the view was made",
            ))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::{whole_seconds_utc, whole_seconds_utc_up};

    #[test]
    fn an_expiry_is_never_shown_earlier_than_it_is() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_400_000_000).unwrap();
        assert_eq!(whole_seconds_utc(at).unix_timestamp(), 1_700_000_000);
        assert_eq!(whole_seconds_utc_up(at).unix_timestamp(), 1_700_000_001);
        let whole = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(whole_seconds_utc_up(whole), whole);
    }
}
