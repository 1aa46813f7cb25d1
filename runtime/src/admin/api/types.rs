//! The admin routes' request and response bodies, and their schemas: each constraint comes from
//! the definition keygate validates with (the record limits, the declared scopes, the duration
//! and rate-limit grammars), so the document and the handlers cannot drift apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::{IntoParams, ToSchema};

use crate::openapi::{duration_schema, grant_schema, rate_limit_schema};
use crate::record::{
    KeyView, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_LEN, MAX_METADATA_VALUE_LEN, MAX_NAME_LEN,
    MAX_OWNER_LEN, MAX_SCOPES,
};
use crate::scope::DeclaredScope;

/// Control characters (Unicode `Cc`, Rust's `char::is_control`), which keygate refuses in names
/// and owners, as a regular-expression class body.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// White space that is not a control character (Unicode `White_Space`, what `str::trim`
/// removes), as a regular-expression class body.
const SPACE: &str = r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The body of a key creation. Only `name` is required: `owner` defaults to the calling
/// key's owner, `scopes` to none (least privilege: such a key may call only routes requiring no
/// scope), `metadata` to none, `expires_in` and `rate_limit` to none, or to the calling key's own
/// when it has one (a key never mints a key outliving it or calling faster than it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateKeyRequest {
    /// A name for the key, such as `ci-deploy`.
    #[schema(schema_with = name_schema)]
    pub(super) name: String,
    /// Who holds it; absent: the calling key's owner. `null` is refused, as the schema says.
    #[serde(default, deserialize_with = "present_string")]
    #[schema(schema_with = owner_schema)]
    pub(super) owner: Option<String>,
    /// Scopes to grant.
    #[serde(default)]
    #[schema(schema_with = undeclared_scopes_schema)]
    pub(super) scopes: Vec<String>,
    /// Free-form string metadata, such as `{"ticket": "OPS-12"}`.
    #[serde(default)]
    #[schema(schema_with = metadata_schema)]
    pub(super) metadata: BTreeMap<String, String>,
    /// How long the key lives, such as `90d`, `24h`, `30m` or `2w`. Absent or `null`: until
    /// revoked, or until the calling key expires if it does.
    #[serde(default)]
    #[schema(schema_with = optional_duration)]
    pub(super) expires_in: Option<String>,
    /// How fast the key may call, such as `100/min` or `10/s burst 20`. Absent or `null`: no
    /// limit of its own, or the calling key's own limit if it has one the default would loosen.
    #[serde(default)]
    #[schema(schema_with = optional_rate_limit)]
    pub(super) rate_limit: Option<String>,
}

/// A string member that, when present, must be a string (not `null`).
fn present_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// The body of a change of a key's rate limit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetRateLimitRequest {
    /// The key's new rate limit, such as `100/min`; `null` removes it.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(schema_with = optional_rate_limit, required = true)]
    pub(super) rate_limit: Option<String>,
}

/// The optional body of a rotation; no body, or `null`, is `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateRequest {
    /// How long the old key keeps working, such as `24h`. Absent or `null`: it stops at once.
    #[serde(default)]
    #[schema(schema_with = optional_duration)]
    pub(super) grace: Option<String>,
}

/// Which keys the list route lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only keys held by this owner.
    pub(super) owner: Option<String>,
    /// Include revoked and expired keys.
    #[serde(default)]
    pub(super) all: bool,
    /// Only keys not used for this long (or never, and created this long ago), such as `90d`.
    #[param(value_type = Option<String>, example = "90d", pattern = "^[1-9][0-9]{0,2}[smhdw]$")]
    pub(super) unused_for: Option<String>,
    /// Only keys created at least this long ago, such as `180d`.
    #[param(value_type = Option<String>, example = "180d", pattern = "^[1-9][0-9]{0,2}[smhdw]$")]
    pub(super) older_than: Option<String>,
}

/// A key just created or rotated in: the key text, shown this once, and its record.
// Not `Debug`: it holds the key.
#[derive(Serialize, ToSchema)]
pub(super) struct CreatedKeyView {
    /// The key. It is not stored and will not be shown again.
    pub(super) key: String,
    /// Its record.
    pub(super) record: KeyView,
}

impl From<&crate::CreatedKey> for CreatedKeyView {
    fn from(created: &crate::CreatedKey) -> Self {
        CreatedKeyView {
            key: created.key.expose().to_owned(),
            record: KeyView::from(&created.record),
        }
    }
}

fn text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max))
}

fn name_schema() -> Schema {
    text(MAX_NAME_LEN)
        .description(Some(format!(
            "A name for the key, such as `ci-deploy`: at most {MAX_NAME_LEN} bytes of UTF-8 \
             (`maxLength` counts characters, and equals it for ASCII), not only white space, no \
             control characters (`invalid_name`)."
        )))
        .min_length(Some(1))
        .pattern(Some(format!(
            "^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$"
        )))
        .into()
}

fn owner_schema() -> Schema {
    text(MAX_OWNER_LEN)
        .description(Some(format!(
            "Who holds the key, such as `team-infra`: at most {MAX_OWNER_LEN} bytes of UTF-8, no \
             control characters (`invalid_owner`). Absent: the calling key's owner."
        )))
        .pattern(Some(format!("^[^{CONTROL}]*$")))
        .into()
}

/// The schema of `scopes` for a gate without declared scopes. The router replaces it with
/// [`scopes_schema`] of its gate's declared scopes, known only when the router is built.
fn undeclared_scopes_schema() -> Schema {
    scopes_schema(None)
}

/// The schema of `scopes`: the grants `declared` allows, or the grant grammar without a
/// declaration.
pub(super) fn scopes_schema(declared: Option<&[DeclaredScope]>) -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(grant_schema(declared)))
        .max_items(Some(MAX_SCOPES))
        .description(Some(format!(
            "Scopes to grant, at most {MAX_SCOPES} (`too_many_scopes`): each a declared scope or \
             a wildcard covering one (`invalid_scope`), and held by the calling key \
             (`scope_not_held`). Absent: none, so the key may call only routes that require \
             no scope."
        )))
        .default(Some(serde_json::json!([])))
        .into()
}

fn metadata_schema() -> Schema {
    let no_control = format!("^[^{CONTROL}]*$");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "Free-form string metadata, such as `{{\"ticket\": \"OPS-12\"}}`: at most \
             {MAX_METADATA_ENTRIES} entries, keys of 1 to {MAX_METADATA_KEY_LEN} bytes and values \
             of at most {MAX_METADATA_VALUE_LEN} bytes of UTF-8, no control characters \
             (`invalid_metadata`). Absent: none."
        )))
        .max_properties(Some(MAX_METADATA_ENTRIES))
        .property_names(Some(
            text(MAX_METADATA_KEY_LEN)
                .min_length(Some(1))
                .pattern(Some(no_control.clone())),
        ))
        .additional_properties(Some(text(MAX_METADATA_VALUE_LEN).pattern(Some(no_control))))
        .default(Some(serde_json::json!({})))
        .into()
}

fn optional_duration() -> Schema {
    AnyOfBuilder::new()
        .item(duration_schema())
        .item(RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Null))
                .build(),
        )))
        .description(Some(
            "A whole number and a unit, `s`, `m`, `h`, `d` or `w`, such as `90d` or `24h`, \
             positive and at most 100 years (`invalid_duration`); or `null`.",
        ))
        .into()
}

fn optional_rate_limit() -> Schema {
    AnyOfBuilder::new()
        .item(rate_limit_schema())
        .item(RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Null))
                .build(),
        )))
        .description(Some(
            "Requests per period, such as `100/min`, `10/s burst 20` or `5/30s`: 1 to 1000000 \
             requests (and burst), a period of 1 second to 1 day (`invalid_rate_limit`); or \
             `null` for no limit of the key's own.",
        ))
        .into()
}
