//! The access table: every documented route, and what it takes to call it, as the OpenAPI
//! document states it once keygate has secured it: the scopes of the handlers carrying
//! `#[require_api_key]` ([`keygate::openapi::secure`]) and of keygate's admin API, which documents
//! its own.

use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation};

/// Routes that are public on purpose. Any other route must be protected.
pub const PUBLIC_ROUTES: &[&str] = &["/health", "/openapi.json"];

/// One route of the access table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAccess {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The route's path, such as `/items/{id}`.
    pub path: String,
    /// The handler function (the operation id).
    pub handler: String,
    /// The route's protection, `None` when its operation has no security requirement.
    pub protection: Option<Protection>,
}

/// What admits a request to a protected route: any one of the alternatives, each a set of
/// scopes that are all needed (an empty set: any valid key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// The scope sets, each once, in the document's order.
    pub alternatives: Vec<Vec<String>>,
}

impl Protection {
    /// The protection an operation's security requirements state, if it has any. Requirements
    /// naming the same scopes under different schemes (`api_key`, `bearer`) are one alternative.
    fn of(operation: &Operation) -> Option<Protection> {
        let requirements = serde_json::to_value(operation.security.as_ref()?).ok()?;
        let mut alternatives: Vec<Vec<String>> = Vec::new();
        for requirement in requirements.as_array()? {
            for scopes in requirement.as_object()?.values() {
                let scopes: Vec<String> = scopes
                    .as_array()?
                    .iter()
                    .filter_map(|scope| scope.as_str().map(str::to_owned))
                    .collect();
                if !alternatives.contains(&scopes) {
                    alternatives.push(scopes);
                }
            }
        }
        (!alternatives.is_empty()).then_some(Protection { alternatives })
    }
}

impl RouteAccess {
    /// Whether the route is neither protected nor listed in [`PUBLIC_ROUTES`].
    pub fn is_unexpectedly_public(&self) -> bool {
        self.protection.is_none() && !PUBLIC_ROUTES.contains(&self.path.as_str())
    }
}

impl RouteAccess {
    /// What it takes to call the route: `public`, `any valid key`, or the scopes.
    pub fn access(&self) -> String {
        let Some(protection) = &self.protection else {
            return "public".to_owned();
        };
        if protection.alternatives.iter().any(Vec::is_empty) {
            return "any valid key".to_owned();
        }
        let alternatives: Vec<String> = protection
            .alternatives
            .iter()
            .map(|scopes| scopes.join(" and "))
            .collect();
        alternatives.join(" or ")
    }
}

/// The table as aligned text, with a header line.
pub fn render(table: &[RouteAccess]) -> String {
    let rows: Vec<[String; 4]> =
        std::iter::once(["method", "path", "handler", "access"].map(String::from))
            .chain(table.iter().map(|r| {
                [
                    r.method.to_owned(),
                    r.path.clone(),
                    r.handler.clone(),
                    r.access(),
                ]
            }))
            .collect();
    let width = |column: usize| rows.iter().map(|row| row[column].len()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut text = String::new();
    for [method, path, handler, access] in &rows {
        text.push_str(&format!(
            "{method:<w0$}  {path:<w1$}  {handler:<w2$}  {access}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        ));
    }
    text
}

/// Every operation of `doc` with the protection its security requirements state, plus
/// `GET /openapi.json`, which serves the document itself.
pub fn table(doc: &OpenApi) -> Vec<RouteAccess> {
    let mut table = Vec::new();
    for (path, item) in &doc.paths.paths {
        let operations = [
            (HttpMethod::Get, &item.get),
            (HttpMethod::Put, &item.put),
            (HttpMethod::Post, &item.post),
            (HttpMethod::Delete, &item.delete),
            (HttpMethod::Options, &item.options),
            (HttpMethod::Head, &item.head),
            (HttpMethod::Patch, &item.patch),
            (HttpMethod::Trace, &item.trace),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            table.push(RouteAccess {
                method: method_name(method),
                path: path.clone(),
                handler: operation.operation_id.clone().unwrap_or_default(),
                protection: Protection::of(operation),
            });
        }
    }
    table.push(RouteAccess {
        method: "GET",
        path: "/openapi.json".to_owned(),
        handler: "(document)".to_owned(),
        protection: None,
    });
    table
}

fn method_name(method: HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Put => "PUT",
        HttpMethod::Post => "POST",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Head => "HEAD",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Trace => "TRACE",
    }
}
