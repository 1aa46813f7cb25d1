//! Checking: the scopes against keygate's grammar, the function against what an axum handler is.

use keygate_grammar::scope_problem;
use quote::quote;
use syn::{Expr, ExprArray, ExprLit, ItemFn, Lit, LitStr, Signature, Type};

use crate::args::{Argument, Mode};
use crate::errors::Errors;
use crate::parse::{Arguments, is_attribute};
use crate::placement::{self, Placement};

/// The most arguments an axum handler may take.
const MAX_HANDLER_ARGS: usize = 16;

/// The scopes a handler requires, each a valid scope, none repeated.
pub(crate) struct Scopes {
    pub(crate) mode: Mode,
    pub(crate) list: Vec<LitStr>,
}

/// What the attribute asks for, checked.
pub(crate) struct Requirement {
    /// `None`: any valid key.
    pub(crate) scopes: Option<Scopes>,
    pub(crate) state: Option<Type>,
}

/// Checks the arguments' values, reporting every problem.
pub(crate) fn requirement(arguments: Arguments, errors: &mut Errors) -> Requirement {
    let scopes = arguments.scopes.and_then(|(mode, value)| {
        let list = scope_list(Argument::Scopes(mode).name(), &value, errors)?;
        Some(Scopes { mode, list })
    });
    Requirement {
        scopes,
        state: arguments.state,
    }
}

/// Reads `"a"` or `["a", "b"]`, reporting every problem.
fn scope_list(name: &str, value: &Expr, errors: &mut Errors) -> Option<Vec<LitStr>> {
    let literals: Vec<&Expr> = match value {
        Expr::Array(ExprArray { elems, .. }) => {
            if elems.is_empty() {
                errors.spanned(
                    value,
                    format!(
                        "`{name} = []` lists no scope; write `#[require_api_key]` to admit any valid key"
                    ),
                );
                return None;
            }
            elems.iter().collect()
        }
        _ => vec![value],
    };
    let mut list: Vec<LitStr> = Vec::new();
    let mut failed = false;
    for expr in literals {
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = expr
        else {
            errors.spanned(expr, not_a_string(name, expr));
            failed = true;
            continue;
        };
        let scope = lit.value();
        if let Some(problem) = scope_problem(&scope) {
            errors.push(lit.span(), problem);
            failed = true;
        } else if list.iter().any(|seen| seen.value() == scope) {
            errors.push(lit.span(), format!("scope `{scope}` is listed twice"));
            failed = true;
        } else {
            list.push(lit.clone());
        }
    }
    (!failed).then_some(list)
}

/// What to say of a scope written as something other than a string literal.
fn not_a_string(name: &str, expr: &Expr) -> String {
    match expr {
        // A bare word: most likely the scope itself, unquoted; or a constant, which a macro
        // cannot read.
        Expr::Path(path) => match path.path.get_ident() {
            Some(ident) => format!(
                "`{name}` takes string literals: write `{name} = \"{ident}\"` (a constant cannot be used: the attribute reads the scopes before constants exist)"
            ),
            None => format!(
                "`{name}` takes string literals, like `{name} = \"items:read\"` (a constant cannot be used: the attribute reads the scopes before constants exist)"
            ),
        },
        _ => format!(
            "`{name}` takes a string literal or a list of them, like `{name} = \"items:read\"` or `{name} = [\"items:read\", \"items:write\"]`"
        ),
    }
}

/// Checks that `function` can be an axum handler, reporting every problem.
pub(crate) fn handler(function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        errors.push(
            constness.span,
            "`#[require_api_key]` goes on an `async fn` axum handler, not a `const fn`; replace `const` with `async`",
        );
    } else if sig.asyncness.is_none() {
        errors.push(
            sig.fn_token.span,
            "`#[require_api_key]` goes on an `async fn` axum handler; add `async`",
        );
    }
    if let Some(receiver) = sig.receiver() {
        errors.spanned(
            receiver,
            "`#[require_api_key]` handlers cannot take `self`; axum handlers are free functions (take shared data with `State`)",
        );
    } else {
        in_impl_or_trait(function, errors);
    }
    if sig.inputs.len() > MAX_HANDLER_ARGS {
        let message = format!(
            "axum handlers take at most {MAX_HANDLER_ARGS} arguments and this one has {}; group extractors into a tuple or a struct",
            sig.inputs.len()
        );
        // Point at the first argument over the limit.
        match sig.inputs.iter().nth(MAX_HANDLER_ARGS) {
            Some(extra) => errors.spanned(extra, message),
            None => errors.push(sig.ident.span(), message),
        }
    }
    for attr in &function.attrs {
        if is_attribute(attr, "require_api_key") {
            errors.spanned(
                attr,
                "`#[require_api_key]` is applied more than once; list all the scopes in one attribute",
            );
        }
    }
}

/// Reports a handler in an `impl` block or a trait, where the items generated beside it (its
/// scope marker type, above all) cannot go; rustc would report those as errors naming keygate's
/// internals.
fn in_impl_or_trait(function: &ItemFn, errors: &mut Errors) {
    let (what, container) = match placement::of(function) {
        Some(Placement::Impl) => ("an associated function in an `impl` block", "impl"),
        Some(Placement::Trait) => ("a function in a trait", "trait"),
        Some(Placement::Free) | None => return,
    };
    let Signature {
        asyncness,
        fn_token,
        ident,
        ..
    } = &function.sig;
    errors.spanned(
        quote!(#asyncness #fn_token #ident),
        format!(
            "`#[require_api_key]` goes on a free `async fn` handler, not on {what}; move it out of the {container}, or call a free handler from it"
        ),
    );
}
