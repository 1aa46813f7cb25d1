//! Expansion: the phases in order, then the handler rewritten to take the guard, with the items
//! it needs beside it.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{FnArg, Ident, ItemFn, ReturnType, Signature, Token, Type, TypeParamBound};

use crate::args::Mode;
use crate::declared::Declared;
use crate::errors::{self, Errors};
use crate::validate::{self, Requirement};
use crate::{audit, parse, state};

/// `#[require_api_key(args)] item`: the rewritten handler, or the item untouched with every
/// mistake found.
pub(crate) fn require_api_key(
    args: TokenStream,
    item: TokenStream,
    declared: &Declared,
) -> TokenStream {
    match try_expand(args, &item, declared) {
        Ok(expanded) => expanded,
        Err(error) => errors::with_item(beside_errors(item), &error),
    }
}

/// The user's item as it goes beside keygate's errors: unchanged, except for what would make
/// axum repeat them in its own words. A sync handler is made `async` (keygate's error already
/// says to), so `.route()` does not add a `Handler` error; a bare `#[debug_handler]` that could
/// not be told the router state is dropped.
fn beside_errors(item: TokenStream) -> TokenStream {
    let Ok(mut function) = syn::parse2::<ItemFn>(item.clone()) else {
        return item;
    };
    let sig = &mut function.sig;
    if sig.asyncness.is_none() && !returns_future(&sig.output) {
        let span = sig
            .constness
            .map_or(sig.fn_token.span, |constness| constness.span);
        sig.constness = None;
        sig.asyncness = Some(Token![async](span));
    }
    state::drop_unnamed_debug_handler(&mut function.attrs, &function.sig);
    function.into_token_stream()
}

/// Whether a sync fn already returns a future (`impl Future<…>`), which axum takes as it is.
fn returns_future(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::ImplTrait(bounds) = &**ty else {
        return false;
    };
    bounds.bounds.iter().any(|bound| {
        matches!(bound, TypeParamBound::Trait(t)
            if t.path.segments.last().is_some_and(|s| s.ident == "Future"))
    })
}

fn try_expand(
    args: TokenStream,
    item: &TokenStream,
    declared: &Declared,
) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let arguments = parse::arguments(args, &mut errors);
    let requirement = validate::requirement(arguments, &mut errors);
    let function = match parse::handler(item) {
        Ok(function) => function,
        Err(error) => return Err(errors.ending_with(error)),
    };
    validate::handler(&function, &mut errors);
    let state = state::known(requirement.state.as_ref(), &function.attrs, &function.sig);
    state::check_debug_handler(&function.attrs, &function.sig, state.as_ref(), &mut errors);
    if let Some(scopes) = &requirement.scopes {
        declared.check(&scopes.list, &mut errors);
    }
    errors.finish()?;
    Ok(rewrite(&requirement, function, state, declared))
}

fn rewrite(
    requirement: &Requirement,
    function: ItemFn,
    state: Option<Type>,
    declared: &Declared,
) -> TokenStream {
    let ItemFn {
        mut attrs,
        vis,
        mut sig,
        block,
    } = function;
    let marker = format_ident!("__keygate_scopes_{}", sig.ident);
    let (scopes, mode) = match &requirement.scopes {
        Some(scopes) => {
            let list = &scopes.list;
            let mode = match scopes.mode {
                Mode::All => quote!(All),
                Mode::Any => quote!(Any),
            };
            (quote!(#(#list),*), mode)
        }
        None => (quote!(), quote!(All)),
    };
    let state_check = state.as_ref().map(state::check);
    if let Some(state) = &state {
        state::name_for_debug_handler(&mut attrs, state);
    }
    let registration = audit::registration(&marker, &sig.ident);
    let tracking = declared.tracking();
    inject_guard(&mut sig, &marker);
    // Only the marker is named beside the handler: its signature names it. The rest goes in one
    // unnamed const, so it adds no name to the user's module.
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;

        const _: () = {
            impl ::keygate::__private::ScopeRequirement for #marker {
                const SCOPES: &'static [&'static ::core::primitive::str] = &[#scopes];
                const MODE: ::keygate::__private::ScopeMatch = ::keygate::__private::ScopeMatch::#mode;
            }

            #registration

            #state_check

            #tracking
        };

        #(#attrs)*
        #vis #sig #block
    }
}

/// Puts the guard first. With arguments, it is folded into the first one as a tuple, so the
/// argument count stays as written (`#[debug_handler]` above this attribute calls the handler
/// with that count, and axum allows at most 16).
fn inject_guard(sig: &mut Signature, marker: &Ident) {
    let span = Span::mixed_site();
    let guard = quote_spanned!(span=> ::keygate::__private::Guard<#marker>);
    match sig.inputs.first_mut() {
        Some(FnArg::Typed(first)) => {
            let pat = &first.pat;
            let ty = &first.ty;
            *first.pat = syn::parse_quote_spanned!(span=> (_, #pat));
            *first.ty = syn::parse_quote_spanned!(span=> (#guard, #ty));
        }
        // Receivers were rejected before rewriting.
        Some(FnArg::Receiver(_)) => {}
        None => sig.inputs.push(syn::parse_quote_spanned!(span=> _: #guard)),
    }
}
