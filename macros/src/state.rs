//! The router state: found in the handler's arguments or named with `state = T`, checked at the
//! handler, and named for `#[debug_handler]`.

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, GenericArgument, Meta, PathArguments, Signature, Type};

use crate::parse::is_attribute;

/// The router state type, where it is known and the handler is not generic.
pub(crate) fn known<'a>(named: Option<&'a Type>, sig: &'a Signature) -> Option<&'a Type> {
    if !sig.generics.params.is_empty() {
        return None;
    }
    named.or_else(|| state_argument(sig))
}

/// A check, placed on the state type, that the router state gives keygate its `KeyGate`: the
/// error then names keygate at the handler instead of axum's "Handler is not implemented" at
/// `.route()`.
pub(crate) fn check(state: &Type) -> TokenStream {
    quote_spanned! {state.span()=>
        ::keygate::__private::require_api_key_needs_a_KeyGate_in_the_router_state::<#state>();
    }
}

/// A bare `#[debug_handler]` below this attribute sees the rewritten signature, where a first
/// `State<T>` argument sits inside the guard's tuple and is no longer found, so it would check the
/// handler against the state `()`. Name the state for it: the one it would have found, or the one
/// given as `state = T`.
pub(crate) fn name_for_debug_handler(attrs: &mut [Attribute], state: &Type) {
    for attr in attrs {
        let bare = match &attr.meta {
            Meta::Path(_) => true,
            Meta::List(list) => list.tokens.is_empty(),
            Meta::NameValue(_) => false,
        };
        if bare && is_attribute(attr, "debug_handler") {
            let path = attr.path().clone();
            attr.meta = syn::parse_quote!(#path(state = #state));
        }
    }
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
