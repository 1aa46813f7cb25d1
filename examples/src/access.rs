//! The access table: every documented route, and what it takes to call it.

use keygate::audit::{ProtectedHandler, protected_handlers};
use keygate::scope::ScopeMatch;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

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
    /// The handler's protection, `None` when it has no `#[require_api_key]`.
    pub protection: Option<&'static ProtectedHandler>,
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
        match self.protection {
            None => "public".to_owned(),
            Some(h) if h.scopes.is_empty() => "any valid key".to_owned(),
            Some(h) => {
                let joiner = match h.mode {
                    ScopeMatch::All => " and ",
                    ScopeMatch::Any => " or ",
                };
                h.scopes.join(joiner)
            }
        }
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

/// Every operation of `doc`, joined by handler name with the handlers `#[require_api_key]`
/// registered in this crate, plus `GET /openapi.json`, which serves the document itself.
pub fn table(doc: &OpenApi) -> Vec<RouteAccess> {
    const CRATE: &str = env!("CARGO_CRATE_NAME");
    let mine: Vec<&'static ProtectedHandler> = protected_handlers()
        .into_iter()
        .filter(|h| h.module_path.split("::").next() == Some(CRATE))
        .collect();
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
            let handler = operation.operation_id.clone().unwrap_or_default();
            table.push(RouteAccess {
                method: method_name(method),
                path: path.clone(),
                protection: mine.iter().copied().find(|h| h.name == handler),
                handler,
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
