//! The admin routes' request and response bodies, and their schemas: each constraint comes from
//! the definition keygate validates with (`keygate::record`'s limits, the declared scopes, the
//! duration grammar), so the document and the handlers cannot drift apart.

use std::collections::BTreeMap;

use keygate::record::{
    KeyView, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_LEN, MAX_METADATA_VALUE_LEN, MAX_NAME_LEN,
    MAX_OWNER_LEN, MAX_SCOPES,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::{IntoParams, ToSchema};

/// Control characters (Unicode `Cc`, Rust's `char::is_control`), which keygate refuses in names
/// and owners, as a regular-expression class body.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// White space that is not a control character (Unicode `White_Space`, what `str::trim`
/// removes), as a regular-expression class body.
const SPACE: &str = r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The body of `POST /admin/keys`. Only `name` is required: `owner` defaults to the calling
/// key's owner, `scopes` to none (least privilege: such a key may call only routes requiring no
/// scope, such as `/whoami`), `metadata` to none, `expires_in` and `rate_limit` to none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A name for the key, such as `ci-deploy`.
    #[schema(schema_with = name_schema)]
    pub name: String,
    /// Who holds it; absent: the calling key's owner. `null` is refused, as the schema says.
    #[serde(default, deserialize_with = "present_string")]
    #[schema(schema_with = owner_schema)]
    pub owner: Option<String>,
    /// Scopes to grant.
    #[serde(default)]
    #[schema(schema_with = scopes_schema)]
    pub scopes: Vec<String>,
    /// Free-form string metadata, such as `{"ticket": "OPS-12"}`.
    #[serde(default)]
    #[schema(schema_with = metadata_schema)]
    pub metadata: BTreeMap<String, String>,
    /// How long the key lives, such as `90d`, `24h`, `30m` or `2w`. Absent or `null`: until
    /// revoked.
    #[serde(default)]
    #[schema(schema_with = optional_duration)]
    pub expires_in: Option<String>,
    /// How fast the key may call, such as `100/min` or `10/s burst 20`. Absent or `null`: no
    /// limit of its own.
    #[serde(default)]
    #[schema(schema_with = optional_rate_limit)]
    pub rate_limit: Option<String>,
}

/// A string member that, when present, must be a string (not `null`).
fn present_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// The body of `PUT /admin/keys/{id}/rate_limit`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRateLimitRequest {
    /// The key's new rate limit, such as `100/min`; `null` removes it.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(schema_with = optional_rate_limit, required = true)]
    pub rate_limit: Option<String>,
}

/// The optional body of `POST /admin/keys/{id}/rotate`; no body, or `null`, is `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old key keeps working, such as `24h`. Absent or `null`: it stops at once.
    #[serde(default)]
    #[schema(schema_with = optional_duration)]
    pub grace: Option<String>,
}

/// Which keys `GET /admin/keys` lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only keys held by this owner.
    pub owner: Option<String>,
    /// Include revoked and expired keys.
    #[serde(default)]
    pub all: bool,
    /// Only keys not used for this long (or never, and created this long ago), such as `90d`.
    #[param(value_type = Option<String>, example = "90d", pattern = "^[1-9][0-9]{0,2}[smhdw]$")]
    pub unused_for: Option<String>,
    /// Only keys created at least this long ago, such as `180d`.
    #[param(value_type = Option<String>, example = "180d", pattern = "^[1-9][0-9]{0,2}[smhdw]$")]
    pub older_than: Option<String>,
}

/// A key just created or rotated in: the key text, shown this once, and its record.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyView {
    /// The key. It is not stored and will not be shown again.
    pub key: String,
    /// Its record.
    pub record: KeyView,
}

impl From<&keygate::CreatedKey> for CreatedKeyView {
    fn from(created: &keygate::CreatedKey) -> Self {
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

fn scopes_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(keygate::openapi::grant_schema(Some(
            crate::DECLARED_SCOPES,
        ))))
        .max_items(Some(MAX_SCOPES))
        .description(Some(format!(
            "Scopes to grant, at most {MAX_SCOPES} (`too_many_scopes`): each a declared scope or \
             a wildcard covering one (`invalid_scope`), and held by the calling key \
             (`scope_not_held`). Absent: none, so the key may call only routes that require \
             no scope (such as `/whoami`)."
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
        .item(keygate::openapi::duration_schema())
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
        .item(keygate::openapi::rate_limit_schema())
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
