//! The problem document keygate's refusals carry, and the responses that name it.

use super::*;

pub(super) fn problem_content() -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(PROBLEM_SCHEMA)))
        .build()
}

pub(super) fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", problem_content())
        .build()
}

pub(super) fn unauthorized() -> Response {
    problem_response(
        "No valid API key: `code` is `missing_api_key`, `invalid_api_key`, `expired_api_key`, `revoked_api_key` or `ambiguous_api_key`.",
    )
}

pub(super) fn forbidden(https: bool) -> Response {
    let scopes = "The API key lacks the required scopes: `code` is `insufficient_scope`, and `required_scopes` names them.";
    if https {
        problem_response(&format!(
            "{scopes} Or the key came over plain HTTP, which this service refuses: `code` is `https_required`."
        ))
    } else {
        problem_response(scopes)
    }
}

pub(super) fn unavailable() -> Response {
    problem_response(
        "The key store could not answer, so the key could not be checked: `code` is `key_store_unavailable`; or the rate limiter could not answer and fails closed: `code` is `rate_limiter_unavailable`. Retry later.",
    )
}

pub(super) fn rate_limited() -> Response {
    let header = |description: &str, schema_type: Type| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(schema_type))
            .description(Some(description))
            .build()
    };
    let mut response = problem_response(
        "The API key is over its rate limit: `code` is `rate_limited`, and `retry_after` says in how many seconds to retry.",
    );
    response.headers.insert(
        "Retry-After".to_owned(),
        header("Seconds until a request would be admitted.", Type::Integer),
    );
    response.headers.insert(
        "RateLimit-Policy".to_owned(),
        header(
            "The key's limit (draft-ietf-httpapi-ratelimit-headers): `\"default\";q=<requests>;w=<seconds>`.",
            Type::String,
        ),
    );
    response.headers.insert(
        "RateLimit".to_owned(),
        header(
            "Where the key stands (draft-ietf-httpapi-ratelimit-headers): `\"default\";r=<remaining>;t=<seconds until the budget is whole>`.",
            Type::String,
        ),
    );
    response
}

pub(crate) fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

pub(super) fn problem_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "An RFC 9457 problem document with keygate's stable machine-readable `code`.",
        ))
        .property(
            "type",
            string("Where the code is documented.")
                .format(Some(SchemaFormat::Custom("uri".to_owned()))),
        )
        .property("title", string("A short summary of the code."))
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("The HTTP status.")),
        )
        .property("detail", string("What went wrong, for a person."))
        .property("code", string("The stable machine-readable code."))
        .property(
            "required_scopes",
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(
                    "On `insufficient_scope`: the scopes the route requires.",
                )),
        )
        .property(
            "scope_match",
            string("On `insufficient_scope`: whether `all` or `any` of them are needed.")
                .enum_values(Some(["all", "any"])),
        )
        .property(
            "retry_after",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .description(Some(
                    "On `rate_limited`: seconds until a request would be admitted.",
                )),
        )
        .required("type")
        .required("title")
        .required("status")
        .required("code")
        .into()
}
