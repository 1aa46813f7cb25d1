//! The router state: found in the handler's arguments, named with `state = T` or by a
//! `#[debug_handler(state = T)]` below the attribute, checked at the handler, and named for a
//! bare `#[debug_handler]`.

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, GenericArgument, Ident, Meta, PathArguments, Signature, Token, Type};

use crate::errors::Errors;
use crate::parse::is_attribute;

/// The router state type, where it is known and the handler is not generic: `state = T` first,
/// then `#[debug_handler(state = T)]`, then a `State<T>` argument.
pub(crate) fn known(named: Option<&Type>, attrs: &[Attribute], sig: &Signature) -> Option<Type> {
    if !sig.generics.params.is_empty() {
        return None;
    }
    named
        .cloned()
        .or_else(|| attrs.iter().find_map(debug_handler_state))
        .or_else(|| state_argument(sig).cloned())
}

/// A check, placed on the state type, that the router state gives keygate its `KeyGate`: the
/// error then names keygate at the handler instead of axum's "Handler is not implemented" at
/// `.route()`.
pub(crate) fn check(state: &Type) -> TokenStream {
    quote_spanned! {state.span()=>
        ::keygate::__private::require_api_key_needs_a_KeyGate_in_the_router_state::<#state>();
    }
}

/// A bare `#[debug_handler]` below this attribute checks every argument of the rewritten handler,
/// the guard included, against the router state it is told or finds in a `State<T>` argument,
/// else against `()`, which can never hold a `KeyGate`. Without a known state, axum would say the
/// guard's tuple is "not a valid axum extractor"; say what to write instead.
pub(crate) fn check_debug_handler(
    attrs: &[Attribute],
    sig: &Signature,
    state: Option<&Type>,
    errors: &mut Errors,
) {
    // A generic handler is refused by `#[debug_handler]` itself, in its own words.
    if state.is_some() || !sig.generics.params.is_empty() {
        return;
    }
    for attr in attrs.iter().filter(|attr| is_bare_debug_handler(attr)) {
        errors.spanned(
            attr,
            "`#[debug_handler]` below `#[require_api_key]` checks the handler against the router state, and this handler does not show it; name the router state: `#[require_api_key(state = AppState)]`",
        );
    }
}

/// A bare `#[debug_handler]` below this attribute sees the rewritten signature, where a first
/// `State<T>` argument sits inside the guard's tuple and is no longer found, so it would check the
/// handler against the state `()`. Name the state for it: the one it would have found, or the one
/// given as `state = T`.
pub(crate) fn name_for_debug_handler(attrs: &mut [Attribute], state: &Type) {
    for attr in attrs {
        if is_bare_debug_handler(attr) {
            let path = attr.path().clone();
            attr.meta = syn::parse_quote!(#path(state = #state));
        }
    }
}

/// Drops the bare `#[debug_handler]`s from a handler left unrewritten beside keygate's errors
/// when no state is known: the error already says to name it, and axum would say it again in
/// its own words.
pub(crate) fn drop_unnamed_debug_handler(attrs: &mut Vec<Attribute>, sig: &Signature) {
    if known(None, attrs, sig).is_none() {
        attrs.retain(|attr| !is_bare_debug_handler(attr));
    }
}

fn is_bare_debug_handler(attr: &Attribute) -> bool {
    let bare = match &attr.meta {
        Meta::Path(_) => true,
        Meta::List(list) => list.tokens.is_empty(),
        Meta::NameValue(_) => false,
    };
    bare && is_attribute(attr, "debug_handler")
}

/// `T` of `#[debug_handler(state = T)]`.
fn debug_handler_state(attr: &Attribute) -> Option<Type> {
    if !is_attribute(attr, "debug_handler") {
        return None;
    }
    let Meta::List(list) = &attr.meta else {
        return None;
    };
    let parser = |input: ParseStream<'_>| {
        let mut state = None;
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let ty: Type = input.parse()?;
            if key == "state" {
                state = Some(ty);
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(state)
    };
    // Arguments this cannot read are axum's to report.
    parser.parse2(list.tokens.clone()).ok().flatten()
}

/// `T` of a `State<T>` argument.
fn state_argument(sig: &Signature) -> Option<&Type> {
    sig.inputs.iter().find_map(|arg| {
        let FnArg::Typed(arg) = arg else { return None };
        let Type::Path(path) = &*arg.ty else {
            return None;
        };
        let last = path.path.segments.last()?;
        if last.ident != "State" {
            return None;
        }
        let PathArguments::AngleBracketed(generic) = &last.arguments else {
            return None;
        };
        match generic.args.first()? {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }
    })
}
