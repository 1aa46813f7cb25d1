//! What the admin router says of itself in the service's OpenAPI document.

use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

use super::ADMIN_SCOPE;
use super::types::scopes_schema;
use crate::KeyGate;
use crate::openapi::{add_components, operations, problem_bodies, protect};
use crate::scope::Requirement;

/// Completes the document of the admin routes: the grants `gate`'s declared scopes allow, each
/// operation's security requirement (`scope`, under each credential source of `gate`) with
/// keygate's 401/403/429/503 answers, and the components they name. A service that never calls
/// [`secure`](crate::openapi::secure) still gets a whole, valid document of these routes.
pub(super) fn document(openapi: &mut OpenApi, gate: &KeyGate, scope: &str) {
    let create = openapi
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut("CreateKeyRequest"));
    if let Some(RefOr::T(Schema::Object(create))) = create {
        create.properties.insert(
            "scopes".to_owned(),
            RefOr::T(scopes_schema(gate.declared_scopes())),
        );
    }
    let schemes = add_components(gate, openapi);
    let scopes = [scope];
    let named = format!("`{scope}`");
    for item in openapi.paths.paths.values_mut() {
        for operation in operations(item) {
            // The routes' own 403s are written before the scope is known.
            if let Some(RefOr::T(forbidden)) = operation.responses.responses.get_mut("403") {
                forbidden.description = forbidden.description.replace(ADMIN_SCOPE, &named);
            }
            protect(
                operation,
                Requirement::all(&scopes),
                &schemes,
                gate.requires_https(),
            );
        }
    }
    problem_bodies(openapi);
}
