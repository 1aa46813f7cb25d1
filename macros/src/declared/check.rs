//! Checking a handler's scopes against the declaration, with a suggestion for a near miss.

use syn::LitStr;

use super::manifest::Scope;
use super::{Declared, Malformed, TABLE};
use crate::errors::Errors;
use crate::suggest::closest;

impl Declared {
    /// Reports every scope in `list` that the declaration does not hold, on its literal.
    pub(crate) fn check(&self, list: &[LitStr], errors: &mut Errors) {
        let declared = match self.scopes() {
            Ok(Some(declared)) => declared,
            Ok(None) => return,
            Err(Malformed(Some(error))) => return errors.add(error),
            // Reported at an earlier expansion.
            Err(Malformed(None)) => return,
        };
        for lit in list {
            let scope = lit.value();
            if declared.iter().any(|d| d.name == scope) {
                continue;
            }
            errors.push(lit.span(), self.undeclared(&scope, declared));
        }
    }

    fn undeclared(&self, scope: &str, declared: &[Scope]) -> String {
        let file = &self.shown;
        let names = declared.iter().map(|d| d.name.as_str());
        if let Some(close) = closest(scope, names.clone()) {
            return format!("scope `{scope}` is not declared in `{file}`; did you mean `{close}`?");
        }
        let names: Vec<&str> = names.collect();
        let listed = if names.is_empty() {
            "it declares no scope".to_owned()
        } else {
            format!("the declared scopes are `{}`", names.join("`, `"))
        };
        format!(
            "scope `{scope}` is not declared in `{file}` ({listed}); declare it under `{TABLE}` with a one-line description"
        )
    }
}
