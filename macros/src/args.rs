//! Parsing and validating the attribute's arguments.

use keygate_grammar::scope_problem;
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Ident, Lit, LitStr, Token, Type};

/// How the listed scopes combine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    All,
    Any,
}

impl Mode {
    fn keyword(self) -> &'static str {
        match self {
            Mode::All => "scopes",
            Mode::Any => "any_scopes",
        }
    }
}

/// The validated scope list.
pub(crate) struct Scopes {
    pub(crate) mode: Mode,
    pub(crate) list: Vec<LitStr>,
}

/// The attribute's arguments, after validation.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) scopes: Option<Scopes>,
    pub(crate) state: Option<Type>,
}

const EXPECTED: &str = "expected `scopes`, `any_scopes` or `state`";

/// Collects errors so the user sees every mistake in one build, not one per build.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }

    pub(crate) fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors = Errors::default();
        // A syntax error stops the parse, but the mistakes found before it are still reported.
        if let Err(error) = parse_into(input, &mut args, &mut errors) {
            errors.add(error);
        }
        errors.finish()?;
        Ok(args)
    }
}

fn parse_into(input: ParseStream<'_>, args: &mut Args, errors: &mut Errors) -> syn::Result<()> {
    let mut scopes_key: Option<Mode> = None;
    let mut state_seen = false;
    while !input.is_empty() {
        let key = parse_key(input, scopes_key.is_some())?;
        let name = key.to_string();
        let known = matches!(name.as_str(), "scopes" | "any_scopes" | "state");
        if known && (input.is_empty() || input.peek(Token![,])) {
            return Err(syn::Error::new(
                key.span(),
                format!("`{name}` needs a value, like {}", example(&name)),
            ));
        }
        if known || input.peek(Token![=]) {
            input
                .parse::<Token![=]>()
                .map_err(|e| syn::Error::new(e.span(), format!("expected `=` after `{name}`")))?;
        }
        match name.as_str() {
            "scopes" | "any_scopes" => {
                let mode = if name == "scopes" {
                    Mode::All
                } else {
                    Mode::Any
                };
                let value: Expr = input.parse()?;
                match scopes_key {
                    Some(previous) if previous == mode => {
                        errors.push(key.span(), format!("`{name}` is specified more than once"));
                    }
                    Some(previous) => errors.push(
                        key.span(),
                        format!(
                            "`{name}` cannot be combined with `{}`: use `scopes` when every scope is needed, `any_scopes` when one is enough",
                            previous.keyword()
                        ),
                    ),
                    None => {
                        scopes_key = Some(mode);
                        if let Some(list) = scope_list(&name, &value, errors) {
                            args.scopes = Some(Scopes { mode, list });
                        }
                    }
                }
            }
            "state" => {
                let ty: Type = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`state` takes the router state's type, like `state = AppState`",
                    )
                })?;
                if state_seen {
                    errors.push(key.span(), "`state` is specified more than once");
                } else {
                    state_seen = true;
                    args.state = Some(ty);
                }
            }
            _ => {
                let hint = match name.as_str() {
                    "scope" | "scope_list" | "all_scopes" | "all" => " (did you mean `scopes`?)",
                    "any_scope" | "any" | "one_of" => " (did you mean `any_scopes`?)",
                    _ => "",
                };
                errors.push(
                    key.span(),
                    format!("unknown argument `{name}`{hint}; {EXPECTED}"),
                );
                // Skip the value, if any, so later arguments are still checked.
                if !(input.is_empty() || input.peek(Token![,])) {
                    let _: Expr = input.parse()?;
                }
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// An argument's name, or an error saying what goes there.
fn parse_key(input: ParseStream<'_>, after_scopes: bool) -> syn::Result<Ident> {
    if input.peek(Ident) {
        return input.parse();
    }
    let unnamed = input.peek(LitStr) || input.peek(syn::token::Bracket);
    let message = match (unnamed, after_scopes) {
        (true, true) => {
            "several scopes go in one list: `scopes = [\"items:read\", \"items:write\"]`".to_owned()
        }
        (true, false) => "name the scopes: `scopes = \"items:read\"` when every scope listed is needed, `any_scopes = [\"admin\", \"items:read\"]` when one is enough".to_owned(),
        (false, _) => format!("{EXPECTED}, like `scopes = \"items:read\"`"),
    };
    // Point at the whole misplaced value, not only its first token.
    let value: Expr = input
        .fork()
        .parse()
        .map_err(|e| syn::Error::new(e.span(), &message))?;
    Err(syn::Error::new_spanned(value, message))
}

fn example(name: &str) -> &'static str {
    match name {
        "state" => "`state = AppState`",
        "any_scopes" => "`any_scopes = [\"admin\", \"items:read\"]`",
        _ => "`scopes = \"items:read\"`",
    }
}

/// Reads `"a"` or `["a", "b"]`, reporting every problem.
fn scope_list(name: &str, value: &Expr, errors: &mut Errors) -> Option<Vec<LitStr>> {
    let literals: Vec<&Expr> = match value {
        Expr::Array(ExprArray { elems, .. }) => {
            if elems.is_empty() {
                errors.push(
                    value.span(),
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
            errors.add(not_a_string(name, expr));
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

/// The error for a scope written as something other than a string literal.
fn not_a_string(name: &str, expr: &Expr) -> syn::Error {
    let message = match expr {
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
    };
    syn::Error::new_spanned(expr, message)
}
