//! The admin routes in the example's OpenAPI document: every answer and every field rule.

use super::served_document;

#[tokio::test]
async fn the_admin_routes_document_every_answer_and_rule() {
    let doc = served_document().await;
    let statuses = |method: &str, path: &str| -> Vec<String> {
        let responses = doc["paths"][path][method]["responses"].as_object().unwrap();
        responses.keys().cloned().collect()
    };
    assert_eq!(
        statuses("post", "/admin/keys"),
        [
            "201", "400", "401", "403", "413", "415", "422", "429", "503"
        ]
    );
    assert_eq!(
        statuses("get", "/admin/keys"),
        ["200", "400", "401", "403", "422", "429", "503"]
    );
    assert_eq!(
        statuses("get", "/admin/keys/audit"),
        ["200", "400", "401", "403", "422", "429", "503"]
    );
    assert_eq!(
        statuses("post", "/admin/keys/{id}/rotate"),
        [
            "201", "400", "401", "403", "404", "409", "413", "422", "429", "503"
        ]
    );
    assert_eq!(
        statuses("delete", "/admin/keys/{id}"),
        ["200", "400", "401", "403", "404", "429", "503"]
    );
    assert_eq!(
        statuses("put", "/admin/keys/{id}/rate_limit"),
        [
            "200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"
        ]
    );
    assert_eq!(
        statuses("get", "/admin/keys/{id}/usage"),
        ["200", "400", "401", "403", "404", "429", "503"]
    );
    let hour = &doc["components"]["schemas"]["UsageHour"]["properties"];
    assert_eq!(hour["hour"]["format"], "date-time");
    assert_eq!(hour["wrong_secret"]["minimum"], 0);
    let set_limit = &doc["components"]["schemas"]["SetRateLimitRequest"];
    assert_eq!(set_limit["required"], serde_json::json!(["rate_limit"]));
    assert_eq!(set_limit["additionalProperties"], false);

    // The limits are keygate's own.
    let create = &doc["components"]["schemas"]["CreateKeyRequest"];
    assert_eq!(create["required"], serde_json::json!(["name"]));
    assert_eq!(create["additionalProperties"], false);
    let fields = &create["properties"];
    assert_eq!(fields["name"]["minLength"], 1);
    assert_eq!(fields["name"]["maxLength"], keygate::record::MAX_NAME_LEN);
    assert_eq!(fields["owner"]["maxLength"], keygate::record::MAX_OWNER_LEN);
    // Absent, the owner is the calling key's: no fixed default to state.
    assert_eq!(fields["owner"].get("default"), None);
    assert!(
        fields["owner"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("the calling key's owner")),
        "{}",
        fields["owner"]
    );
    assert_eq!(fields["scopes"]["default"], serde_json::json!([]));
    assert_eq!(fields["scopes"]["maxItems"], keygate::record::MAX_SCOPES);
    let metadata = &fields["metadata"];
    assert_eq!(
        metadata["maxProperties"],
        keygate::record::MAX_METADATA_ENTRIES
    );
    assert_eq!(
        metadata["propertyNames"]["maxLength"],
        keygate::record::MAX_METADATA_KEY_LEN
    );
    assert_eq!(
        metadata["additionalProperties"]["maxLength"],
        keygate::record::MAX_METADATA_VALUE_LEN
    );
    // Every grant the example's declared scopes allow, and no other.
    assert_eq!(
        fields["scopes"]["items"]["enum"],
        serde_json::json!([
            "*",
            "admin",
            "items:*",
            "items:read",
            "items:write",
            "metrics:*",
            "metrics:read"
        ])
    );
    let duration = &fields["expires_in"]["anyOf"][0]["pattern"];
    assert!(duration.as_str().unwrap().contains("36500)d"), "{duration}");
    let grace = &doc["components"]["schemas"]["RotateRequest"]["properties"]["grace"];
    assert_eq!(grace, &fields["expires_in"]);
}
