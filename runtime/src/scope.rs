//! Scope names, wildcard grants and requirements.
//!
//! The grammar is defined once, in `keygate-grammar`, and applied alike by the attribute at compile
//! time, by this crate and by the command line. A scope is non-empty and uses letters, digits and
//! `:._-` only. A *granted* scope may also be `*` (every scope) or end in `:*`: `items:*` covers
//! `items:read` and `items:write` but not `itemsecret:read`; wildcards cover whole segments.

pub use crate::declared::DeclaredScope;
pub use keygate_grammar::{
    grant_includes, grant_problem, is_valid_grant, is_valid_scope, is_wildcard_grant, scope_problem,
};

pub(crate) use keygate_grammar::grant_covers;

/// Whether any of `granted` covers `required`.
pub(crate) fn granted_covers(granted: &[String], required: &str) -> bool {
    granted.iter().any(|grant| grant_covers(grant, required))
}

/// How a handler's required scopes combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMatch {
    /// The key must hold every required scope (`scopes = [...]`).
    All,
    /// The key must hold at least one required scope (`any_scopes = [...]`).
    Any,
}

/// What a handler requires of a key's scopes.
///
/// ```
/// use keygate::scope::{Requirement, ScopeMatch};
///
/// let read = Requirement::all(&["items:read"]);
/// assert!(read.is_met_by(&["items:*".to_owned()]));
/// assert!(!read.is_met_by(&["items:write".to_owned()]));
/// let either = Requirement::any(&["admin", "items:write"]);
/// assert_eq!(either.mode, ScopeMatch::Any);
/// assert!(either.is_met_by(&["items:write".to_owned()]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement<'a> {
    /// The scopes named by the handler.
    pub scopes: &'a [&'a str],
    /// Whether all or any of them are needed.
    pub mode: ScopeMatch,
}

impl<'a> Requirement<'a> {
    /// No scope required: any valid key is admitted.
    pub const NONE: Requirement<'static> = Requirement {
        scopes: &[],
        mode: ScopeMatch::All,
    };

    /// Every scope in `scopes` is required.
    pub const fn all(scopes: &'a [&'a str]) -> Self {
        Requirement {
            scopes,
            mode: ScopeMatch::All,
        }
    }

    /// At least one scope in `scopes` is required.
    pub const fn any(scopes: &'a [&'a str]) -> Self {
        Requirement {
            scopes,
            mode: ScopeMatch::Any,
        }
    }

    /// Whether a key granted `granted` meets this requirement.
    pub fn is_met_by(&self, granted: &[String]) -> bool {
        match self.mode {
            ScopeMatch::All => self.scopes.iter().all(|s| granted_covers(granted, s)),
            ScopeMatch::Any => {
                self.scopes.is_empty() || self.scopes.iter().any(|s| granted_covers(granted, s))
            }
        }
    }
}

/// The scopes a protected handler requires, carried in the type of the guard that
/// `#[require_api_key]` injects, so they can be read back without running the handler.
///
/// The attribute implements this trait for a generated marker type; implement it by hand only to
/// use [`Guard`](crate::extract::Guard) without the attribute.
///
/// ```
/// use keygate::scope::{ScopeMatch, ScopeRequirement};
///
/// struct ReadItems;
/// impl ScopeRequirement for ReadItems {
///     const SCOPES: &'static [&'static str] = &["items:read"];
///     const MODE: ScopeMatch = ScopeMatch::All;
/// }
/// assert_eq!(ReadItems::requirement().scopes, ["items:read"]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not describe required scopes",
    note = "use `#[keygate::require_api_key(scopes = \"...\")]` on the handler instead of naming the guard by hand"
)]
pub trait ScopeRequirement: Send + Sync + 'static {
    /// The required scopes; empty means any valid key.
    const SCOPES: &'static [&'static str];
    /// Whether all or any of [`SCOPES`](Self::SCOPES) are needed.
    const MODE: ScopeMatch;

    /// The requirement as a value.
    fn requirement() -> Requirement<'static> {
        Requirement {
            scopes: Self::SCOPES,
            mode: Self::MODE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn all_and_any() {
        let granted = owned(&["items:read", "billing:*"]);
        assert!(Requirement::all(&["items:read", "billing:view"]).is_met_by(&granted));
        assert!(!Requirement::all(&["items:read", "items:write"]).is_met_by(&granted));
        assert!(Requirement::any(&["admin", "items:read"]).is_met_by(&granted));
        assert!(!Requirement::any(&["admin", "items:write"]).is_met_by(&granted));
        assert!(Requirement::NONE.is_met_by(&[]));
    }
}
