//! Parsing: the attribute's arguments and the item it is on, as written, before any checking.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Item, ItemFn, LitStr, Token, TraitItemFn, Type};

use crate::args::{Argument, Mode};
use crate::errors::Errors;
use crate::suggest::closest;

/// The arguments as written, their values not yet checked.
#[derive(Default)]
pub(crate) struct Arguments {
    /// How the scopes combine, and the string or list given for them.
    pub(crate) scopes: Option<(Mode, Expr)>,
    /// The router state's type, from `state = …`.
    pub(crate) state: Option<Type>,
}

/// Parses the arguments, reporting every mistake in `errors`. A syntax error ends the parse, but
/// the arguments read before it are kept, so their own mistakes are reported too.
pub(crate) fn arguments(tokens: TokenStream, errors: &mut Errors) -> Arguments {
    let mut arguments = Arguments::default();
    let parser = |input: ParseStream<'_>| {
        if let Err(error) = parse_into(input, &mut arguments, errors) {
            errors.add(error);
            // The syntax error says what is wrong; what follows it cannot be read reliably.
            input.parse::<TokenStream>()?;
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.add(error);
    }
    arguments
}

fn parse_into(
    input: ParseStream<'_>,
    arguments: &mut Arguments,
    errors: &mut Errors,
) -> syn::Result<()> {
    while !input.is_empty() {
        let key = parse_key(input, arguments.scopes.is_some())?;
        let name = key.to_string();
        let argument = Argument::named(&name);
        if let Some(argument) = argument
            && (input.is_empty() || input.peek(Token![,]))
        {
            return Err(syn::Error::new(
                key.span(),
                format!("`{name}` needs a value, like {}", argument.example()),
            ));
        }
        if argument.is_some() || input.peek(Token![=]) {
            input
                .parse::<Token![=]>()
                .map_err(|e| syn::Error::new(e.span(), format!("expected `=` after `{name}`")))?;
        }
        match argument {
            Some(Argument::Scopes(mode)) => {
                let value: Expr = input.parse()?;
                match &arguments.scopes {
                    Some((previous, _)) if *previous == mode => {
                        errors.push(key.span(), format!("`{name}` is specified more than once"));
                    }
                    Some((previous, _)) => errors.push(
                        key.span(),
                        format!(
                            "`{name}` cannot be combined with `{}`: use `{}` when every scope is needed, `{}` when one is enough",
                            Argument::Scopes(*previous).name(),
                            Argument::Scopes(Mode::All).name(),
                            Argument::Scopes(Mode::Any).name(),
                        ),
                    ),
                    None => arguments.scopes = Some((mode, value)),
                }
            }
            Some(Argument::State) => {
                let ty: Type = input.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        format!(
                            "`{name}` takes the router state's type, like {}",
                            Argument::State.example()
                        ),
                    )
                })?;
                if arguments.state.is_some() {
                    errors.push(key.span(), format!("`{name}` is specified more than once"));
                } else {
                    arguments.state = Some(ty);
                }
            }
            None => {
                let names = Argument::ALL.map(Argument::name);
                let hint = closest(&name, names)
                    .map(|close| format!(" (did you mean `{close}`?)"))
                    .unwrap_or_default();
                errors.push(
                    key.span(),
                    format!("unknown argument `{name}`{hint}; {}", Argument::expected()),
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
    let all = Argument::Scopes(Mode::All);
    let any = Argument::Scopes(Mode::Any);
    let unnamed = input.peek(LitStr) || input.peek(syn::token::Bracket);
    let message = match (unnamed, after_scopes) {
        (true, true) => format!(
            "several scopes go in one list: `{} = [\"items:read\", \"items:write\"]`",
            all.name()
        ),
        (true, false) => format!(
            "name the scopes: {} when every scope listed is needed, {} when one is enough",
            all.example(),
            any.example()
        ),
        (false, _) => format!("{}, like {}", Argument::expected(), all.example()),
    };
    // Point at the whole misplaced value, not only its first token.
    let value: Expr = input
        .fork()
        .parse()
        .map_err(|e| syn::Error::new(e.span(), &message))?;
    Err(syn::Error::new_spanned(value, message))
}

/// The handler the attribute is on, or an error naming what it is on instead.
pub(crate) fn handler(item: &TokenStream) -> syn::Result<ItemFn> {
    syn::parse2(item.clone()).map_err(|_| not_a_function(item))
}

fn not_a_function(item: &TokenStream) -> syn::Error {
    const FN: &str = "`#[require_api_key]` goes on an `async fn` axum handler";
    let (span, what) = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(s)) => (s.struct_token.span, "a struct"),
        Ok(Item::Enum(e)) => (e.enum_token.span, "an enum"),
        Ok(Item::Impl(i)) => (
            i.impl_token.span,
            "an impl block; put it on each handler function instead",
        ),
        Ok(Item::Trait(t)) => (t.trait_token.span, "a trait"),
        Ok(Item::Mod(m)) => (
            m.mod_token.span,
            "a module; put it on each handler function instead",
        ),
        // A fn without a body (a trait method, say) is verbatim to syn, or not an item at all.
        Ok(Item::Verbatim(_)) | Err(_) => match syn::parse2::<TraitItemFn>(item.clone()) {
            Ok(method) => (
                method.sig.fn_token.span,
                "a function without a body (a trait method?); handlers are free `async fn`s with a body",
            ),
            Err(_) => (Span::call_site(), "this item"),
        },
        Ok(other) => (other.span(), "this item"),
    };
    syn::Error::new(span, format!("{FN}, not on {what}"))
}

/// Whether `attr` is `#[name]` or `#[path::to::name]`, with or without arguments.
pub(crate) fn is_attribute(attr: &Attribute, name: &str) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}
