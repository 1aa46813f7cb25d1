//! The service's OpenAPI document describes the nested admin routes: under the mount path, with
//! the configured scope as their security requirement and keygate's refusals, the grants of the
//! service's declared scopes, and valid OpenAPI 3.1 with the routes the service documents itself.

use serde_json::{Value, json};

use crate::Service;

#[tokio::test]
async fn the_document_describes_the_routes_under_the_mount_with_their_scope() {
    let service = Service::start().await;
    let doc = serde_json::to_value(&service.doc).unwrap();
    let operations = [
        ("post", "/manage/keys", "create_key"),
        ("get", "/manage/keys", "list_keys"),
        ("get", "/manage/keys/audit", "audit_keys"),
        ("post", "/manage/keys/{id}/rotate", "rotate_key"),
        ("delete", "/manage/keys/{id}", "revoke_key"),
        ("put", "/manage/keys/{id}/rate_limit", "set_rate_limit"),
        ("get", "/manage/keys/{id}/usage", "key_usage"),
    ];
    let manage_paths = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|path| path.starts_with("/manage"))
        .count();
    assert_eq!(manage_paths, 6, "{}", doc["paths"]);
    assert!(
        doc["paths"].get("/keys").is_none(),
        "nothing outside the mount"
    );
    for (method, path, id) in operations {
        let operation = &doc["paths"][path][method];
        assert_eq!(operation["operationId"], id, "{method} {path}");
        assert_eq!(
            operation["security"],
            json!([{"api_key": ["keys:admin"]}, {"bearer": ["keys:admin"]}]),
            "{method} {path}"
        );
        let responses = &operation["responses"];
        assert_eq!(
            responses["401"]["$ref"], "#/components/responses/KeygateUnauthorized",
            "{method} {path}"
        );
        assert_eq!(
            responses["429"]["$ref"], "#/components/responses/KeygateRateLimited",
            "{method} {path}"
        );
        assert_eq!(
            responses["503"]["$ref"], "#/components/responses/KeygateUnavailable",
            "{method} {path}"
        );
        // The route's own refusals are problem documents too.
        for (status, response) in responses.as_object().unwrap() {
            if status.starts_with('4') && response.get("$ref").is_none() {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/KeygateProblem",
                    "{method} {path} {status}"
                );
            }
        }
    }
    let forbidden = &doc["paths"]["/manage/keys"]["post"]["responses"]["403"]["description"];
    assert!(
        forbidden
            .as_str()
            .unwrap()
            .starts_with("The calling key lacks `keys:admin` (`insufficient_scope`)"),
        "{forbidden}"
    );
    // The service's own route is left to `secure`.
    assert!(doc["paths"]["/reports"]["get"].get("security").is_none());
    let components = &doc["components"];
    assert_eq!(
        components["securitySchemes"]["api_key"]["name"],
        "X-API-Key"
    );
    assert_eq!(components["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(components["schemas"]["KeygateProblem"].is_object());
    // The grants the service's declared scopes allow, and no other.
    let scopes = &components["schemas"]["CreateKeyRequest"]["properties"]["scopes"];
    assert_eq!(
        scopes["items"]["enum"],
        json!([
            "*",
            "admin",
            "keys:*",
            "keys:admin",
            "reports:*",
            "reports:read",
            "reports:write"
        ])
    );

    // `secure` gives the service's own routes their security and leaves the admin routes' as
    // they are.
    let mut secured = service.doc.clone();
    keygate::openapi::secure(&service.gate, &mut secured);
    keygate::openapi::problem_bodies(&mut secured);
    let secured = serde_json::to_value(&secured).unwrap();
    assert_eq!(
        secured["paths"]["/reports"]["get"]["security"][0]["api_key"],
        json!(["items:read"])
    );
    for (method, path, _) in operations {
        assert_eq!(
            secured["paths"][path][method], doc["paths"][path][method],
            "{method} {path}"
        );
    }
    validate(&doc);
    validate(&secured);
}

/// Runs the OpenAPI 3.1 validator on the router's document, completed with the `info` and
/// `openapi` fields a router's document leaves to the service (the validator requires them).
fn validate(doc: &Value) {
    let mut doc = doc.clone();
    doc["info"] = json!({"title": "reports", "version": "1"});
    doc["openapi"] = json!("3.1.0");
    crate::validator::assert_valid_openapi(&doc);
}
