//! OpenAPI documents that say what keygate enforces (feature `utoipa`).
//!
//! [`secure`] adds to a utoipa [`OpenApi`] document:
//!
//! - a security scheme for each credential source the [`KeyGate`] reads: `api_key` (apiKey in the
//!   configured header), `bearer` (HTTP bearer), and `api_key_query` / `api_key_cookie` when
//!   those are enabled. Each scheme's description lists the declared scopes with their
//!   descriptions (OpenAPI 3.1 apiKey and bearer schemes have no scope map of their own);
//! - for every operation whose handler carries `#[require_api_key]`, a security requirement
//!   naming its scopes (with `any_scopes`, one requirement per scope: any one of them admits),
//!   and `401` and `403` responses whose body is the [`Problem`](#problem) schema as
//!   `application/problem+json`.
//!
//! Operations are matched to handlers by `operationId`, which `#[utoipa::path]` sets to the
//! handler's function name unless told otherwise, so the order of `#[utoipa::path]` and
//! `#[require_api_key]` on the handler does not matter. Keep the default `operationId` (or set
//! it to the function name) on protected handlers. Operations of unprotected handlers are left
//! without security.
//!
//! ```
//! use keygate::{KeyGate, require_api_key};
//! use utoipa::OpenApi;
//!
//! #[utoipa::path(get, path = "/items", responses((status = 200, description = "The items")))]
//! #[require_api_key(scopes = "items:read")]
//! async fn list_items() -> &'static str {
//!     "[]"
//! }
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(list_items))]
//! struct Api;
//!
//! let gate = KeyGate::builder().build();
//! let mut doc = Api::openapi();
//! keygate::openapi::secure(&gate, &mut doc);
//! let json = serde_json::to_value(&doc).unwrap();
//! let get = &json["paths"]["/items"]["get"];
//! assert_eq!(get["security"][0]["api_key"][0], "items:read");
//! assert!(get["responses"]["403"].is_object());
//! ```
//!
//! # Problem
//!
//! The schema named `KeygateProblem` in `components.schemas`: an RFC 9457 problem document with
//! keygate's stable `code`, and `required_scopes` and `scope_match` on a 403.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, Content, ContentBuilder, OpenApi, Ref, RefOr};

mod problem;
mod request;

pub(crate) use problem::string;
use problem::{
    forbidden, problem_content, problem_schema, rate_limited, unauthorized, unavailable,
};
pub use request::{duration_schema, grant_schema, rate_limit_schema};

use crate::audit::{ProtectedHandler, protected_handlers};
use crate::declared::DeclaredScope;
use crate::gate::KeyGate;
use crate::scope::{Requirement, ScopeMatch};

/// The name of the problem document schema in `components.schemas`.
pub const PROBLEM_SCHEMA: &str = "KeygateProblem";
/// The name of the 401 response in `components.responses`.
pub const UNAUTHORIZED_RESPONSE: &str = "KeygateUnauthorized";
/// The name of the 403 response in `components.responses`.
pub const FORBIDDEN_RESPONSE: &str = "KeygateForbidden";
/// The name of the 503 response in `components.responses`.
pub const UNAVAILABLE_RESPONSE: &str = "KeygateUnavailable";
/// The name of the 429 response in `components.responses`.
pub const RATE_LIMITED_RESPONSE: &str = "KeygateRateLimited";

/// Adds keygate's security schemes, and the security requirements and 401/403 responses of
/// every protected operation, to `openapi`. See the [module documentation](self).
///
/// Returns the protected handlers that no operation was matched to: handlers left out of the
/// document, handlers whose `operationId` was changed, and handlers sharing a name (and so an
/// operation id) with another protected handler of different requirements. A service that
/// documents every route can assert that, among its own handlers, this is empty.
pub fn secure(gate: &KeyGate, openapi: &mut OpenApi) -> Vec<&'static ProtectedHandler> {
    let scheme_names = add_components(gate, openapi);
    let handlers = protected_handlers();
    let mut matched: Vec<&'static ProtectedHandler> = Vec::new();
    for item in openapi.paths.paths.values_mut() {
        for operation in operations(item) {
            let Some(id) = operation.operation_id.clone() else {
                continue;
            };
            let mut named = handlers.iter().filter(|h| h.name == id);
            let Some(first) = named.next() else { continue };
            if named.any(|other| other.requirement() != first.requirement()) {
                continue;
            }
            protect(
                operation,
                first.requirement(),
                &scheme_names,
                gate.requires_https(),
            );
            matched.extend(handlers.iter().filter(|h| h.name == id));
        }
    }
    handlers
        .into_iter()
        .filter(|h| !matched.contains(h))
        .collect()
}

/// Adds to `openapi`'s components the security schemes of `gate`'s credential sources, the
/// problem document schema and keygate's 401/403/429/503 responses; returns the schemes' names.
pub(crate) fn add_components(gate: &KeyGate, openapi: &mut OpenApi) -> Vec<&'static str> {
    let schemes = schemes(gate);
    let components = openapi.components.get_or_insert_with(Components::new);
    for (name, scheme) in &schemes {
        components.add_security_scheme(*name, scheme.clone());
    }
    components
        .schemas
        .insert(PROBLEM_SCHEMA.to_owned(), problem_schema().into());
    for (name, response) in [
        (UNAUTHORIZED_RESPONSE, unauthorized()),
        (FORBIDDEN_RESPONSE, forbidden(gate.requires_https())),
        (UNAVAILABLE_RESPONSE, unavailable()),
        (RATE_LIMITED_RESPONSE, rate_limited()),
    ] {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(response));
    }
    schemes.iter().map(|(name, _)| *name).collect()
}

/// The security schemes matching the gate's credential sources, by name.
fn schemes(gate: &KeyGate) -> Vec<(&'static str, SecurityScheme)> {
    let scopes = scope_list(gate.declared_scopes());
    let mut schemes = Vec::new();
    if let Some(header) = gate.header_name() {
        schemes.push((
            "api_key",
            api_key(
                ApiKey::Header,
                &header_spelling(header.as_str()),
                "header",
                &scopes,
            ),
        ));
    }
    if gate.bearer_enabled() {
        let description = format!("An API key in `Authorization: Bearer <key>`.{scopes}");
        schemes.push((
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            ),
        ));
    }
    if let Some(name) = gate.query_param() {
        schemes.push((
            "api_key_query",
            api_key(ApiKey::Query, name, "query parameter", &scopes),
        ));
    }
    if let Some(name) = gate.cookie_name() {
        schemes.push((
            "api_key_cookie",
            api_key(ApiKey::Cookie, name, "cookie", &scopes),
        ));
    }
    schemes
}

fn api_key(
    place: fn(ApiKeyValue) -> ApiKey,
    name: &str,
    what: &str,
    scopes: &str,
) -> SecurityScheme {
    let description = format!("An API key in the `{name}` {what}.{scopes}");
    SecurityScheme::ApiKey(place(ApiKeyValue::with_description(
        name.to_owned(),
        description,
    )))
}

/// The declared scopes as a Markdown list for scheme descriptions.
fn scope_list(declared: Option<&[DeclaredScope]>) -> String {
    match declared {
        Some(scopes) if !scopes.is_empty() => {
            let mut text = String::from("\n\nScopes:\n");
            for scope in scopes {
                text.push_str(&format!("\n- `{}`: {}", scope.name, scope.description));
            }
            text
        }
        _ => String::new(),
    }
}

pub(crate) fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Gives `operation` the security requirement of `requirement` under each of `schemes` (with
/// `any` scopes, one requirement per scope: any one of them admits), and keygate's refusals.
pub(crate) fn protect(
    operation: &mut Operation,
    requirement: Requirement<'_>,
    schemes: &[&str],
    https: bool,
) {
    let mut security = Vec::new();
    for scheme in schemes {
        match requirement.mode {
            ScopeMatch::Any if !requirement.scopes.is_empty() => {
                for scope in requirement.scopes {
                    security.push(SecurityRequirement::new(*scheme, [*scope]));
                }
            }
            _ => security.push(SecurityRequirement::new(
                *scheme,
                requirement.scopes.iter().copied(),
            )),
        }
    }
    operation.security = Some(security);
    let responses = &mut operation.responses.responses;
    responses
        .entry("401".to_owned())
        .or_insert_with(|| Ref::from_response_name(UNAUTHORIZED_RESPONSE).into());
    if !requirement.scopes.is_empty() || https {
        responses
            .entry("403".to_owned())
            .or_insert_with(|| Ref::from_response_name(FORBIDDEN_RESPONSE).into());
    }
    // Any key may be given a rate limit at any time, so every protected operation may refuse.
    responses
        .entry("429".to_owned())
        .or_insert_with(|| Ref::from_response_name(RATE_LIMITED_RESPONSE).into());
    responses
        .entry("503".to_owned())
        .or_insert_with(|| Ref::from_response_name(UNAVAILABLE_RESPONSE).into());
}

/// A header name as people write it: HTTP header names are case-insensitive and stored in
/// lower case, so the document spells the default `X-API-Key` and capitalises each `-`-separated
/// word of any other (`x-tenant-key` is `X-Tenant-Key`).
fn header_spelling(lower: &str) -> String {
    if lower == "x-api-key" {
        return "X-API-Key".to_owned();
    }
    let words = lower.split('-').map(|word| {
        let mut chars = word.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_ascii_uppercase().to_string() + chars.as_str()
        })
    });
    words.collect::<Vec<_>>().join("-")
}

/// Gives every error response (`4xx`, `5xx`) of `openapi` declared without a body the
/// [problem document](#problem) as `application/problem+json`, so a route's own refusals are
/// documented like keygate's. Call it after [`secure`], which adds the schema.
pub fn problem_bodies(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        for operation in operations(item) {
            for (status, response) in &mut operation.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                if (status.starts_with('4') || status.starts_with('5'))
                    && response.content.is_empty()
                {
                    response
                        .content
                        .insert("application/problem+json".to_owned(), problem_content());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::OpenApiBuilder;

    use crate::KeyGate;

    /// The security schemes `secure` documents for `gate`, as JSON.
    fn documented(gate: &KeyGate) -> serde_json::Value {
        let mut doc = OpenApiBuilder::new().build();
        super::secure(gate, &mut doc);
        serde_json::to_value(&doc).unwrap()["components"]["securitySchemes"].clone()
    }

    #[test]
    fn each_enabled_source_is_documented_and_no_other() {
        let bearer_only = documented(&KeyGate::builder().no_header().build());
        assert_eq!(bearer_only["bearer"]["scheme"], "bearer");
        assert!(bearer_only.get("api_key").is_none(), "{bearer_only}");
        assert!(bearer_only.get("api_key_query").is_none());
        assert!(bearer_only.get("api_key_cookie").is_none());

        let every = documented(
            &KeyGate::builder()
                .header("X-Tenant-Key")
                .query_param("key")
                .cookie("session_key")
                .build(),
        );
        assert_eq!(every["api_key"]["in"], "header");
        assert_eq!(every["api_key"]["name"], "X-Tenant-Key");
        assert_eq!(every["bearer"]["scheme"], "bearer");
        assert_eq!(every["api_key_query"]["in"], "query");
        assert_eq!(every["api_key_query"]["name"], "key");
        assert_eq!(every["api_key_cookie"]["in"], "cookie");
        assert_eq!(every["api_key_cookie"]["name"], "session_key");

        let header_only = documented(&KeyGate::builder().bearer(false).build());
        assert_eq!(header_only["api_key"]["name"], "X-API-Key");
        assert!(header_only.get("bearer").is_none(), "{header_only}");

        let query_only = documented(
            &KeyGate::builder()
                .no_header()
                .bearer(false)
                .query_param("key")
                .build(),
        );
        assert_eq!(query_only["api_key_query"]["name"], "key");
        assert_eq!(
            query_only.as_object().unwrap().len(),
            1,
            "only the query parameter: {query_only}"
        );

        let cookie_only = documented(
            &KeyGate::builder()
                .no_header()
                .bearer(false)
                .cookie("session_key")
                .build(),
        );
        assert_eq!(cookie_only["api_key_cookie"]["name"], "session_key");
        assert_eq!(
            cookie_only.as_object().unwrap().len(),
            1,
            "only the cookie: {cookie_only}"
        );
    }
}
