//! Rewriting the handler.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, GenericArgument, Item, ItemFn, Meta, PathArguments, Signature, Type};

use crate::args::{Args, Errors, Mode};
use crate::declared::Declared;

/// The most arguments an axum handler may take.
const MAX_HANDLER_ARGS: usize = 16;

pub(crate) fn require_api_key(
    args: TokenStream,
    item: TokenStream,
    declared: &Declared,
) -> TokenStream {
    let mut errors = Errors::default();
    let args = match syn::parse2::<Args>(args) {
        Ok(args) => Some(args),
        Err(error) => {
            errors.add(error);
            None
        }
    };
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            errors.add(not_a_function(&item));
            return with_errors(item, errors);
        }
    };
    check_signature(&function, &mut errors);
    if let Some(scopes) = args.as_ref().and_then(|args| args.scopes.as_ref()) {
        declared.check(&scopes.list, &mut errors);
    }
    match (args, errors.finish()) {
        (Some(args), Ok(())) => {
            let mut expanded = rewrite(args, function);
            // Only here: a failed build is redone anyway, and where the errors say the attribute
            // is misplaced (an impl, a trait) these `const _` items would be errors of their own.
            expanded.extend(declared.tracking());
            expanded
        }
        (_, Err(error)) => {
            let mut errors = Errors::default();
            errors.add(error);
            with_errors(item, errors)
        }
        (None, Ok(())) => item,
    }
}

/// The user's item unchanged, plus the errors: the rest of the crate (and the IDE) keep working.
fn with_errors(item: TokenStream, errors: Errors) -> TokenStream {
    let compile_errors = errors.finish().err().map(|e| e.to_compile_error());
    quote! { #item #compile_errors }
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
        Ok(Item::Verbatim(_)) | Err(_) => match syn::parse2::<syn::TraitItemFn>(item.clone()) {
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

fn check_signature(function: &ItemFn, errors: &mut Errors) {
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
        errors.add(syn::Error::new_spanned(
            receiver,
            "`#[require_api_key]` handlers cannot take `self`; axum handlers are free functions (take shared data with `State`)",
        ));
    }
    if sig.inputs.len() > MAX_HANDLER_ARGS {
        let message = format!(
            "axum handlers take at most {MAX_HANDLER_ARGS} arguments and this one has {}; group extractors into a tuple or a struct",
            sig.inputs.len()
        );
        // Point at the first argument over the limit.
        errors.add(match sig.inputs.iter().nth(MAX_HANDLER_ARGS) {
            Some(extra) => syn::Error::new_spanned(extra, message),
            None => syn::Error::new(sig.ident.span(), message),
        });
    }
    for attr in &function.attrs {
        if attr
            .path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "require_api_key")
        {
            errors.add(syn::Error::new_spanned(
                attr,
                "`#[require_api_key]` is applied more than once; list all the scopes in one attribute",
            ));
        }
    }
}

fn rewrite(args: Args, function: ItemFn) -> TokenStream {
    let ItemFn {
        mut attrs,
        vis,
        mut sig,
        block,
    } = function;
    let marker = format_ident!("__keygate_scopes_{}", sig.ident);
    let (scopes, mode) = match &args.scopes {
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
    let state = known_state(&args, &sig).cloned();
    let state_check = state.as_ref().map(state_check);
    if let Some(state) = &state {
        name_state_for_debug_handler(&mut attrs, state);
    }
    let registration = crate::audit::registration(&marker, &sig.ident);
    inject_guard(&mut sig, &marker);
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker;

        impl ::keygate::__private::ScopeRequirement for #marker {
            const SCOPES: &'static [&'static ::core::primitive::str] = &[#scopes];
            const MODE: ::keygate::__private::ScopeMatch = ::keygate::__private::ScopeMatch::#mode;
        }

        #registration

        #state_check

        #(#attrs)*
        #vis #sig #block
    }
}

/// Puts the guard first. With arguments, it is folded into the first one as a tuple, so the
/// argument count stays as written (`#[debug_handler]` above this attribute calls the handler
/// with that count, and axum allows at most 16).
fn inject_guard(sig: &mut Signature, marker: &syn::Ident) {
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

/// The router state type, where it is known and the handler is not generic.
fn known_state<'a>(args: &'a Args, sig: &'a Signature) -> Option<&'a Type> {
    if !sig.generics.params.is_empty() {
        return None;
    }
    args.state.as_ref().or_else(|| state_argument(sig))
}

/// A check, placed on the state type, that the router state gives keygate its `KeyGate`: the
/// error then names keygate at the handler instead of axum's "Handler is not implemented" at
/// `.route()`.
fn state_check(state: &Type) -> TokenStream {
    quote_spanned! {state.span()=>
        const _: () = ::keygate::__private::require_api_key_needs_a_KeyGate_in_the_router_state::<#state>();
    }
}

/// A bare `#[debug_handler]` below this attribute sees the rewritten signature, where a first
/// `State<T>` argument sits inside the guard's tuple and is no longer found, so it would check the
/// handler against the state `()`. Name the state for it: the one it would have found, or the one
/// given as `state = T`.
fn name_state_for_debug_handler(attrs: &mut [Attribute], state: &Type) {
    for attr in attrs {
        let is_debug_handler = attr
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "debug_handler");
        let bare = match &attr.meta {
            Meta::Path(_) => true,
            Meta::List(list) => list.tokens.is_empty(),
            Meta::NameValue(_) => false,
        };
        if is_debug_handler && bare {
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
