//! Which handlers are protected: every use of `#[require_api_key]` registers itself, so a
//! service can print or test its own access table.

use crate::scope::{Requirement, ScopeMatch};

/// A handler that `#[require_api_key]` was applied to, as registered by the attribute.
///
/// See [`protected_handlers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtectedHandler {
    /// The handler function's name, such as `list_items`. utoipa uses the same name as the
    /// default `operationId`.
    pub name: &'static str,
    /// The module the handler is defined in (`module_path!()`), such as `my_service::items`.
    pub module_path: &'static str,
    /// The scopes the handler requires; empty means any valid key.
    pub scopes: &'static [&'static str],
    /// Whether all or any of [`scopes`](Self::scopes) are needed.
    pub mode: ScopeMatch,
}

impl ProtectedHandler {
    /// The handler's requirement as a value.
    pub fn requirement(&self) -> Requirement<'static> {
        Requirement {
            scopes: self.scopes,
            mode: self.mode,
        }
    }

    /// `module::path::name`.
    pub fn qualified_name(&self) -> String {
        format!("{}::{}", self.module_path, self.name)
    }
}

inventory::collect!(ProtectedHandler);

/// Every handler in this program that `#[require_api_key]` was applied to, sorted by module
/// path and name: handlers linked into the binary from any crate register themselves.
///
/// It lists handlers, not routes: which path serves which handler is the router's business. Join
/// it against your route table (or your OpenAPI document's operations) to get an access table.
///
/// ```
/// use keygate::{require_api_key};
/// use keygate::audit::protected_handlers;
/// use keygate::scope::ScopeMatch;
///
/// #[require_api_key(any_scopes = ["admin", "items:write"])]
/// async fn delete_item() {}
///
/// let handler = protected_handlers()
///     .into_iter()
///     .find(|h| h.name == "delete_item")
///     .unwrap();
/// assert_eq!(handler.scopes, ["admin", "items:write"]);
/// assert_eq!(handler.mode, ScopeMatch::Any);
/// ```
pub fn protected_handlers() -> Vec<&'static ProtectedHandler> {
    let mut all: Vec<&'static ProtectedHandler> =
        inventory::iter::<ProtectedHandler>.into_iter().collect();
    all.sort_by_key(|h| (h.module_path, h.name));
    // `#[axum::debug_handler]` written above the attribute copies the handler, attribute and
    // all, into a check function, so the same handler can register twice.
    all.dedup();
    all
}
