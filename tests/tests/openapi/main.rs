//! The example's access table and OpenAPI document: every route but the public ones is
//! protected, and the served document says so, checked by a real OpenAPI 3.1 validator.

use std::collections::BTreeSet;

use keygate::audit::{ProtectedHandler, protected_handlers};
use keygate::scope::ScopeMatch;
use keygate::{KeyGate, require_api_key};
use keygate_example::access::{self, PUBLIC_ROUTES};
use keygate_example::{AppState, Items, app, openapi};
use serde_json::Value;
use utoipa::OpenApi;

mod admin;
#[path = "../openapi_support/validator.rs"]
mod validator;

use validator::assert_valid_openapi;

fn gate() -> KeyGate {
    KeyGate::builder()
        .declared_scopes(keygate_example::DECLARED_SCOPES)
        .build()
}

fn example_handlers() -> Vec<&'static ProtectedHandler> {
    protected_handlers()
        .into_iter()
        .filter(|h| h.module_path.starts_with("keygate_example"))
        .collect()
}

#[test]
fn every_route_but_the_public_ones_is_protected() {
    let table = access::table(&openapi(&gate()));
    let unprotected: Vec<_> = table
        .iter()
        .filter(|r| r.is_unexpectedly_public())
        .collect();
    assert!(
        unprotected.is_empty(),
        "unprotected routes: {unprotected:#?}"
    );
    let public: BTreeSet<&str> = table
        .iter()
        .filter(|r| r.protection.is_none())
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(public, PUBLIC_ROUTES.iter().copied().collect());
    let access = |method: &str, path: &str| {
        table
            .iter()
            .find(|r| r.method == method && r.path == path)
            .map(|r| r.access())
    };
    assert_eq!(access("GET", "/items").as_deref(), Some("items:read"));
    assert_eq!(access("POST", "/items").as_deref(), Some("items:write"));
    assert_eq!(access("DELETE", "/items/{id}").as_deref(), Some("admin"));
    assert_eq!(access("GET", "/whoami").as_deref(), Some("any valid key"));
    assert!(table.iter().any(|r| r.path.starts_with("/admin/keys")));
    for route in table.iter().filter(|r| r.path.starts_with("/admin/")) {
        assert_eq!(route.access(), "admin", "{route:?}");
    }
    // Every protected handler of the example is routed (and so in the table).
    let routed: BTreeSet<&str> = table.iter().map(|r| r.handler.as_str()).collect();
    for handler in example_handlers() {
        assert!(
            routed.contains(handler.name),
            "{} is not routed",
            handler.qualified_name()
        );
    }
}

#[utoipa::path(get, path = "/leak", responses((status = 200, description = "Oops")))]
async fn leak() -> &'static str {
    "everything"
}

#[utoipa::path(get, path = "/guarded", responses((status = 200, description = "Fine")))]
#[require_api_key(any_scopes = ["admin", "items:write"])]
async fn guarded() {}

#[derive(OpenApi)]
#[openapi(paths(leak, guarded))]
struct Extra;

#[test]
fn the_table_catches_a_new_unprotected_route() {
    // The extra handlers are real routes of some router, documented by `Extra`.
    let _: axum::Router = axum::Router::new()
        .route("/leak", axum::routing::get(leak))
        .route("/guarded", axum::routing::get(guarded))
        .with_state(gate());
    let mut doc = openapi(&gate());
    doc.merge(Extra::openapi());
    let table = access::table(&doc);
    let flagged: Vec<&str> = table
        .iter()
        .filter(|r| r.is_unexpectedly_public())
        .map(|r| r.path.as_str())
        .collect();
    // `guarded` carries the attribute, but its operation joined the document after `secure`:
    // the document does not say it is protected, so the table does not count it.
    assert_eq!(flagged, ["/guarded", "/leak"]);
}

#[test]
fn the_attribute_registers_handlers_in_either_order() {
    let guarded = protected_handlers()
        .into_iter()
        .find(|h| h.name == "guarded")
        .expect("`guarded` is registered");
    assert_eq!(guarded.module_path, module_path!());
    assert_eq!(guarded.scopes, ["admin", "items:write"]);
    assert_eq!(guarded.mode, ScopeMatch::Any);

    let mut doc = Extra::openapi();
    let unmatched = keygate::openapi::secure(&gate(), &mut doc);
    assert!(unmatched.iter().all(|h| h.name != "guarded"));
    let doc = serde_json::to_value(&doc).unwrap();
    let guarded = &doc["paths"]["/guarded"]["get"];
    // any_scopes: one requirement per scope and scheme.
    assert_eq!(
        guarded["security"],
        serde_json::json!([
            {"api_key": ["admin"]}, {"api_key": ["items:write"]},
            {"bearer": ["admin"]}, {"bearer": ["items:write"]},
        ])
    );
    assert!(doc["paths"]["/leak"]["get"].get("security").is_none());
}

async fn served_document() -> Value {
    let state = AppState {
        gate: gate(),
        items: Items::with(&[]),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });
    let response = reqwest::get(format!("http://{addr}/openapi.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET /openapi.json is public");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_served_document_describes_the_security() {
    let doc = served_document().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["type"], "apiKey");
    assert_eq!(schemes["api_key"]["in"], "header");
    // Named as users write it (header names match case-insensitively).
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let description = schemes["api_key"]["description"].as_str().unwrap();
    assert!(
        description.contains("`items:read`: Read the item catalogue"),
        "{description}"
    );
    assert!(description.contains("`admin`: "), "{description}");

    let handlers = example_handlers();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let id = operation["operationId"].as_str().unwrap();
            // The example's own handlers carry the attribute; keygate's admin API, nested at
            // `/admin` with the scope `admin`, requires it of each of its routes.
            let scopes: &[&str] = match handlers.iter().find(|h| h.name == id) {
                Some(handler) => handler.scopes,
                None if path.starts_with("/admin/") => &["admin"],
                None => {
                    assert!(
                        PUBLIC_ROUTES.contains(&path.as_str()),
                        "{method} {path} is public"
                    );
                    assert!(operation.get("security").is_none(), "{method} {path}");
                    assert!(
                        operation["responses"].get("401").is_none(),
                        "{method} {path}"
                    );
                    continue;
                }
            };
            let expected: Vec<Value> = ["api_key", "bearer"]
                .iter()
                .map(|scheme| serde_json::json!({ *scheme: scopes }))
                .collect();
            assert_eq!(
                operation["security"],
                Value::Array(expected),
                "{method} {path}"
            );
            let responses = &operation["responses"];
            assert_eq!(
                responses["401"]["$ref"], "#/components/responses/KeygateUnauthorized",
                "{method} {path}"
            );
            if scopes.is_empty() {
                assert!(responses.get("403").is_none(), "{method} {path}");
            } else {
                // keygate's own 403, or the route's, which names more codes.
                let forbidden = &responses["403"];
                assert!(
                    forbidden["$ref"] == "#/components/responses/KeygateForbidden"
                        || forbidden["description"]
                            .as_str()
                            .is_some_and(|d| d.contains("`insufficient_scope`")),
                    "{method} {path}: {forbidden}"
                );
            }
            assert_eq!(
                responses["503"]["$ref"], "#/components/responses/KeygateUnavailable",
                "{method} {path}"
            );
            assert_eq!(
                responses["429"]["$ref"], "#/components/responses/KeygateRateLimited",
                "{method} {path}"
            );
        }
        // Every refusal, keygate's or the route's own, is a problem document.
        for (status, response) in operation_responses(item) {
            if status.starts_with('4') || status.starts_with('5') {
                let response = resolve(&doc, response);
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/KeygateProblem",
                    "{path} {status}"
                );
            }
        }
    }
    assert!(operations >= 9, "{operations} operations");
    let unauthorized = &doc["components"]["responses"]["KeygateUnauthorized"];
    assert_eq!(
        unauthorized["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/KeygateProblem"
    );
    assert_eq!(
        doc["paths"]["/items"]["get"]["security"][0]["api_key"][0],
        "items:read"
    );

    assert_valid_openapi(&doc);
}

fn operation_responses(item: &Value) -> impl Iterator<Item = (&String, &Value)> {
    item.as_object()
        .unwrap()
        .values()
        .flat_map(|operation| operation["responses"].as_object().unwrap())
}

/// A response, through its `$ref` if it has one.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(name) => &doc["components"]["responses"][name.rsplit('/').next().unwrap()],
        None => response,
    }
}

#[test]
fn a_gate_requiring_https_documents_403_https_required_on_every_protected_operation() {
    let plain = serde_json::to_value(openapi(&gate())).unwrap();
    let https_gate = KeyGate::builder()
        .declared_scopes(keygate_example::DECLARED_SCOPES)
        .require_https(keygate::https::RequireHttps::new())
        .build();
    let https = serde_json::to_value(openapi(&https_gate)).unwrap();
    // `/whoami` needs any valid key and no scope: a 403 only when HTTPS is required.
    assert!(
        plain["paths"]["/whoami"]["get"]["responses"]
            .get("403")
            .is_none()
    );
    let forbidden = resolve(
        &https,
        &https["paths"]["/whoami"]["get"]["responses"]["403"],
    );
    assert!(
        forbidden["description"]
            .as_str()
            .unwrap()
            .contains("`https_required`"),
        "{forbidden}"
    );
    assert_valid_openapi(&https);
}
